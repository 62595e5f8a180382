// Tests for nn/ blocks: linear, norms, embedding, heads, and whole LLaMA (LLaDA) and DiT
// blocks against the PyTorch float64 goldens of tools/reference/make_goldens.py.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/nn/all.hpp"

using namespace ddiff;

namespace {
const std::filesystem::path blocks_dir = std::filesystem::path(DDIFF_TEST_DATA) / "blocks";

double max_abs(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::abs(x));
    return m;
}

// Golden comparison bound: a block is a chain of sums with K = d + hd + T + H hd + d + F terms;
// each output carries at most K eps relative to the magnitudes flowing through it, which are
// bounded by the residual stream and branch magnitudes, times the softmax sensitivity
// (1 + |scores|, scores bounded by |q| |k| / sqrt(hd) <= the block's largest activation^2).
struct golden_check {
    std::size_t bad = 0;
    double worst = 0;
};
golden_check compare(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& input,
                     double K, double amplification) {
    golden_check r;
    const double scale = max_abs(want) + max_abs(input);
    const double tol = test::sum_tolerance(std::size_t(K), scale * amplification, test::eps32);
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double e = std::abs(got[i] - want[i]);
        r.bad += e > tol;
        r.worst = std::max(r.worst, e / tol);
    }
    return r;
}
}  // namespace

TEST_CASE("LLaDA llama block (GQA 4/2 heads, RoPE positions 3..13) matches the PyTorch golden") {
    auto f = io::safetensors_file::open(blocks_dir / "llama_block.safetensors");
    const std::size_t T = 11, D = 48, H = 4, G = 2, hd = 12, F = 80;
    const nn::attention_dims dims{D, H, G, hd};
    const auto q = f.to_f32("q_proj.weight"), k = f.to_f32("k_proj.weight"), v = f.to_f32("v_proj.weight");
    const auto qkv = nn::attention<>::fuse_qkv(q.data(), k.data(), v.data(), dims);
    const auto gu = nn::swiglu_mlp<>::fuse_gate_up(f.to_f32("ff_proj.weight").data(), f.to_f32("up_proj.weight").data(), F, D);
    auto make = [&](std::size_t max_pos) {
        return nn::llama_block<>(nn::rms_norm<>(f.to_f32("attn_norm.weight"), 1e-5f),
                                 nn::attention<>(dims, nn::linear<>::from_f32(qkv.data(), (H + 2 * G) * hd, D),
                                                 nn::linear<>::from_f32(f.to_f32("attn_out.weight").data(), D, D),
                                                 nn::rope_table(hd, max_pos, 10000.0)),
                                 nn::rms_norm<>(f.to_f32("ff_norm.weight"), 1e-5f),
                                 nn::swiglu_mlp<>(nn::linear<>::from_f32(gu.data(), 2 * F, D),
                                                  nn::linear<>::from_f32(f.to_f32("ff_out.weight").data(), D, F)));
    };
    const auto block = make(64);
    const auto in64 = f.to_f64("input");
    const auto want = f.to_f64("output");
    const auto pos = f.to_i64("positions");
    REQUIRE(pos.size() == T);
    std::vector<float> results[2];
    for (std::size_t threads : {1u, 2u}) {
        std::vector<float> x(in64.begin(), in64.end());  // input is float32-representable
        nn::thread_pool pool(threads);
        nn::workspace ws(block.workspace_floats(T, threads));
        block.forward(x.data(), T, pos.data(), {}, ws, pool);
        CHECK(ws.high_water() <= ws.capacity());
        results[threads - 1] = x;
    }
    const double K = double(D + hd + T + H * hd + D + F);
    const auto r = compare(results[0], want, in64, K, 1.0 + max_abs(in64) * max_abs(in64));
    CAPTURE(r.worst);
    CHECK(r.bad == 0);
    CHECK(results[0] == results[1]);  // thread count does not change a bit
    // The bound has power: positions 0..10 instead of 3..13 are equivalent (RoPE is relative),
    // but one token moved is detected.
    std::vector<std::int64_t> moved(pos);
    moved[5] = 40;
    std::vector<float> x(in64.begin(), in64.end());
    nn::thread_pool pool(1);
    nn::workspace ws(block.workspace_floats(T, 1));
    block.forward(x.data(), T, moved.data(), {}, ws, pool);
    CHECK(compare(x, want, in64, K, 1.0 + max_abs(in64) * max_abs(in64)).bad > 0);
}

TEST_CASE("Qwen3 decoder layer (QK-norm, head_dim 16 with d 48, GQA 4/2) matches the PyTorch golden, bidirectional and block-causal") {
    // tools/reference/make_block_goldens.py qwen3_block_golden (tools/reference/qwen.py DecoderLayer).
    auto f = io::safetensors_file::open(blocks_dir / "qwen3_block.safetensors");
    const std::size_t T = 11, D = 48, H = 4, G = 2, hd = 16, F = 80;
    const nn::attention_dims dims{D, H, G, hd};
    const auto q = f.to_f32("self_attn.q_proj.weight"), k = f.to_f32("self_attn.k_proj.weight"),
               v = f.to_f32("self_attn.v_proj.weight");
    const auto qkv = nn::attention<>::fuse_qkv(q.data(), k.data(), v.data(), dims);
    const auto gu = nn::swiglu_mlp<>::fuse_gate_up(f.to_f32("mlp.gate_proj.weight").data(),
                                                   f.to_f32("mlp.up_proj.weight").data(), F, D);
    auto make = [&](bool qk_norm) {
        nn::attention<> attn(dims, nn::linear<>::from_f32(qkv.data(), (H + 2 * G) * hd, D),
                             nn::linear<>::from_f32(f.to_f32("self_attn.o_proj.weight").data(), D, H * hd),
                             nn::rope_table(hd, 64, 1000000.0));
        if (qk_norm) attn.set_qk_norm(f.to_f32("self_attn.q_norm.weight"), f.to_f32("self_attn.k_norm.weight"), 1e-6f);
        return nn::llama_block<>(nn::rms_norm<>(f.to_f32("input_layernorm.weight"), 1e-6f), std::move(attn),
                                 nn::rms_norm<>(f.to_f32("post_attention_layernorm.weight"), 1e-6f),
                                 nn::swiglu_mlp<>(nn::linear<>::from_f32(gu.data(), 2 * F, D),
                                                  nn::linear<>::from_f32(f.to_f32("mlp.down_proj.weight").data(), D, F)));
    };
    const auto block = make(true);
    const auto in64 = f.to_f64("input");
    const auto pos = f.to_i64("positions");
    REQUIRE(pos.size() == T);
    const double K = double(D + hd + T + H * hd + D + F);
    // QK-norm rescales q and k to rms ~1 per head: scores are bounded by hd * |w_q| |w_k|, not by
    // the input's square, so the amplification is that of the normalised scores.
    const double amp = 1.0 + max_abs(in64) * max_abs(in64) + double(hd);
    for (std::size_t L : {std::size_t{0}, std::size_t{4}}) {
        CAPTURE(L);
        const auto want = f.to_f64(L ? "output_block4" : "output_bidir");
        std::vector<float> results[2];
        for (std::size_t threads : {1u, 2u}) {
            std::vector<float> x(in64.begin(), in64.end());
            nn::thread_pool pool(threads);
            nn::workspace ws(block.workspace_floats(T, threads));
            block.forward(x.data(), T, pos.data(), nn::attention_mask{nullptr, L}, ws, pool);
            results[threads - 1] = x;
        }
        const auto r = compare(results[0], want, in64, K, amp);
        CAPTURE(r.worst);
        CHECK(r.bad == 0);
        CHECK(results[0] == results[1]);
        // Power: without the QK-norm, or with the other mask, the output is detected as wrong.
        const auto plain = make(false);
        std::vector<float> x(in64.begin(), in64.end());
        nn::thread_pool pool(1);
        nn::workspace ws(plain.workspace_floats(T, 1));
        plain.forward(x.data(), T, pos.data(), nn::attention_mask{nullptr, L}, ws, pool);
        CHECK(compare(x, want, in64, K, amp).bad > 0);
        x.assign(in64.begin(), in64.end());
        block.forward(x.data(), T, pos.data(), nn::attention_mask{nullptr, L ? 0 : 4}, ws, pool);
        CHECK(compare(x, want, in64, K, amp).bad > 0);
    }
}

TEST_CASE("MDLM/SEDD DiT block (adaLN, LayerNorm, GELU-tanh MLP) matches the PyTorch golden") {
    auto f = io::safetensors_file::open(blocks_dir / "dit_block.safetensors");
    const std::size_t T = 11, D = 48, H = 4, hd = 12, C = 24, F = 4 * D;
    const nn::attention_dims dims{D, H, H, hd};
    const auto b0 = f.to_f32("mlp.0.bias"), b2 = f.to_f32("mlp.2.bias"), ab = f.to_f32("adaLN_modulation.bias");
    nn::dit_block<> block(
        nn::layer_norm<>(f.to_f32("norm1.weight"), {}, 1e-5f),
        nn::attention<>(dims, nn::linear<>::from_f32(f.to_f32("attn_qkv.weight").data(), 3 * D, D),
                        nn::linear<>::from_f32(f.to_f32("attn_out.weight").data(), D, D), nn::rope_table(hd, 64, 10000.0)),
        nn::layer_norm<>(f.to_f32("norm2.weight"), {}, 1e-5f),
        nn::gelu_mlp<>(nn::linear<>::from_f32(f.to_f32("mlp.0.weight").data(), F, D, b0.data()),
                       nn::linear<>::from_f32(f.to_f32("mlp.2.weight").data(), D, F, b2.data())),
        nn::adaln_modulation<>(nn::linear<>::from_f32(f.to_f32("adaLN_modulation.weight").data(), 6 * D, C, ab.data()), 6));
    const auto in64 = f.to_f64("input");
    const auto c64 = f.to_f64("c");
    const auto want = f.to_f64("output");
    const std::vector<float> c(c64.begin(), c64.end());
    std::vector<float> results[2];
    for (std::size_t threads : {1u, 2u}) {
        std::vector<float> x(in64.begin(), in64.end());
        nn::thread_pool pool(threads);
        nn::workspace ws(block.workspace_floats(T, threads));
        block.forward(x.data(), T, c.data(), nullptr, {}, ws, pool);
        results[threads - 1] = x;
    }
    const double K = double(C + D + hd + T + H * hd + D + F);
    const double amp = (1.0 + max_abs(in64) * max_abs(in64)) * (1.0 + max_abs(c64));
    const auto r = compare(results[0], want, in64, K, amp);
    CAPTURE(r.worst);
    CHECK(r.bad == 0);
    CHECK(results[0] == results[1]);
    // Power: a conditioning vector with one entry changed is detected.
    std::vector<float> c2(c);
    c2[3] += 0.5f;
    std::vector<float> x(in64.begin(), in64.end());
    nn::thread_pool pool(1);
    nn::workspace ws(block.workspace_floats(T, 1));
    block.forward(x.data(), T, c2.data(), nullptr, {}, ws, pool);
    CHECK(compare(x, want, in64, K, amp).bad > 0);
}

TEST_CASE("linear with bias, norms, embedding and lm_head against scalar references") {
    std::mt19937 g(11);
    std::normal_distribution<float> dn;
    nn::thread_pool pool(2);
    for (std::size_t d : {1u, 5u, 16u, 33u, 130u}) {
        CAPTURE(d);
        const std::size_t T = 7, V = 19;
        std::vector<float> x(T * d), w(d), b(d), table(V * d), wp(V * d);
        for (auto* v : {&x, &w, &b, &table, &wp})
            for (auto& e : *v) e = dn(g);
        // RMSNorm
        nn::rms_norm<> rms(w, 1e-5f);
        std::vector<float> y(T * d);
        rms.apply(x.data(), d, T, y.data(), d, d, pool);
        for (std::size_t t = 0; t < T; ++t) {
            double ms = 0;
            for (std::size_t i = 0; i < d; ++i) ms += double(x[t * d + i]) * x[t * d + i];
            const double r = 1.0 / std::sqrt(ms / double(d) + 1e-5);
            for (std::size_t i = 0; i < d; ++i) {
                const double want = x[t * d + i] * r * w[i];
                CHECK(std::abs(y[t * d + i] - want) <= test::sum_tolerance(d + 8, std::abs(want), test::eps32));
            }
        }
        // LayerNorm with weight and bias
        nn::layer_norm<> ln(w, b, 1e-5f);
        ln.apply(x.data(), d, T, y.data(), d, d, pool);
        for (std::size_t t = 0; t < T; ++t) {
            double mean = 0, var = 0;
            for (std::size_t i = 0; i < d; ++i) mean += x[t * d + i];
            mean /= double(d);
            for (std::size_t i = 0; i < d; ++i) var += (x[t * d + i] - mean) * (x[t * d + i] - mean);
            const double r = 1.0 / std::sqrt(var / double(d) + 1e-5);
            double xmax = 0;
            for (std::size_t i = 0; i < d; ++i) xmax = std::max(xmax, std::abs(double(x[t * d + i])));
            for (std::size_t i = 0; i < d; ++i) {
                const double want = (x[t * d + i] - mean) * r * w[i] + b[i];
                // the mean carries d eps |x|max, amplified by r
                const double tol = test::sum_tolerance(d + 8, (xmax * r + 1.0) * std::abs(w[i]) + std::abs(b[i]), test::eps32);
                CHECK(std::abs(y[t * d + i] - want) <= tol);
            }
        }
        // Embedding gathers rows; bad ids throw
        nn::embedding emb(table, V, d);
        const std::int64_t ids[] = {0, 18, 5, 5};
        std::vector<float> e(4 * d);
        emb.forward(ids, 4, e.data(), d);
        for (std::size_t t = 0; t < 4; ++t)
            for (std::size_t i = 0; i < d; ++i) CHECK(e[t * d + i] == table[std::size_t(ids[t]) * d + i]);
        const std::int64_t bad_ids[] = {3, 19};
        CHECK_THROWS_AS(emb.forward(bad_ids, 2, e.data(), d), invalid_argument);
        const int negative[] = {-1};
        CHECK_THROWS_AS(emb.forward(negative, 1, e.data(), d), invalid_argument);
        // lm_head = RMSNorm then projection with bias-free [V, d] weights
        nn::lm_head<nn::rms_norm<>> head(rms, nn::linear<>::from_f32(wp.data(), V, d));
        nn::workspace ws(head.workspace_floats(T, 2));
        std::vector<float> logits(T * V);
        head.forward(x.data(), T, logits.data(), V, ws, pool);
        rms.apply(x.data(), d, T, y.data(), d, d, pool);
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t o = 0; o < V; ++o) {
                double s = 0, a = 0;
                for (std::size_t i = 0; i < d; ++i) s += double(y[t * d + i]) * wp[o * d + i], a += std::abs(double(y[t * d + i]) * wp[o * d + i]);
                CHECK(std::abs(logits[t * V + o] - s) <= test::sum_tolerance(d + 1, a, test::eps32));
            }
        // linear with bias
        auto lin = nn::linear<>::from_f32(wp.data(), V, d, table.data());
        std::vector<float> out(T * V);
        lin.forward(x.data(), T, out.data(), pool);
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t o = 0; o < V; ++o) {
                double s = table[o], a = std::abs(table[o]);
                for (std::size_t i = 0; i < d; ++i) s += double(x[t * d + i]) * wp[o * d + i], a += std::abs(double(x[t * d + i]) * wp[o * d + i]);
                CHECK(std::abs(out[t * V + o] - s) <= test::sum_tolerance(d + 2, a, test::eps32));
            }
    }
    CHECK_THROWS_AS(nn::rms_norm<>({1.0f}, 0.0f), invalid_argument);
    CHECK_THROWS_AS(nn::embedding(std::vector<float>(10), 3, 4), shape_error);
}

TEST_CASE("workspace: take is aligned, scopes release, exhaustion throws") {
    nn::workspace ws(100);
    {
        nn::workspace::scope s(ws);
        auto a = ws.take(10);
        CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % 64 == 0);
        auto b = ws.take(10);
        CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0);
        CHECK(ws.used() == 32);
    }
    CHECK(ws.used() == 0);
    CHECK(ws.high_water() == 32);
    CHECK_THROWS_AS(ws.take(200), shape_error);
}

TEST_CASE("linear with bf16 weights: widened is exact f32 arithmetic, dot rounds the input to bf16") {
    std::mt19937 g(5);
    std::normal_distribution<float> dn;
    const std::size_t T = 13, in = 70, out = 45;
    std::vector<float> x(T * in), w(out * in), b(out);
    for (auto* v : {&x, &w, &b})
        for (auto& e : *v) e = dn(g);
    std::vector<simd::bf16> wb(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) wb[i] = simd::to_bf16(w[i]);
    nn::thread_pool pool(2);
    for (auto path : {nn::bf16_path::widen, nn::bf16_path::dot}) {
        const auto lin = nn::linear<>::from_bf16(wb.data(), out, in, b.data(), path);
        std::vector<float> y(T * out);
        lin.forward(x.data(), T, y.data(), pool);
        const bool rounds_input = path == nn::bf16_path::dot && simd::has_bf16_dot<simd::default_arch>;
        std::size_t bad = 0;
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t o = 0; o < out; ++o) {
                double s = b[o], a = std::abs(b[o]);
                for (std::size_t i = 0; i < in; ++i) {
                    const float xi = rounds_input ? simd::round_to_bf16(x[t * in + i]) : x[t * in + i];
                    const double p = double(xi) * double(simd::to_float(wb[o * in + i]));
                    s += p;
                    a += std::abs(p);
                }
                bad += std::abs(y[t * out + o] - s) > test::sum_tolerance(2 * in + 2, a, test::eps32);
            }
        CAPTURE(int(path));
        CHECK(bad == 0);
    }
}
