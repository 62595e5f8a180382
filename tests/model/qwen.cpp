// The Qwen-architecture diffusion models (model/qwen.hpp: dllm a2d-qwen3, SDAR, Fast-dLLM v2)
// against the PyTorch reference (tools/reference/qwen.py; goldens by
// tools/reference/make_block_goldens.py): logits within a derived tolerance with the argmax
// identical, block-causal and bidirectional, dllm's padded layout. Then, on the same checkpoints
// (and LLaDA / Dream): logits at selected rows equal those rows of the full forward bit for
// bit; the exact block cache (forward_block) equals the uncached block-causal forward bit for
// bit, block by block, with 1 and 2 threads; typed errors for bad configs and bad cache use.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "../support/tolerance.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/dream.hpp"
#include "ddiff/model/llada.hpp"
#include "ddiff/model/qwen.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path models = fs::path(DDIFF_TEST_DATA) / "models";

std::vector<token_id> row_of(const xt::xtensor<std::int64_t, 2>& ids, std::size_t b) {
    std::vector<token_id> r(ids.shape(1));
    for (std::size_t t = 0; t < r.size(); ++t) r[t] = token_id(ids(b, t));
    return r;
}

// Float32 forward vs a float64 reference: every dot product of length K <= max(d, F, H hd)
// rounds with relative error K eps32 of its absolute sum; errors add over the layers and the
// head. Bound per logit: (n_layers + 1) * K * eps32 * (scale of the logits), scale = max |ref| + 1,
// as tests/model/llada.cpp (the QK-norm only rescales q and k, so it adds no amplification).
double tolerance(const model::qwen_config& c, const xt::xtensor<double, 3>& ref) {
    const double K = double(std::max({c.hidden_size, c.intermediate_size, c.n_heads * c.head_dim}));
    double scale = 1.0;
    for (double v : ref) scale = std::max(scale, std::abs(v) + 1.0);
    return double(c.n_layers + 1) * K * test::eps32 * scale;
}

template <class Model>
void check_against(Model& m, const xt::xtensor<std::int64_t, 2>& ids, const xt::xtensor<double, 3>& ref,
                   const model::attention_layout& layout, const std::vector<std::uint8_t>* skip = nullptr) {
    const std::size_t B = ids.shape(0), T = ids.shape(1), V = ref.shape(2);
    REQUIRE(m.vocab_size() == V);
    const double tol = tolerance(m.config(), ref);
    double worst = 0;
    std::vector<float> out(T * V);
    for (std::size_t b = 0; b < B; ++b) {
        const auto row = row_of(ids, b);
        m.forward(row, layout, out.data());
        for (std::size_t t = 0; t < T; ++t) {
            if (skip && !(*skip)[b * T + t]) continue;
            std::size_t best = 0, best_ref = 0;
            for (std::size_t v = 0; v < V; ++v) {
                worst = std::max(worst, std::abs(double(out[t * V + v]) - ref(b, t, v)));
                if (out[t * V + v] > out[t * V + best]) best = v;
                if (ref(b, t, v) > ref(b, t, best_ref)) best_ref = v;
            }
            CHECK(best == best_ref);
        }
    }
    CAPTURE(tol);
    CHECK(worst <= tol);
    MESSAGE("max |logit error| " << worst << " (bound " << tol << ")");
}

template <class Model>
void logits_match(const std::string& name, std::size_t expect_block) {
    CAPTURE(name);
    const fs::path dir = models / name;
    auto m = Model::load(dir);
    static_assert(check_denoiser<Model>());
    CHECK(m.mask_id() == 94);
    CHECK(m.config().eos_ids == std::vector<token_id>{95});
    CHECK(m.block_length() == expect_block);
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = g.tensor("input_ids").to_i64<2>();
    const std::size_t L = std::size_t(std::stoul(g.metadata().at("block_length")));
    check_against(m, ids, g.tensor("logits_f64").to_f64<3>(), model::attention_layout{nullptr, nullptr, L});
    check_against(m, ids, g.tensor("logits_bidir_f64").to_f64<3>(), model::attention_layout{});
    // Power: the bidirectional logits are not within the bound of the block-causal reference.
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    std::vector<float> out(ids.shape(1) * ref.shape(2));
    m.forward(row_of(ids, 0), model::attention_layout{}, out.data());
    double moved = 0;
    for (std::size_t i = 0; i < out.size(); ++i) moved = std::max(moved, std::abs(double(out[i]) - ref.data()[i]));
    CHECK(moved > tolerance(m.config(), ref));
    // Two threads give the same bits.
    model::load_options o2;
    o2.threads = 2;
    auto m2 = Model::load(dir, o2);
    std::vector<float> a(out.size()), b(out.size());
    m.forward(row_of(ids, 1), a.data());
    m2.forward(row_of(ids, 1), b.data());
    CHECK(a == b);
}

// forward_rows and the cached entry points at selected rows give exactly the rows of the full
// forward (the last layer's MLP and the head run on those rows only).
template <class Full, class Rows>
void rows_equal_full(std::size_t T, std::size_t V, Full&& full, Rows&& rows_fn) {
    std::vector<float> all(T * V);
    full(all.data());
    for (const std::vector<std::size_t>& rows :
         {std::vector<std::size_t>{0}, std::vector<std::size_t>{T - 1}, std::vector<std::size_t>{1, 4, 5, T - 2}}) {
        std::vector<float> part(rows.size() * V);
        rows_fn(std::span<const std::size_t>(rows), part.data());
        for (std::size_t i = 0; i < rows.size(); ++i)
            CHECK(std::equal(part.begin() + std::ptrdiff_t(i * V), part.begin() + std::ptrdiff_t((i + 1) * V),
                             all.begin() + std::ptrdiff_t(rows[i] * V)));
    }
}
}  // namespace

TEST_CASE("SDAR, Fast-dLLM v2 and dllm a2d-qwen3 logits match the PyTorch reference (block-causal and bidirectional)") {
    logits_match<model::sdar<>>("sdar_tiny", 4);
    logits_match<model::fast_dllm_v2<>>("fast_dllm_v2_tiny", 8);
    logits_match<model::a2d_qwen3<>>("dllm_qwen3_tiny", 0);
    static_assert(model::fast_dllm_v2<>::shift_logits && !model::sdar<>::shift_logits &&
                  !model::a2d_qwen3<>::shift_logits);
}

TEST_CASE("dllm's BD3LM sampler layout (left padding, logical positions, block-causal) matches the reference") {
    const fs::path dir = models / "dllm_qwen3_tiny";
    auto m = model::a2d_qwen3<>::load(dir);
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = g.tensor("input_ids_pad").to_i64<2>();
    const auto valid64 = g.tensor("key_valid").to_i64<2>();
    const auto pos = g.tensor("positions").to_i64<2>();
    const auto ref = g.tensor("logits_pad_f64").to_f64<3>();
    const std::size_t B = ids.shape(0), T = ids.shape(1), V = ref.shape(2);
    std::vector<std::uint8_t> valid(B * T);
    for (std::size_t i = 0; i < valid.size(); ++i) valid[i] = std::uint8_t(valid64.data()[i] != 0);
    const double tol = tolerance(m.config(), ref);
    std::vector<float> out(T * V);
    for (std::size_t b = 0; b < B; ++b) {
        const auto row = row_of(ids, b);
        std::vector<std::int64_t> p(pos.data() + b * T, pos.data() + (b + 1) * T);
        m.forward(row, model::attention_layout{p.data(), valid.data() + b * T, 8}, out.data());
        double worst = 0;
        for (std::size_t t = 0; t < T; ++t)
            if (valid[b * T + t])
                for (std::size_t v = 0; v < V; ++v) worst = std::max(worst, std::abs(double(out[t * V + v]) - ref(b, t, v)));
        CAPTURE(worst);
        CHECK(worst <= tol);
    }
}

TEST_CASE("logits at selected rows equal those rows of the full forward, bit for bit (every model, cached or not)") {
    const auto g = io::safetensors_file::open(models / "sdar_tiny" / "golden.safetensors");
    const auto ids = row_of(g.tensor("input_ids").to_i64<2>(), 0);
    const std::size_t T = ids.size();
    for (std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        model::load_options o;
        o.threads = threads;
        {
            auto m = model::sdar<>::load(models / "sdar_tiny", o);
            const auto lay = m.default_layout();
            rows_equal_full(T, m.vocab_size(), [&](float* out) { m.forward(ids, lay, out); },
                            [&](std::span<const std::size_t> rows, float* out) { m.forward_rows(ids, lay, rows, out); });
            // exact block cache: the whole canvas committed, then a block recomputed at rows of it
            model::kv_cache cache;
            std::vector<float> tmp(T * m.vocab_size());
            m.forward_block(ids, 0, T, lay, cache, true, tmp.data());
            rows_equal_full(T, m.vocab_size(), [&](float* out) { m.forward(ids, lay, out); },
                            [&](std::span<const std::size_t> rows, float* out) {
                                m.forward_block(ids, 0, T, lay, cache, true, rows, out);
                            });
        }
        {
            auto m = model::fast_dllm_v2<>::load(models / "fast_dllm_v2_tiny", o);
            const model::attention_layout bid{};
            model::kv_cache cache;
            std::vector<float> tmp(T * m.vocab_size());
            m.forward_cached(ids, 0, T, bid, cache, tmp.data());  // Fast-dLLM's cache, filled
            rows_equal_full(T, m.vocab_size(), [&](float* out) { m.forward(ids, bid, out); },
                            [&](std::span<const std::size_t> rows, float* out) {
                                m.forward_cached(ids, 0, T, bid, cache, rows, out);
                            });
        }
        {
            auto m = model::llada<>::load(models / "llada_tiny_f32", o);
            const auto lg = io::safetensors_file::open(models / "llada_tiny_f32" / "golden.safetensors");
            const auto lids = row_of(lg.tensor("input_ids").to_i64<2>(), 1);
            rows_equal_full(lids.size(), m.vocab_size(), [&](float* out) { m.forward(lids, out); },
                            [&](std::span<const std::size_t> rows, float* out) { m.forward_rows(lids, rows, out); });
            model::kv_cache cache;
            std::vector<float> tmp(lids.size() * m.vocab_size());
            m.forward_cached(lids, 0, lids.size(), cache, tmp.data());
            rows_equal_full(lids.size(), m.vocab_size(), [&](float* out) { m.forward(lids, out); },
                            [&](std::span<const std::size_t> rows, float* out) {
                                m.forward_cached_rows(lids, 0, lids.size(), cache, rows, out);
                            });
        }
        {
            auto m = model::dream<>::load(models / "dream_tiny", o);
            const auto dg = io::safetensors_file::open(models / "dream_tiny" / "golden.safetensors");
            const auto dids = row_of(dg.tensor("input_ids").to_i64<2>(), 0);
            rows_equal_full(dids.size(), m.vocab_size(), [&](float* out) { m.forward(dids, out); },
                            [&](std::span<const std::size_t> rows, float* out) { m.forward_rows(dids, rows, out); });
        }
    }
}

TEST_CASE("exact block cache: block-by-block forward_block equals the uncached block-causal forward bit for bit") {
    auto run = [](auto& m, const std::vector<token_id>& ids, std::size_t L) {
        const std::size_t T = ids.size(), V = m.vocab_size();
        const model::attention_layout lay{nullptr, nullptr, L};
        std::vector<float> full(T * V);
        m.forward(ids, lay, full.data());
        // Prefill the first two blocks at once (committed), then every later block: one call on
        // the block with the block's rows (not committed: a denoising step) and one commit call.
        model::kv_cache cache;
        std::vector<float> out(T * V);
        m.forward_block(ids, 0, 2 * L, lay, cache, true, out.data());
        CHECK(std::equal(out.begin(), out.begin() + std::ptrdiff_t(2 * L * V), full.begin()));
        CHECK(cache.committed == 2 * L);
        for (std::size_t b0 = 2 * L; b0 < T; b0 += L) {
            const std::size_t n = std::min(L, T - b0);
            m.forward_block(ids, b0, n, lay, cache, false, out.data());
            CHECK(cache.committed == b0);
            CHECK(std::equal(out.begin(), out.begin() + std::ptrdiff_t(n * V), full.begin() + std::ptrdiff_t(b0 * V)));
            m.forward_block(ids, b0, n, lay, cache, true, out.data());
            CHECK(std::equal(out.begin(), out.begin() + std::ptrdiff_t(n * V), full.begin() + std::ptrdiff_t(b0 * V)));
        }
        // A growing canvas (dllm's sampler appends blocks): the prefix of ids, cache kept.
        model::kv_cache grow;
        for (std::size_t end = L; end <= T; end += L) {
            const std::span<const token_id> prefix(ids.data(), end);
            std::vector<float> pf(end * V), blk(L * V);
            m.forward(prefix, lay, pf.data());
            m.forward_block(prefix, end - L, L, lay, grow, true, blk.data());
            CHECK(std::equal(blk.begin(), blk.end(), pf.begin() + std::ptrdiff_t((end - L) * V)));
            // the prefix's block rows equal the full canvas's (block-causal: later rows unseen)
            CHECK(std::equal(blk.begin(), blk.end(), full.begin() + std::ptrdiff_t((end - L) * V)));
        }
    };
    for (std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        model::load_options o;
        o.threads = threads;
        const auto ids_of = [](const char* name) {
            const auto g = io::safetensors_file::open(models / name / "golden.safetensors");
            return row_of(g.tensor("input_ids").to_i64<2>(), 1);
        };
        auto s = model::sdar<>::load(models / "sdar_tiny", o);
        run(s, ids_of("sdar_tiny"), 4);
        auto f = model::fast_dllm_v2<>::load(models / "fast_dllm_v2_tiny", o);
        run(f, ids_of("fast_dllm_v2_tiny"), 8);
        auto a = model::a2d_qwen3<>::load(models / "dllm_qwen3_tiny", o);
        run(a, ids_of("dllm_qwen3_tiny"), 4);
    }
}

TEST_CASE("exact block cache misuse is a typed error") {
    auto m = model::sdar<>::load(models / "sdar_tiny");
    const auto g = io::safetensors_file::open(models / "sdar_tiny" / "golden.safetensors");
    const auto ids = row_of(g.tensor("input_ids").to_i64<2>(), 0);
    std::vector<float> out(ids.size() * m.vocab_size());
    model::kv_cache cache;
    const model::attention_layout bid{}, blk{nullptr, nullptr, 4};
    // bidirectional attention cannot use an exact cache
    CHECK_THROWS_WITH_AS(m.forward_block(ids, 0, 4, bid, cache, true, out.data()),
                         doctest::Contains("block-causal"), invalid_argument);
    // rows after uncommitted ones
    CHECK_THROWS_WITH_AS(m.forward_block(ids, 4, 4, blk, cache, true, out.data()), doctest::Contains("committed"),
                         invalid_argument);
    // a range ending inside a block (the block size does not divide it)
    CHECK_THROWS_WITH_AS(m.forward_block(ids, 0, 6, blk, cache, true, out.data()),
                         doctest::Contains("inside a block"), shape_error);
    m.forward_block(ids, 0, 4, blk, cache, true, out.data());
    const std::size_t bad_rows[] = {2};  // outside [4, 8)
    CHECK_THROWS_AS(m.forward_block(ids, 4, 4, blk, cache, false, bad_rows, out.data()), invalid_argument);
    const std::size_t unordered[] = {6, 5};
    CHECK_THROWS_AS(m.forward_rows(ids, blk, unordered, out.data()), invalid_argument);
}

TEST_CASE("Qwen-family configs: unknown block settings and unsupported values are config errors") {
    const fs::path tmp = fs::temp_directory_path() / "ddiff_qwen_bad";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    fs::copy_file(models / "sdar_tiny" / "model.safetensors", tmp / "model.safetensors");
    const std::string base = R"("hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 24, "num_hidden_layers": 2, "vocab_size": 97,
        "max_position_embeddings": 64, "tie_word_embeddings": true, "mask_token_id": 94)";
    auto write = [&](const std::string& text) { std::ofstream(tmp / "config.json") << "{" << text << "}"; };
    auto fails = [&](const std::string& text, const char* needle) {
        CAPTURE(text);
        write(text);
        CHECK_THROWS_WITH_AS(model::sdar<>::load(tmp), doctest::Contains(needle), config_error);
    };
    write(R"("model_type": "sdar", "block_size": 4, )" + base);
    CHECK(model::sdar<>::load(tmp).block_length() == 4);
    fails(R"("model_type": "sdar", )" + base, "block_size");                                 // missing
    fails(R"("model_type": "sdar", "block_size": 0, )" + base, "block_size");                // not positive
    fails(R"("model_type": "sdar", "block_size": "4", )" + base, "block_size");              // not an integer
    fails(R"("model_type": "sdar", "block_size": 4, "bd_size": 8, )" + base, "bd_size");     // another family's
    fails(R"("model_type": "sdar", "block_size": 4, "small_block_size": 2, )" + base, "small_block_size");
    fails(R"("model_type": "sdar", "block_size": 400, )" + base, "block_size");              // beyond positions
    fails(R"("model_type": "sdar", "block_size": 4, "use_sliding_window": true, )" + base, "use_sliding_window");
    fails(R"("model_type": "sdar", "block_size": 4, "hidden_act": "gelu", )" + base, "hidden_act");
    fails(R"("model_type": "sdar", "block_size": 4, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}, )" + base,
          "rope_scaling");
    fails(R"("model_type": "qwen3", "block_size": 4, )" + base, "model_type");
    // a2d-qwen3 carries no block setting; Fast-dLLM v2 needs bd_size
    write(R"("model_type": "a2d-qwen3", "block_size": 32, )" + base);
    CHECK_THROWS_WITH_AS(model::a2d_qwen3<>::load(tmp), doctest::Contains("block_size"), config_error);
    write(R"("model_type": "Fast_dLLM_Qwen", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
        "intermediate_size": 96, "vocab_size": 97, "mask_token_id": 94)");
    CHECK_THROWS_WITH_AS(model::fast_dllm_v2<>::load(tmp), doctest::Contains("bd_size"), config_error);
    // the class must match the model type
    write(R"("model_type": "sdar", "block_size": 4, )" + base);
    CHECK_THROWS_WITH_AS(model::fast_dllm_v2<>::load(tmp), doctest::Contains("Fast_dLLM_Qwen"), config_error);
    // no mask id anywhere
    write(R"("model_type": "sdar", "block_size": 4, "hidden_size": 64, "num_attention_heads": 4,
        "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 97)");
    CHECK_THROWS_WITH_AS(model::sdar<>::load(tmp), doctest::Contains("mask"), config_error);
    // a config disagreeing with the tensors: a shape error naming the tensor
    write(R"("model_type": "sdar", "block_size": 4, "hidden_size": 64, "num_attention_heads": 4,
        "num_key_value_heads": 2, "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 97,
        "mask_token_id": 94, "tie_word_embeddings": true)");  // head_dim 16 by default, the file has 24
    CHECK_THROWS_WITH_AS(model::sdar<>::load(tmp), doctest::Contains("q_proj"), shape_error);
    fs::remove_all(tmp);
}

TEST_CASE("LLaDA with config block_size (ddiff's block-diffusion LLaDA) matches the PyTorch reference; its exact cache") {
    // tools/reference/make_block_goldens.py llada_block_golden: llada_tiny_f32's weights under the
    // block-causal mask of 4 (tools/reference/llada.py attn_mask).
    const fs::path tmp = fs::temp_directory_path() / "ddiff_llada_block";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    fs::copy_file(models / "llada_tiny_f32" / "model.safetensors", tmp / "model.safetensors");
    auto cfg = io::json_config::load(models / "llada_tiny_f32" / "config.json").json();
    cfg["block_size"] = 4;
    std::ofstream(tmp / "config.json") << cfg.dump();
    auto m = model::llada<>::load(tmp);
    CHECK(m.block_length() == 4);
    const auto g = io::safetensors_file::open(models / "llada_tiny_f32" / "golden_block.safetensors");
    const auto ids = g.tensor("input_ids").to_i64<2>();
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    const std::size_t T = ids.shape(1), V = ref.shape(2);
    const auto& c = m.config();
    double scale = 1.0;
    for (double v : ref) scale = std::max(scale, std::abs(v) + 1.0);
    const double tol = double(c.n_layers + 1) * double(std::max(c.d_model, c.mlp_hidden)) * test::eps32 * scale;
    std::vector<float> out(T * V), blk(T * V);
    for (std::size_t b = 0; b < ids.shape(0); ++b) {
        const auto row = row_of(ids, b);
        m.forward(row, out.data());
        double worst = 0;
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t v = 0; v < V; ++v) worst = std::max(worst, std::abs(double(out[t * V + v]) - ref(b, t, v)));
        CAPTURE(worst);
        CHECK(worst <= tol);
        model::kv_cache cache;
        for (std::size_t lo = 0; lo < T; lo += 4) {
            m.forward_block(row, lo, 4, cache, true, blk.data());
            CHECK(std::equal(blk.begin(), blk.begin() + std::ptrdiff_t(4 * V), out.begin() + std::ptrdiff_t(lo * V)));
        }
    }
    // Power: the unmodified (bidirectional) checkpoint is not within the bound.
    auto bid = model::llada<>::load(models / "llada_tiny_f32");
    CHECK(bid.block_length() == 0);
    bid.forward(row_of(ids, 0), out.data());
    double moved = 0;
    for (std::size_t i = 0; i < T * V; ++i) moved = std::max(moved, std::abs(double(out[i]) - ref.data()[i]));
    CHECK(moved > tol);
    model::kv_cache cache;
    CHECK_THROWS_WITH_AS(bid.forward_block(row_of(ids, 0), 0, 4, cache, true, out.data()),
                         doctest::Contains("block-causal"), invalid_argument);
    cfg["block_size"] = 0;
    std::ofstream(tmp / "config.json") << cfg.dump();
    CHECK_THROWS_WITH_AS(model::llada<>::load(tmp), doctest::Contains("block_size"), config_error);
    cfg.erase("block_size");
    cfg["bd_size"] = 4;
    std::ofstream(tmp / "config.json") << cfg.dump();
    CHECK_THROWS_WITH_AS(model::llada<>::load(tmp), doctest::Contains("bd_size"), config_error);
    fs::remove_all(tmp);
}
