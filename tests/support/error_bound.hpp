// A float64 forward pass of the pre-norm LLaMA network LLaDA and Dream share (token embedding,
// RMSNorm, q/k/v (+ bias), rotate-half RoPE, bidirectional softmax attention with grouped kv
// heads, o, RMSNorm, SwiGLU, final RMSNorm, LM head; tools/reference/llada.py and dream.py
// compute the same), carrying with every value a rigorous bound on how far a perturbed
// computation can be from it. The perturbations are the ones a compute path introduces:
//   - weights W' = W + dW (quantized or rounded weights; |dW| elementwise, known exactly by
//     the caller as the stored values minus the reference ones);
//   - the GEMM's input x' rounded before the product: to bf16 (vdpbf16ps: |a| <= 2^-8 |x'|,
//     round to nearest with 8 significant bits) or to int8 per block of b inputs as llama.cpp's
//     Q8_0 / Q8_K activations (d = max|x'| / 127 over the block, |a| <= d / 2 up to the float
//     rounding of x * (1 / d): d (1/2 + 254 eps32) (1 + eps32)).
// Each operation maps input bounds to output bounds without linearising: products take
// |x| e_y + e_x |y| + e_x e_y, RMSNorm bounds the perturbed norm from below and above, softmax
// uses p'_j / p_j in [exp(-(d_j + D)), exp(d_j + D)] with D = max_j d_j, SiLU its Lipschitz
// constant 1.09985 (max |silu'|, attained near x = 2.40). The result bounds the perturbed logits
// computed exactly; the float32 rounding of an actual implementation comes on top (callers add
// the same allowance their f32 tests use).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

namespace ddiff::test {

// How the input of a GEMM is rounded before the product.
struct act_rounding {
    enum kind_t { none, bf16, int8_blocks } kind = none;
    std::size_t block = 0;  // int8_blocks: inputs per activation scale
};

// A [rows, cols] weight matrix in float64 with the elementwise bound |W' - W| (empty: exact).
struct f64_matrix {
    std::size_t rows = 0, cols = 0;
    std::vector<double> w, dw;
};

struct f64_layer {
    std::vector<double> attn_norm, ffn_norm;
    f64_matrix q, k, v, o, gate, up, down;
    std::vector<double> q_bias, k_bias, v_bias;  // empty: none (LLaDA)
};

struct f64_model {
    std::size_t d = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0, vocab = 0;
    double norm_eps = 1e-5, rope_theta = 10000.0;
    f64_matrix embedding;  // [vocab, d] with dw = |stored row - reference row|
    std::vector<f64_layer> layers;
    std::vector<double> out_norm;
    f64_matrix head;
    act_rounding rounding;  // how every projection's input is rounded (one compute path)
};

struct bounded_logits {
    std::vector<double> logits, bound;  // (T, vocab)
};

namespace error_bound_detail {

inline constexpr double eps32 = 0x1p-24 * 2;  // float32 epsilon, 2^-23
inline constexpr double silu_lipschitz = 1.09985;

// Bound on |a_k| for the rounded input of row x (bounds e) of n elements.
inline std::vector<double> rounding_bound(const act_rounding& r, const double* x, const double* e, std::size_t n) {
    std::vector<double> a(n, 0.0);
    if (r.kind == act_rounding::bf16) {
        for (std::size_t k = 0; k < n; ++k) a[k] = 0x1p-8 * (std::abs(x[k]) + e[k]);
    } else if (r.kind == act_rounding::int8_blocks) {
        for (std::size_t b0 = 0; b0 < n; b0 += r.block) {
            double amax = 0;
            for (std::size_t k = b0; k < std::min(n, b0 + r.block); ++k) amax = std::max(amax, std::abs(x[k]) + e[k]);
            const double half_step = amax / 127.0 * (1 + eps32) * (0.5 + 254 * eps32);
            for (std::size_t k = b0; k < std::min(n, b0 + r.block); ++k) a[k] = half_step;
        }
    }
    return a;
}

// y = x W^T (+ bias) for T rows; e_y from e_x, |dW| and the input rounding.
inline void linear(const f64_matrix& m, const std::vector<double>& bias, const act_rounding& r, std::size_t T,
                   const std::vector<double>& x, const std::vector<double>& ex, std::vector<double>& y,
                   std::vector<double>& ey) {
    const std::size_t N = m.rows, K = m.cols;
    y.assign(T * N, 0.0);
    ey.assign(T * N, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
        const double* xt = x.data() + t * K;
        const double* et = ex.data() + t * K;
        const auto a = rounding_bound(r, xt, et, K);
        for (std::size_t n = 0; n < N; ++n) {
            const double* w = m.w.data() + n * K;
            const double* dw = m.dw.empty() ? nullptr : m.dw.data() + n * K;
            double s = 0, b = 0;
            for (std::size_t k = 0; k < K; ++k) {
                s += w[k] * xt[k];
                // W'(x' + a) - W x = W'(x' - x) + (W' - W) x + W' a
                const double wmax = std::abs(w[k]) + (dw ? dw[k] : 0.0);
                b += wmax * (et[k] + a[k]) + (dw ? dw[k] * std::abs(xt[k]) : 0.0);
            }
            y[t * N + n] = s + (bias.empty() ? 0.0 : bias[n]);
            ey[t * N + n] = b;
        }
    }
}

inline void rms_norm(const std::vector<double>& g, double eps, std::size_t T, std::size_t D, const std::vector<double>& x,
                     const std::vector<double>& ex, std::vector<double>& y, std::vector<double>& ey) {
    y.assign(T * D, 0.0);
    ey.assign(T * D, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
        const double* xt = x.data() + t * D;
        const double* et = ex.data() + t * D;
        double ss = 0, lo = 0, hi = 0;
        for (std::size_t i = 0; i < D; ++i) {
            ss += xt[i] * xt[i];
            const double l = std::max(0.0, std::abs(xt[i]) - et[i]), h = std::abs(xt[i]) + et[i];
            lo += l * l;
            hi += h * h;
        }
        const double r = std::sqrt(ss / double(D) + eps), r_lo = std::sqrt(lo / double(D) + eps),
                     r_hi = std::sqrt(hi / double(D) + eps);
        const double dinv = std::max(1.0 / r_lo - 1.0 / r, 1.0 / r - 1.0 / r_hi);
        for (std::size_t i = 0; i < D; ++i) {
            y[t * D + i] = g[i] * xt[i] / r;
            ey[t * D + i] = std::abs(g[i]) * (et[i] / r_lo + std::abs(xt[i]) * dinv);
        }
    }
}

}  // namespace error_bound_detail

// Logits of ids (positions 0..T-1) and their bound.
inline bounded_logits forward_with_bound(const f64_model& m, std::span<const int> ids) {
    namespace E = error_bound_detail;
    const std::size_t T = ids.size(), D = m.d, H = m.heads, G = m.kv_heads, hd = m.head_dim, F = m.ffn, half = hd / 2;
    std::vector<double> x(T * D), ex(T * D, 0.0);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < D; ++i) {
            x[t * D + i] = m.embedding.w[std::size_t(ids[t]) * D + i];
            if (!m.embedding.dw.empty()) ex[t * D + i] = m.embedding.dw[std::size_t(ids[t]) * D + i];
        }
    std::vector<double> h, eh, q, eq, k, ek, v, ev, y, ey;
    const std::vector<double> no_bias;
    const double scale = 1.0 / std::sqrt(double(hd));
    for (const auto& L : m.layers) {
        E::rms_norm(L.attn_norm, m.norm_eps, T, D, x, ex, h, eh);
        E::linear(L.q, L.q_bias, m.rounding, T, h, eh, q, eq);
        E::linear(L.k, L.k_bias, m.rounding, T, h, eh, k, ek);
        E::linear(L.v, L.v_bias, m.rounding, T, h, eh, v, ev);
        // RoPE (rotate-half): (x_j, x_{j+half}) -> (x_j c - x_{j+half} s, x_{j+half} c + x_j s).
        auto rope = [&](std::vector<double>& z, std::vector<double>& ez, std::size_t heads) {
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t hh = 0; hh < heads; ++hh) {
                    double* p = z.data() + (t * heads + hh) * hd;
                    double* e = ez.data() + (t * heads + hh) * hd;
                    for (std::size_t j = 0; j < half; ++j) {
                        const double a = double(t) * std::pow(m.rope_theta, -2.0 * double(j) / double(hd));
                        const double c = std::cos(a), s = std::sin(a);
                        const double x0 = p[j], x1 = p[j + half], e0 = e[j], e1 = e[j + half];
                        p[j] = x0 * c - x1 * s;
                        p[j + half] = x1 * c + x0 * s;
                        e[j] = std::abs(c) * e0 + std::abs(s) * e1;
                        e[j + half] = std::abs(c) * e1 + std::abs(s) * e0;
                    }
                }
        };
        rope(q, eq, H);
        rope(k, ek, G);
        std::vector<double> o(T * H * hd, 0.0), eo(T * H * hd, 0.0), s(T), ds(T), p(T), dp(T);
        for (std::size_t hh = 0; hh < H; ++hh) {
            const std::size_t g = hh / (H / G);
            for (std::size_t t = 0; t < T; ++t) {
                const double* qt = q.data() + (t * H + hh) * hd;
                const double* eqt = eq.data() + (t * H + hh) * hd;
                double smax = -1e300, dmax = 0;
                for (std::size_t j = 0; j < T; ++j) {
                    const double* kj = k.data() + (j * G + g) * hd;
                    const double* ekj = ek.data() + (j * G + g) * hd;
                    double dot = 0, b = 0;
                    for (std::size_t i = 0; i < hd; ++i) {
                        dot += qt[i] * kj[i];
                        b += std::abs(qt[i]) * ekj[i] + eqt[i] * std::abs(kj[i]) + eqt[i] * ekj[i];
                    }
                    s[j] = dot * scale;
                    ds[j] = b * scale;
                    smax = std::max(smax, s[j]);
                    dmax = std::max(dmax, ds[j]);
                }
                double z = 0;
                for (std::size_t j = 0; j < T; ++j) z += (p[j] = std::exp(s[j] - smax));
                for (std::size_t j = 0; j < T; ++j) {
                    p[j] /= z;
                    dp[j] = std::min(1.0, p[j] * std::expm1(ds[j] + dmax));
                }
                double* ot = o.data() + (t * H + hh) * hd;
                double* eot = eo.data() + (t * H + hh) * hd;
                for (std::size_t j = 0; j < T; ++j) {
                    const double* vj = v.data() + (j * G + g) * hd;
                    const double* evj = ev.data() + (j * G + g) * hd;
                    for (std::size_t i = 0; i < hd; ++i) {
                        ot[i] += p[j] * vj[i];
                        eot[i] += dp[j] * (std::abs(vj[i]) + evj[i]) + p[j] * evj[i];
                    }
                }
            }
        }
        E::linear(L.o, no_bias, m.rounding, T, o, eo, y, ey);
        for (std::size_t i = 0; i < T * D; ++i) {
            x[i] += y[i];
            ex[i] += ey[i];
        }
        E::rms_norm(L.ffn_norm, m.norm_eps, T, D, x, ex, h, eh);
        std::vector<double> gt, egt, up, eup;
        E::linear(L.gate, no_bias, m.rounding, T, h, eh, gt, egt);
        E::linear(L.up, no_bias, m.rounding, T, h, eh, up, eup);
        std::vector<double> a(T * F), ea(T * F);
        for (std::size_t i = 0; i < T * F; ++i) {
            const double sg = gt[i] / (1.0 + std::exp(-gt[i]));
            a[i] = sg * up[i];
            ea[i] = E::silu_lipschitz * egt[i] * (std::abs(up[i]) + eup[i]) + std::abs(sg) * eup[i];
        }
        E::linear(L.down, no_bias, m.rounding, T, a, ea, y, ey);
        for (std::size_t i = 0; i < T * D; ++i) {
            x[i] += y[i];
            ex[i] += ey[i];
        }
    }
    E::rms_norm(m.out_norm, m.norm_eps, T, D, x, ex, h, eh);
    bounded_logits r;
    E::linear(m.head, no_bias, m.rounding, T, h, eh, r.logits, r.bound);
    return r;
}

}  // namespace ddiff::test
