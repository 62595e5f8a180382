// A float64 forward pass of the pre-norm LLaMA network LLaDA and Dream share (token embedding,
// RMSNorm, q/k/v (+ bias), rotate-half RoPE, bidirectional softmax attention with grouped kv
// heads, o, RMSNorm, SwiGLU, final RMSNorm, LM head; tools/reference/llada.py and dream.py
// compute the same), carrying with every value the scale of the error a compute path's rounding
// introduces, derived from the format's rounding alone:
//   - weights W' = W + dW (quantized or rounded weights; |dW| elementwise, known exactly by the
//     caller as the stored values minus the reference ones);
//   - the GEMM's input x' rounded before the product: to bf16 (vdpbf16ps: |a| <= 2^-8 |x'|,
//     round to nearest with 8 significant bits) or to int8 per block of b inputs as llama.cpp's
//     Q8_0 / Q8_K activations (d = max|x'| / 127 over the block, |a| <= d / 2 up to the float
//     rounding of x * (1 / d): d (1/2 + 254 eps32) (1 + eps32)).
// The error model is the statistical one of rounding-error analysis (Higham, Accuracy and
// Stability of Numerical Algorithms, 2nd ed., sec. 2.8): every rounding error is an independent
// zero-mean variable bounded by the bound above, and errors are carried to first order. A value's
// error scale s is the root sum of squares of the bounds of the independent errors it sums
// (a projection adds sum_k w'_k^2 (s_k^2 + a_k^2) + dW_k^2 x_k^2); two terms that come from the
// same errors add linearly (s_a + s_b bounds the spread of a + b for any correlation: residual
// adds, the two terms of RMSNorm's and softmax's derivatives, SwiGLU's product). Nonlinear maps
// use their derivative at the reference point: attention's do = sum_j p_j ds_j (v_j - o) + p_j dv_j
// (softmax dp_j = p_j (ds_j - sum_k p_k ds_k) mixed into the values),
// RMSNorm dy_i = g_i (dx_i / r - x_i sum_k x_k dx_k / (D r^3)), silu'(g). For a sum of
// independent zero-mean terms bounded by c_i, Hoeffding's inequality gives
// P(|S| >= z sqrt(sum c_i^2)) <= 2 exp(-z^2 / 2); `bound` is z = 7.5 times the scale, a
// probability of 1.3e-12 per logit, fixed here and not fitted to any measured error.
// (A worst-case version, with absolute values and no cancellation, was tried first: its bound
// exceeds the values themselves after one layer and is 1e43 at the logits of the 2-layer tiny
// LLaDA, so it tests nothing.) The float32 rounding of an actual implementation comes on top
// (callers add the allowance their f32 tests use).
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

// A [rows, cols] weight matrix in float64 with the elementwise |W' - W| (empty: exact).
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
    act_rounding rounding{};  // how every projection's input is rounded (one compute path)
};

struct bounded_logits {
    std::vector<double> logits, scale, bound;  // (T, vocab); bound = z * scale
};

inline constexpr double hoeffding_z = 7.5;  // 2 exp(-z^2 / 2) = 1.3e-12

namespace error_bound_detail {

inline constexpr double eps32 = 0x1p-23;  // float32 epsilon

// Bound on |a_k| for the rounded input of row x of n elements.
inline std::vector<double> rounding_bound(const act_rounding& r, const double* x, std::size_t n) {
    std::vector<double> a(n, 0.0);
    if (r.kind == act_rounding::bf16) {
        for (std::size_t k = 0; k < n; ++k) a[k] = 0x1p-8 * std::abs(x[k]);
    } else if (r.kind == act_rounding::int8_blocks) {
        for (std::size_t b0 = 0; b0 < n; b0 += r.block) {
            double amax = 0;
            for (std::size_t k = b0; k < std::min(n, b0 + r.block); ++k) amax = std::max(amax, std::abs(x[k]));
            const double half_step = amax / 127.0 * (1 + eps32) * (0.5 + 254 * eps32);
            for (std::size_t k = b0; k < std::min(n, b0 + r.block); ++k) a[k] = half_step;
        }
    }
    return a;
}

// y = x W^T (+ bias) for T rows; scale of y from the scale of x, |dW| and the input rounding.
inline void linear(const f64_matrix& m, const std::vector<double>& bias, const act_rounding& r, std::size_t T,
                   const std::vector<double>& x, const std::vector<double>& sx, std::vector<double>& y,
                   std::vector<double>& sy) {
    const std::size_t N = m.rows, K = m.cols;
    y.assign(T * N, 0.0);
    sy.assign(T * N, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
        const double* xt = x.data() + t * K;
        const double* st = sx.data() + t * K;
        const auto a = rounding_bound(r, xt, K);
        for (std::size_t n = 0; n < N; ++n) {
            const double* w = m.w.data() + n * K;
            const double* dw = m.dw.empty() ? nullptr : m.dw.data() + n * K;
            double s = 0, v = 0;
            for (std::size_t k = 0; k < K; ++k) {
                s += w[k] * xt[k];
                // W'(x' + a) - W x = W'(x' - x) + W' a + (W' - W) x
                const double wp = std::abs(w[k]) + (dw ? dw[k] : 0.0), dx = dw ? dw[k] * xt[k] : 0.0;
                v += wp * wp * (st[k] * st[k] + a[k] * a[k]) + dx * dx;
            }
            y[t * N + n] = s + (bias.empty() ? 0.0 : bias[n]);
            sy[t * N + n] = std::sqrt(v);
        }
    }
}

inline void rms_norm(const std::vector<double>& g, double eps, std::size_t T, std::size_t D, const std::vector<double>& x,
                     const std::vector<double>& sx, std::vector<double>& y, std::vector<double>& sy) {
    y.assign(T * D, 0.0);
    sy.assign(T * D, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
        const double* xt = x.data() + t * D;
        const double* st = sx.data() + t * D;
        double ss = 0, xs = 0;
        for (std::size_t i = 0; i < D; ++i) {
            ss += xt[i] * xt[i];
            xs += xt[i] * xt[i] * st[i] * st[i];
        }
        const double r = std::sqrt(ss / double(D) + eps);
        const double c = std::sqrt(xs) / (double(D) * r * r * r);  // scale of sum_k x_k dx_k / (D r^3)
        for (std::size_t i = 0; i < D; ++i) {
            y[t * D + i] = g[i] * xt[i] / r;
            sy[t * D + i] = std::abs(g[i]) * (st[i] / r + std::abs(xt[i]) * c);
        }
    }
}

}  // namespace error_bound_detail

// Logits of ids (positions 0..T-1) and their error scale and bound.
inline bounded_logits forward_with_bound(const f64_model& m, std::span<const int> ids) {
    namespace E = error_bound_detail;
    const std::size_t T = ids.size(), D = m.d, H = m.heads, G = m.kv_heads, hd = m.head_dim, F = m.ffn, half = hd / 2;
    std::vector<double> x(T * D), sx(T * D, 0.0);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < D; ++i) {
            x[t * D + i] = m.embedding.w[std::size_t(ids[t]) * D + i];
            if (!m.embedding.dw.empty()) sx[t * D + i] = m.embedding.dw[std::size_t(ids[t]) * D + i];
        }
    std::vector<double> h, sh, q, sq, k, sk, v, sv, y, sy;
    const std::vector<double> no_bias;
    const double scale = 1.0 / std::sqrt(double(hd));
    for (const auto& L : m.layers) {
        E::rms_norm(L.attn_norm, m.norm_eps, T, D, x, sx, h, sh);
        E::linear(L.q, L.q_bias, m.rounding, T, h, sh, q, sq);
        E::linear(L.k, L.k_bias, m.rounding, T, h, sh, k, sk);
        E::linear(L.v, L.v_bias, m.rounding, T, h, sh, v, sv);
        // RoPE (rotate-half): (x_j, x_{j+half}) -> (x_j c - x_{j+half} s, x_{j+half} c + x_j s).
        auto rope = [&](std::vector<double>& z, std::vector<double>& sz, std::size_t heads) {
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t hh = 0; hh < heads; ++hh) {
                    double* p = z.data() + (t * heads + hh) * hd;
                    double* e = sz.data() + (t * heads + hh) * hd;
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
        rope(q, sq, H);
        rope(k, sk, G);
        std::vector<double> o(T * H * hd, 0.0), so(T * H * hd, 0.0), s(T), p(T);
        for (std::size_t hh = 0; hh < H; ++hh) {
            const std::size_t g = hh / (H / G);
            for (std::size_t t = 0; t < T; ++t) {
                const double* qt = q.data() + (t * H + hh) * hd;
                const double* sqt = sq.data() + (t * H + hh) * hd;
                double smax = -1e300;
                for (std::size_t j = 0; j < T; ++j) {
                    const double* kj = k.data() + (j * G + g) * hd;
                    double dot = 0;
                    for (std::size_t i = 0; i < hd; ++i) dot += qt[i] * kj[i];
                    s[j] = dot * scale;
                    smax = std::max(smax, s[j]);
                }
                double z = 0;
                for (std::size_t j = 0; j < T; ++j) z += (p[j] = std::exp(s[j] - smax));
                for (std::size_t j = 0; j < T; ++j) p[j] /= z;
                // First order: do_i = sum_j p_j (ds_j - sum_k p_k ds_k) v_ji + p_j dv_ji
                //                    = sum_j p_j ds_j (v_ji - o_i) + p_j dv_ji,
                // ds_j = scale (dq . k_j + q . dk_j); dq, dk, dv from the same errors: added linearly.
                double* ot = o.data() + (t * H + hh) * hd;
                double* sot = so.data() + (t * H + hh) * hd;
                for (std::size_t j = 0; j < T; ++j)
                    for (std::size_t i = 0; i < hd; ++i) ot[i] += p[j] * v[(j * G + g) * hd + i];
                std::vector<double> u(hd);
                for (std::size_t i = 0; i < hd; ++i) {
                    std::fill(u.begin(), u.end(), 0.0);
                    double vk = 0, vv = 0;
                    for (std::size_t j = 0; j < T; ++j) {
                        const double c = p[j] * (v[(j * G + g) * hd + i] - ot[i]);
                        const double* kj = k.data() + (j * G + g) * hd;
                        const double* skj = sk.data() + (j * G + g) * hd;
                        for (std::size_t l = 0; l < hd; ++l) {
                            u[l] += c * kj[l];
                            vk += c * c * qt[l] * qt[l] * skj[l] * skj[l];
                        }
                        const double svj = sv[(j * G + g) * hd + i];
                        vv += p[j] * p[j] * svj * svj;
                    }
                    double vq = 0;
                    for (std::size_t l = 0; l < hd; ++l) vq += u[l] * u[l] * sqt[l] * sqt[l];
                    sot[i] = scale * (std::sqrt(vq) + std::sqrt(vk)) + std::sqrt(vv);
                }
            }
        }
        E::linear(L.o, no_bias, m.rounding, T, o, so, y, sy);
        for (std::size_t i = 0; i < T * D; ++i) {
            x[i] += y[i];
            sx[i] += sy[i];
        }
        E::rms_norm(L.ffn_norm, m.norm_eps, T, D, x, sx, h, sh);
        std::vector<double> gt, sgt, up, sup;
        E::linear(L.gate, no_bias, m.rounding, T, h, sh, gt, sgt);
        E::linear(L.up, no_bias, m.rounding, T, h, sh, up, sup);
        std::vector<double> a(T * F), sa(T * F);
        for (std::size_t i = 0; i < T * F; ++i) {
            const double sig = 1.0 / (1.0 + std::exp(-gt[i])), sg = gt[i] * sig;
            const double dsilu = sig * (1.0 + gt[i] * (1.0 - sig));  // silu'(g)
            a[i] = sg * up[i];
            sa[i] = std::abs(dsilu) * sgt[i] * std::abs(up[i]) + std::abs(sg) * sup[i];
        }
        E::linear(L.down, no_bias, m.rounding, T, a, sa, y, sy);
        for (std::size_t i = 0; i < T * D; ++i) {
            x[i] += y[i];
            sx[i] += sy[i];
        }
    }
    E::rms_norm(m.out_norm, m.norm_eps, T, D, x, sx, h, sh);
    bounded_logits r;
    E::linear(m.head, no_bias, m.rounding, T, h, sh, r.logits, r.scale);
    r.bound.resize(r.scale.size());
    for (std::size_t i = 0; i < r.scale.size(); ++i) r.bound[i] = hoeffding_z * r.scale[i];
    return r;
}

}  // namespace ddiff::test
