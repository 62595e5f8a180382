// Tests for nn/attention.hpp: the GEMM-based attention against a plain double pipeline
// (projection, rotate-half RoPE, softmax(q k^T / sqrt(hd)) v, output projection) for odd token
// counts, grouped-query heads, key-padding and block-causal masks, and 1 vs 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/nn/attention.hpp"

using namespace ddiff;
using nn::attention_dims;

namespace {

std::vector<float> randn(std::size_t n, float scale, std::mt19937& g) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

struct case_t {
    std::size_t T, d, H, G, hd;
};

// Double reference of the whole attention; also returns the running-error scale of each output
// (the same pipeline on absolute values) and the largest |score|.
void reference(const std::vector<float>& x, const std::vector<float>& wqkv, const std::vector<float>& wo, const case_t& c,
               const nn::rope_table& rope, const std::int64_t* pos, const nn::attention_mask& mask, std::vector<double>& y,
               std::vector<double>& scale, double& max_score) {
    const std::size_t T = c.T, D = c.d, H = c.H, G = c.G, hd = c.hd, W = (H + 2 * G) * hd, h2 = hd / 2;
    std::vector<double> qkv(T * W), qkv_abs(T * W);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t o = 0; o < W; ++o) {
            double s = 0, a = 0;
            for (std::size_t i = 0; i < D; ++i) {
                s += double(x[t * D + i]) * wqkv[o * D + i];
                a += std::abs(double(x[t * D + i]) * wqkv[o * D + i]);
            }
            qkv[t * W + o] = s;
            qkv_abs[t * W + o] = a;
        }
    for (std::size_t t = 0; t < T; ++t) {
        const std::size_t p = pos ? std::size_t(pos[t]) : t;
        for (std::size_t h = 0; h < H + G; ++h) {
            double* v = &qkv[t * W + h * hd];
            double* va = &qkv_abs[t * W + h * hd];
            for (std::size_t j = 0; j < h2; ++j) {
                const double cs = rope.cos(p)[j], sn = rope.sin(p)[j];
                const double a = v[j], b = v[j + h2];
                v[j] = a * cs - b * sn;
                v[j + h2] = b * cs + a * sn;
                const double aa = va[j], ba = va[j + h2];
                va[j] = va[j + h2] = aa + ba;
            }
        }
    }
    std::vector<double> o(T * H * hd), oabs(T * H * hd), p(T);
    max_score = 0;
    for (std::size_t h = 0; h < H; ++h) {
        const std::size_t g = h / (H / G);
        for (std::size_t i = 0; i < T; ++i) {
            const std::size_t visible = mask.block_length ? std::min(T, (i / mask.block_length + 1) * mask.block_length) : T;
            double m = -INFINITY;
            for (std::size_t j = 0; j < T; ++j) {
                p[j] = -INFINITY;
                if (j < visible && (!mask.key_valid || mask.key_valid[j])) {
                    // Score error bound / eps: projection errors (d eps of the absolute
                    // pipeline) times the other factor, plus the hd-term dot product.
                    double s = 0, sa = 0;
                    for (std::size_t e = 0; e < hd; ++e) {
                        const double q = qkv[i * W + h * hd + e], k = qkv[j * W + H * hd + g * hd + e];
                        const double qa = qkv_abs[i * W + h * hd + e], ka = qkv_abs[j * W + H * hd + g * hd + e];
                        s += q * k;
                        sa += double(D + 4) * (qa * std::abs(k) + std::abs(q) * ka) + double(hd) * std::abs(q * k);
                    }
                    p[j] = s / std::sqrt(double(hd));
                    max_score = std::max(max_score, sa / std::sqrt(double(hd)));
                    m = std::max(m, p[j]);
                }
            }
            double z = 0;
            for (std::size_t j = 0; j < T; ++j) z += (p[j] = (m == -INFINITY ? 0.0 : std::exp(p[j] - m)));
            for (std::size_t e = 0; e < hd; ++e) {
                double acc = 0, acca = 0;
                for (std::size_t j = 0; j < T; ++j) {
                    acc += p[j] * qkv[j * W + (H + G) * hd + g * hd + e];
                    acca += p[j] * qkv_abs[j * W + (H + G) * hd + g * hd + e];
                }
                o[i * H * hd + h * hd + e] = z > 0 ? acc / z : 0;
                oabs[i * H * hd + h * hd + e] = z > 0 ? acca / z : 0;
            }
        }
    }
    y.assign(T * D, 0);
    scale.assign(T * D, 0);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t r = 0; r < D; ++r)
            for (std::size_t j = 0; j < H * hd; ++j) {
                y[t * D + r] += o[t * H * hd + j] * wo[r * H * hd + j];
                scale[t * D + r] += oabs[t * H * hd + j] * std::abs(wo[r * H * hd + j]);
            }
}

void run_case(const case_t& c, bool use_pos, bool pad, std::size_t block) {
    CAPTURE(c.T);
    CAPTURE(c.H);
    CAPTURE(c.G);
    CAPTURE(c.hd);
    CAPTURE(pad);
    CAPTURE(block);
    std::mt19937 g(unsigned(c.T * 1000 + c.H * 10 + c.G + block));
    const std::size_t W = (c.H + 2 * c.G) * c.hd;
    const auto x = randn(c.T * c.d, 1.0f, g);
    const auto wqkv = randn(W * c.d, 1.0f / std::sqrt(float(c.d)), g);
    const auto wo = randn(c.d * c.H * c.hd, 1.0f / std::sqrt(float(c.H * c.hd)), g);
    nn::rope_table rope(c.hd, 2 * c.T + 8, 10000.0);
    attention_dims dims{c.d, c.H, c.G, c.hd};
    nn::attention<> attn(dims, nn::linear<>::from_f32(wqkv.data(), W, c.d), nn::linear<>::from_f32(wo.data(), c.d, c.H * c.hd),
                         rope);
    std::vector<std::int64_t> pos(c.T);
    for (std::size_t t = 0; t < c.T; ++t) pos[t] = std::int64_t(t * 2 + 5);
    std::vector<std::uint8_t> valid(c.T, 1);
    if (pad)
        for (std::size_t t = 0; t < std::min<std::size_t>(3, c.T - 1); ++t) valid[t] = 0;  // left padding
    nn::attention_mask mask{pad ? valid.data() : nullptr, block};
    std::vector<double> ref, scale;
    double max_score = 0;
    reference(x, wqkv, wo, c, rope, use_pos ? pos.data() : nullptr, mask, ref, scale, max_score);

    std::vector<float> y1(c.T * c.d), y2(c.T * c.d);
    for (std::size_t threads : {1u, 2u}) {
        nn::thread_pool pool(threads);
        nn::workspace ws(attn.workspace_floats(c.T, threads));
        attn.forward(x.data(), c.d, c.T, use_pos ? pos.data() : nullptr, mask, (threads == 1 ? y1 : y2).data(), c.d,
                     false, ws, pool);
    }
    // Running-error bound: the chain of sums has K = d + hd + T + H hd terms in all, each
    // relative error bounded by K eps on the absolute-value pipeline (scale); an error e in a
    // score moves a probability by p e, and a score's error is at most eps * max_score.
    const double K = double(c.d + c.hd + c.T + c.H * c.hd);
    const double factor = K + max_score;
    auto count_bad = [&](const std::vector<double>& r, double* worst) {
        std::size_t bad = 0;
        for (std::size_t i = 0; i < y1.size(); ++i) {
            const double tol = test::eps32 * factor * scale[i] + 1e-300;
            bad += std::abs(y1[i] - r[i]) > tol;
            if (worst) *worst = std::max(*worst, std::abs(y1[i] - r[i]) / tol);
        }
        return bad;
    };
    double worst = 0;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < y1.size(); ++i) differ += y1[i] != y2[i];
    const std::size_t bad = count_bad(ref, &worst);
    CAPTURE(worst);  // error / bound: ~1e-6 .. 5e-4 measured
    CHECK(bad == 0);
    CHECK(differ == 0);  // the thread count does not change a bit
    if (use_pos && c.T > 1) {
        // The bound has power: one token's RoPE position moved is detected (a uniform shift
        // would not be: RoPE scores depend on position differences only).
        std::vector<std::int64_t> shifted(pos);
        shifted[c.T / 2] = 0;
        std::vector<double> ref2, scale2;
        double ms2 = 0;
        reference(x, wqkv, wo, c, rope, shifted.data(), mask, ref2, scale2, ms2);
        CHECK(count_bad(ref2, nullptr) > 0);
    }
}

}  // namespace

TEST_CASE("attention matches a double reference: odd sizes, GQA, RoPE positions") {
    for (const case_t& c : {case_t{1, 8, 1, 1, 8}, case_t{5, 24, 2, 1, 12}, case_t{11, 48, 4, 2, 12},
                            case_t{37, 64, 4, 4, 16}, case_t{97, 96, 6, 2, 16}, case_t{130, 128, 2, 1, 64},
                            case_t{33, 40, 5, 1, 2}})
        run_case(c, true, false, 0);
    run_case(case_t{19, 48, 4, 2, 12}, false, false, 0);
}

TEST_CASE("attention masks: key padding and block-causal") {
    for (const case_t& c : {case_t{11, 48, 4, 2, 12}, case_t{100, 64, 4, 2, 16}}) {
        run_case(c, true, true, 0);
        run_case(c, true, false, 4);
        run_case(c, true, true, 3);
        run_case(c, true, false, 1);  // block length 1: causal
    }
}

TEST_CASE("attention rejects bad configurations") {
    std::vector<float> w(120 * 48, 0.0f);
    nn::rope_table rope(12, 16, 10000.0);
    auto lin = [&](std::size_t o, std::size_t i) { return nn::linear<>::from_f32(w.data(), o, i); };
    CHECK_THROWS_AS(nn::attention<>(attention_dims{48, 4, 3, 12}, lin(120, 48), lin(48, 48), rope), invalid_argument);
    CHECK_THROWS_AS(nn::attention<>(attention_dims{48, 4, 2, 12}, lin(100, 48), lin(48, 48), rope), shape_error);
    nn::attention<> ok(attention_dims{48, 4, 2, 12}, lin(96, 48), lin(48, 48), rope);
    nn::thread_pool pool(1);
    nn::workspace ws(ok.workspace_floats(20, 1));
    std::vector<float> x(20 * 48), y(20 * 48);
    CHECK_THROWS_AS(ok.forward(x.data(), 48, 20, nullptr, {}, y.data(), 48, false, ws, pool), invalid_argument);  // 20 > 16 positions
    nn::workspace small(100);
    CHECK_THROWS_AS(ok.forward(x.data(), 48, 10, nullptr, {}, y.data(), 48, false, small, pool), shape_error);
    CHECK_THROWS_AS(nn::rope_table(7, 16, 10000.0), invalid_argument);
}

TEST_CASE("attention forward_cached: a full pass is forward(), a row range reproduces it, other rows' keys come from the cache") {
    const case_t c{37, 48, 4, 2, 16};
    const std::size_t W = (c.H + 2 * c.G) * c.hd, kvw = c.G * c.hd, D = c.d, T = c.T;
    std::mt19937 g(7);
    auto x_old = randn(T * D, 1.0f, g);
    const auto wqkv = randn(W * D, 1.0f / std::sqrt(float(D)), g);
    const auto wo = randn(D * c.H * c.hd, 1.0f / std::sqrt(float(c.H * c.hd)), g);
    nn::attention<> attn(attention_dims{D, c.H, c.G, c.hd}, nn::linear<>::from_f32(wqkv.data(), W, D),
                         nn::linear<>::from_f32(wo.data(), D, c.H * c.hd), nn::rope_table(c.hd, 2 * T + 8, 10000.0));
    std::vector<std::int64_t> pos(T);
    for (std::size_t t = 0; t < T; ++t) pos[t] = std::int64_t(2 * t + 5);
    std::vector<std::uint8_t> valid(T, 1);
    valid[1] = valid[30] = 0;  // padding keys inside and outside the recomputed rows
    for (std::size_t block : {std::size_t{0}, std::size_t{8}}) {
        CAPTURE(block);
        const nn::attention_mask mask{valid.data(), block};
        for (std::size_t threads : {1u, 2u}) {
            CAPTURE(threads);
            nn::thread_pool pool(threads);
            nn::workspace ws(attn.workspace_floats(T, threads));
            auto plain = [&](const std::vector<float>& x) {
                std::vector<float> y(T * D);
                attn.forward(x.data(), D, T, pos.data(), mask, y.data(), D, false, ws, pool);
                return y;
            };
            std::vector<float> k(T * kvw), v(T * kvw);
            const nn::kv_cache_view cache{k.data(), v.data(), T};
            auto cached = [&](const std::vector<float>& x, std::size_t first, std::size_t rows) {
                std::vector<float> y(rows * D);
                attn.forward_cached(x.data() + first * D, D, first, rows, pos.data() + first, mask, cache, y.data(), D,
                                    false, ws, pool);
                return y;
            };
            auto rows_of = [&](const std::vector<float>& y, std::size_t a, std::size_t b) {
                return std::vector<float>(y.begin() + std::ptrdiff_t(a * D), y.begin() + std::ptrdiff_t(b * D));
            };
            const auto y_old = plain(x_old);
            CHECK(cached(x_old, 0, T) == y_old);  // the full pass fills the cache, bit for bit forward()
            const std::size_t a = 10, b = 29;
            CHECK(cached(x_old, a, b - a) == rows_of(y_old, a, b));  // same inputs: the same rows exactly
            // Change rows inside [a, b) and one row outside it. The recomputed rows see their own
            // new keys and values and the cached (old) ones of row 3: exactly forward() on the
            // sequence that has the new rows only inside [a, b).
            auto x_new = x_old, x_hybrid = x_old;
            for (std::size_t t : {std::size_t{3}, std::size_t{12}, std::size_t{20}})
                for (std::size_t i = 0; i < D; ++i) x_new[t * D + i] += 0.5f;
            for (std::size_t t = a; t < b; ++t)
                for (std::size_t i = 0; i < D; ++i) x_hybrid[t * D + i] = x_new[t * D + i];
            const auto y_cached = cached(x_new, a, b - a);
            CHECK(y_cached == rows_of(plain(x_hybrid), a, b));
            CHECK(y_cached != rows_of(plain(x_new), a, b));  // row 3's stale keys do matter
        }
    }
    nn::thread_pool pool(1);
    nn::workspace ws(attn.workspace_floats(T, 1));
    std::vector<float> k(T * kvw), v(T * kvw), y(T * D);
    CHECK_THROWS_AS(attn.forward_cached(x_old.data(), D, 30, 8, nullptr, {}, nn::kv_cache_view{k.data(), v.data(), T},
                                        y.data(), D, false, ws, pool),
                    shape_error);  // rows [30, 38) of 37
    CHECK_THROWS_AS(attn.forward_cached(x_old.data(), D, 0, 4, nullptr, {}, nn::kv_cache_view{nullptr, nullptr, T},
                                        y.data(), D, false, ws, pool),
                    invalid_argument);
}
