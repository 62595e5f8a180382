// Block-causal attention (block diffusion) and QK-norm against a plain double reference that
// builds the attention mask explicitly, entry by entry, from its definition: with blocks of L
// rows counted from row 0, query i may attend to key j iff floor(j / L) <= floor(i / L) and key j
// is not padding (SDAR's block_diffusion_attention_mask = tril(ones(nb, nb)) repeated L x L;
// Fast-dLLM v2's eval_block_diff_mask; BD3-LM's block_causal part of block_diff_mask; dllm's
// _prepare_for_sampling bid_k <= bid_q & valid_k). The reference shares no code with
// nn::attention (not even attention_mask::visible). Also: a row subset of queries gives exactly
// those rows of the full output, for 1 and 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/nn/attention.hpp"

using namespace ddiff;

namespace {

std::vector<float> randn(std::size_t n, float scale, std::mt19937& g) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

struct shape {
    std::size_t T, d, H, G, hd;
};

// allowed[i * T + j]: query i may attend to key j.
std::vector<std::uint8_t> explicit_mask(std::size_t T, std::size_t L, const std::vector<std::uint8_t>& valid) {
    std::vector<std::uint8_t> m(T * T, 0);
    for (std::size_t i = 0; i < T; ++i)
        for (std::size_t j = 0; j < T; ++j) {
            const bool causal_blocks = L == 0 || (j / L) <= (i / L);
            m[i * T + j] = std::uint8_t(causal_blocks && valid[j]);
        }
    return m;
}

// Double pipeline: projection, optional per-head RMSNorm (Qwen3 q_norm / k_norm, weights qn / kn),
// rotate-half RoPE at positions pos, softmax over the allowed keys, output projection. Also the
// same pipeline on absolute values (error scale) and the largest |score| bound.
void reference(const std::vector<float>& x, const std::vector<float>& wqkv, const std::vector<float>& wo, const shape& c,
               const std::vector<std::int64_t>& pos, const std::vector<float>* qn, const std::vector<float>* kn,
               float eps, const std::vector<std::uint8_t>& allowed, std::vector<double>& y, std::vector<double>& scale,
               double& max_score) {
    const std::size_t T = c.T, D = c.d, H = c.H, G = c.G, hd = c.hd, W = (H + 2 * G) * hd, h2 = hd / 2;
    std::vector<double> qkv(T * W), qa(T * W);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t o = 0; o < W; ++o) {
            double s = 0, a = 0;
            for (std::size_t i = 0; i < D; ++i) {
                s += double(x[t * D + i]) * wqkv[o * D + i];
                a += std::abs(double(x[t * D + i]) * wqkv[o * D + i]);
            }
            qkv[t * W + o] = s;
            qa[t * W + o] = a;
        }
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t h = 0; h < H + G; ++h) {
            double* v = &qkv[t * W + h * hd];
            double* va = &qa[t * W + h * hd];
            if (qn) {
                // y_e = v_e r w_e, r = (mean(v^2) + eps)^(-1/2): an error dv moves y_e by
                // w_e (dv_e r + v_e dr), |dr| <= r sum_j |v_j dv_j| / sum_j v_j^2; plus the norm's own
                // hd + 4 roundings on |y_e|.
                const auto& w = h < H ? *qn : *kn;
                double ms = 0, cross = 0;
                for (std::size_t e = 0; e < hd; ++e) {
                    ms += v[e] * v[e];
                    cross += std::abs(v[e]) * va[e];
                }
                const double r = 1.0 / std::sqrt(ms / double(hd) + double(eps));
                const double rel = ms > 0 ? cross / ms : 0.0;
                for (std::size_t e = 0; e < hd; ++e) {
                    const double ve = v[e];
                    v[e] = ve * r * w[e];
                    va[e] = std::abs(w[e]) * r * (va[e] + std::abs(ve) * rel) + double(hd + 4) * std::abs(v[e]);
                }
            }
            const std::size_t p = std::size_t(pos[t]);
            for (std::size_t j = 0; j < h2; ++j) {
                const double ang = double(p) * std::pow(10000.0, -2.0 * double(j) / double(hd));
                const double cs = std::cos(ang), sn = std::sin(ang);
                const double a = v[j], b = v[j + h2];
                v[j] = a * cs - b * sn;
                v[j + h2] = b * cs + a * sn;
                const double aa = va[j], ba = va[j + h2];
                va[j] = va[j + h2] = aa + ba;
            }
        }
    std::vector<double> o(T * H * hd), oa(T * H * hd), p(T);
    max_score = 0;
    for (std::size_t h = 0; h < H; ++h) {
        const std::size_t g = h / (H / G);
        for (std::size_t i = 0; i < T; ++i) {
            double m = -INFINITY;
            for (std::size_t j = 0; j < T; ++j) {
                p[j] = -INFINITY;
                if (!allowed[i * T + j]) continue;
                double s = 0, sa = 0;
                for (std::size_t e = 0; e < hd; ++e) {
                    const double q = qkv[i * W + h * hd + e], k = qkv[j * W + H * hd + g * hd + e];
                    s += q * k;
                    sa += double(D + 4) * (qa[i * W + h * hd + e] * std::abs(k) + std::abs(q) * qa[j * W + H * hd + g * hd + e]) +
                          double(hd) * std::abs(q * k);
                }
                p[j] = s / std::sqrt(double(hd));
                max_score = std::max(max_score, sa / std::sqrt(double(hd)));
                m = std::max(m, p[j]);
            }
            double z = 0;
            for (std::size_t j = 0; j < T; ++j) z += (p[j] = (p[j] == -INFINITY ? 0.0 : std::exp(p[j] - m)));
            for (std::size_t e = 0; e < hd; ++e) {
                double acc = 0, acca = 0;
                for (std::size_t j = 0; j < T; ++j) {
                    acc += p[j] * qkv[j * W + (H + G) * hd + g * hd + e];
                    acca += p[j] * qa[j * W + (H + G) * hd + g * hd + e];
                }
                o[i * H * hd + h * hd + e] = z > 0 ? acc / z : 0;
                oa[i * H * hd + h * hd + e] = z > 0 ? acca / z : 0;
            }
        }
    }
    y.assign(T * D, 0);
    scale.assign(T * D, 0);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t r = 0; r < D; ++r)
            for (std::size_t j = 0; j < H * hd; ++j) {
                y[t * D + r] += o[t * H * hd + j] * wo[r * H * hd + j];
                scale[t * D + r] += oa[t * H * hd + j] * std::abs(wo[r * H * hd + j]);
            }
}

struct layout_case {
    const char* name;
    std::size_t L;    // block length (0 = bidirectional)
    std::size_t pad;  // left padding keys (dllm's BD3LM sampler pads the prompt to a block multiple)
    bool qk_norm;
};

void run(const shape& c, const layout_case& lc) {
    CAPTURE(lc.name);
    CAPTURE(c.T);
    std::mt19937 gen(unsigned(c.T * 31 + lc.L * 7 + lc.pad));
    const std::size_t W = (c.H + 2 * c.G) * c.hd;
    const auto x = randn(c.T * c.d, 1.0f, gen);
    const auto wqkv = randn(W * c.d, 1.0f / std::sqrt(float(c.d)), gen);
    const auto wo = randn(c.d * c.H * c.hd, 1.0f / std::sqrt(float(c.H * c.hd)), gen);
    std::vector<float> qn(c.hd), kn(c.hd);
    for (std::size_t e = 0; e < c.hd; ++e) {
        qn[e] = 1.0f + 0.25f * float(e % 5) - 0.3f;
        kn[e] = 0.8f + 0.1f * float(e % 3);
    }
    const float eps = 1e-6f;
    nn::attention<> attn({c.d, c.H, c.G, c.hd}, nn::linear<>::from_f32(wqkv.data(), W, c.d),
                         nn::linear<>::from_f32(wo.data(), c.d, c.H * c.hd), nn::rope_table(c.hd, 4 * c.T, 10000.0));
    if (lc.qk_norm) attn.set_qk_norm(qn, kn, eps);
    // dllm's logical positions: cumsum(valid) - 1 for real tokens, 0 for padding.
    std::vector<std::uint8_t> valid(c.T, 1);
    std::vector<std::int64_t> pos(c.T);
    std::int64_t seen = 0;
    for (std::size_t t = 0; t < c.T; ++t) {
        valid[t] = t >= lc.pad;
        pos[t] = valid[t] ? seen++ : 0;
    }
    const auto allowed = explicit_mask(c.T, lc.L, valid);
    std::vector<double> ref, scale;
    double max_score = 0;
    reference(x, wqkv, wo, c, pos, lc.qk_norm ? &qn : nullptr, lc.qk_norm ? &kn : nullptr, eps, allowed, ref, scale,
              max_score);
    const nn::attention_mask mask{lc.pad ? valid.data() : nullptr, lc.L};
    std::vector<std::size_t> sel;
    for (std::size_t t = lc.pad; t < c.T; t += 3) sel.push_back(t);
    std::vector<float> y[2], ysel[2];
    for (std::size_t threads : {1u, 2u}) {
        nn::thread_pool pool(threads);
        nn::workspace ws(attn.workspace_floats(c.T, threads));
        y[threads - 1].assign(c.T * c.d, 0.0f);
        attn.forward(x.data(), c.d, c.T, pos.data(), mask, y[threads - 1].data(), c.d, false, ws, pool);
        ysel[threads - 1].assign(sel.size() * c.d, 0.0f);
        attn.forward(x.data(), c.d, c.T, pos.data(), mask, ysel[threads - 1].data(), c.d, false, ws, pool,
                     nn::row_subset::of(sel.data(), sel.size()));
    }
    // Running-error bound as in tests/nn/attention.cpp: K terms in the chain of sums, each
    // relative error <= K eps32 on the absolute-value pipeline; a score error moves a
    // probability by p * error, and a score's error is at most eps32 * max_score.
    const double K = double(c.d + c.hd + c.T + c.H * c.hd);
    std::size_t bad = 0;
    double worst = 0;
    for (std::size_t t = lc.pad; t < c.T; ++t)  // rows of padding queries carry no meaning
        for (std::size_t r = 0; r < c.d; ++r) {
            const std::size_t i = t * c.d + r;
            const double tol = test::eps32 * (K + max_score) * scale[i] + 1e-300;
            const double e = std::abs(double(y[0][i]) - ref[i]);
            bad += e > tol;
            worst = std::max(worst, e / tol);
        }
    CAPTURE(worst);
    CHECK(bad == 0);
    CHECK(y[0] == y[1]);  // the thread count does not change a bit
    for (std::size_t k = 0; k < sel.size(); ++k)
        for (std::size_t r = 0; r < c.d; ++r) {
            CHECK(ysel[0][k * c.d + r] == y[0][sel[k] * c.d + r]);  // a subset of queries: the same bits
            CHECK(ysel[1][k * c.d + r] == y[0][sel[k] * c.d + r]);
        }
    if (lc.L > 1 && c.T > lc.L) {
        // The bound has power: the reference with the mask of the next block length disagrees.
        const auto other = explicit_mask(c.T, lc.L + 1, valid);
        std::vector<double> ref2, scale2;
        double ms2 = 0;
        reference(x, wqkv, wo, c, pos, lc.qk_norm ? &qn : nullptr, lc.qk_norm ? &kn : nullptr, eps, other, ref2, scale2,
                  ms2);
        std::size_t differ = 0;
        for (std::size_t i = lc.pad * c.d; i < y[0].size(); ++i)
            differ += std::abs(double(y[0][i]) - ref2[i]) > test::eps32 * (K + max_score) * scale[i];
        CHECK(differ > 0);
    }
}

}  // namespace

TEST_CASE("block-causal attention matches a dense reference with an explicit mask (SDAR / BD3-LM layout)") {
    for (const shape& c : {shape{16, 48, 4, 2, 12}, shape{37, 64, 4, 4, 16}, shape{130, 64, 2, 1, 32}}) {
        run(c, {"blocks of 4", 4, 0, false});
        run(c, {"blocks of 8, QK-norm", 8, 0, true});
        run(c, {"blocks of 1 (causal)", 1, 0, false});
        run(c, {"bidirectional, QK-norm", 0, 0, true});
    }
}

TEST_CASE("block-causal attention with left padding and logical positions (dllm BD3LM sampler layout)") {
    for (const shape& c : {shape{16, 48, 4, 2, 12}, shape{29, 40, 2, 2, 20}})
        run(c, {"blocks of 8 after 3 pads", 8, 3, true});
}

TEST_CASE("QK-norm weights are checked") {
    std::vector<float> w(96 * 48, 0.0f);
    nn::attention<> a({48, 4, 2, 12}, nn::linear<>::from_f32(w.data(), 96, 48), nn::linear<>::from_f32(w.data(), 48, 48),
                      nn::rope_table(12, 16, 10000.0));
    CHECK_THROWS_AS(a.set_qk_norm(std::vector<float>(11, 1.0f), std::vector<float>(12, 1.0f), 1e-6f), shape_error);
    CHECK_THROWS_AS(a.set_qk_norm(std::vector<float>(12, 1.0f), std::vector<float>(12, 1.0f), 0.0f), invalid_argument);
    nn::thread_pool pool(1);
    nn::workspace ws(a.workspace_floats(8, 1));
    std::vector<float> x(8 * 48), y(8 * 48);
    const std::size_t bad_rows[] = {3, 2};
    CHECK_THROWS_AS(a.forward(x.data(), 48, 8, nullptr, {}, y.data(), 48, false, ws, pool, nn::row_subset::of(bad_rows, 2)),
                    invalid_argument);
}
