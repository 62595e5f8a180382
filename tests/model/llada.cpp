// LLaDA against the PyTorch reference (tools/reference/llada.py, goldens written by
// tools/reference/make_goldens.py): logits within a derived tolerance with the argmax identical
// at every position, for f32, bf16 and sharded checkpoints; and generate() token parity.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "../support/f64_models.hpp"
#include "../support/tolerance.hpp"
#include "ddiff/ddiff.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/llada.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path models = fs::path(DDIFF_TEST_DATA) / "models";

void check_logits(const fs::path& dir, const model::load_options& o = {}) {
    auto m = model::llada<>::load(dir, o);
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = g.tensor("input_ids").to_i64<2>();
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    const std::size_t B = ids.shape(0), T = ids.shape(1), V = ref.shape(2);
    REQUIRE(m.vocab_size() == V);
    token_batch x = xt::zeros<token_id>({B, T});
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t t = 0; t < T; ++t) x(b, t) = token_id(ids(b, t));
    xt::xtensor<float, 3> out;
    const std::vector<double> alpha(B, 0.5);
    m.denoise(x, alpha, out);
    // Float32 forward vs a float64 reference: every dot product of length K <= max(d, F) rounds
    // with relative error K eps32 of its absolute sum; errors add over the layers and the head.
    // Bound per logit: (n_layers + 1) * K * eps32 * (scale of the logits), scale = max |ref| + 1.
    const auto& c = m.config();
    const double K = double(std::max(c.d_model, c.mlp_hidden));
    double scale = 1.0;
    for (double v : ref) scale = std::max(scale, std::abs(v) + 1.0);
    const double tol = double(c.n_layers + 1) * K * test::eps32 * scale;
    CAPTURE(dir.filename().string());
    CAPTURE(tol);
    double worst = 0.0;
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t t = 0; t < T; ++t) {
            std::size_t best_ref = 0, best = 0;
            for (std::size_t v = 0; v < V; ++v) {
                worst = std::max(worst, std::abs(double(out(b, t, v)) - ref(b, t, v)));
                if (ref(b, t, v) > ref(b, t, best_ref)) best_ref = v;
                if (out(b, t, v) > out(b, t, best)) best = v;
            }
            CHECK(best == best_ref);
        }
    CHECK(worst <= tol);
    MESSAGE(dir.filename().string() << ": max |logit error| " << worst << " (bound " << tol << ")");
}
}  // namespace

TEST_CASE("LLaDA logits match the PyTorch reference: f32, bf16 (exact path), sharded") {
    check_logits(models / "llada_tiny_f32");
    check_logits(models / "llada_tiny_bf16", {.compute = model::compute_type::exact});
    check_logits(models / "llada_tiny_sharded");
}

TEST_CASE("LLaDA bf16 native path (vdpbf16ps): logits within the bf16-rounding bound of the f32 ones") {
    // The reference: float64 logits of the stored bf16 weights (PyTorch's golden, which the
    // float64 network of tests/support/error_bound.hpp reproduces), with the bound that file
    // derives from rounding every projection's input to bf16 (2^-8 relative per element).
    const fs::path dir = models / "llada_tiny_bf16";
    const auto cfg = model::llada_config::from_json(io::json_config::load(dir / "config.json"));
    const auto ck = io::checkpoint::open(dir);
    auto ref = test::llada_f64(cfg, ck);
    constexpr bool dot = simd::has_bf16_dot<simd::default_arch>;
    ref.rounding.kind = dot ? test::act_rounding::bf16 : test::act_rounding::none;
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = g.tensor("input_ids").to_i64<2>();
    const auto golden = g.tensor("logits_f64").to_f64<3>();
    const std::size_t B = ids.shape(0), T = ids.shape(1), V = golden.shape(2);
    auto native = model::llada<>::load(dir, {.compute = model::compute_type::native, .threads = 2});
    auto exact = model::llada<>::load(dir, {.compute = model::compute_type::exact, .threads = 2});
    const double K = double(std::max(cfg.d_model, cfg.mlp_hidden));
    double worst_native = 0, worst_exact = 0, worst_vs_f32 = 0, worst_bound = 0, worst_ratio = 0;
    for (std::size_t b = 0; b < B; ++b) {
        std::vector<token_id> row(T);
        std::vector<int> row_int(T);
        for (std::size_t t = 0; t < T; ++t) row_int[t] = int(row[t] = token_id(ids(b, t)));
        const auto r = test::forward_with_bound(ref, row_int);
        double scale = 1.0;
        for (double v : r.logits) scale = std::max(scale, std::abs(v) + 1.0);
        // The f32 rounding of ddiff's own arithmetic, as in check_logits.
        const double f32_tol = double(cfg.n_layers + 1) * K * test::eps32 * scale;
        std::vector<float> out_n(T * V), out_e(T * V);
        native.forward(row, out_n.data());
        exact.forward(row, out_e.data());
        std::size_t bad = 0, golden_bad = 0;
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t v = 0; v < V; ++v) {
                const std::size_t i = t * V + v;
                // The float64 transcription is the PyTorch golden (float64 roundings only).
                golden_bad += std::abs(r.logits[i] - golden(b, t, v)) > double(cfg.n_layers + 1) * K * test::eps64 * scale;
                const double en = std::abs(double(out_n[i]) - r.logits[i]);
                bad += en > r.bound[i] + f32_tol;
                worst_native = std::max(worst_native, en);
                worst_exact = std::max(worst_exact, std::abs(double(out_e[i]) - r.logits[i]));
                worst_vs_f32 = std::max(worst_vs_f32, std::abs(double(out_n[i]) - double(out_e[i])));
                worst_bound = std::max(worst_bound, r.bound[i]);
                worst_ratio = std::max(worst_ratio, en / (r.bound[i] + f32_tol));
            }
        CHECK(golden_bad == 0);
        CHECK(bad == 0);
    }
    // The native path does round (else this test would not test it).
    if constexpr (dot) CHECK(worst_native > 100 * worst_exact);
    MESSAGE("bf16 native: max |logit error| " << worst_native << " (vs the f32 path's logits " << worst_vs_f32
            << "), exact path " << worst_exact
            << ", largest bound " << worst_bound << ", largest error / bound " << worst_ratio);
}

TEST_CASE("LLaDA decoding reproduces the PyTorch transcription of generate() token for token") {
    const fs::path dir = models / "llada_tiny_f32";
    auto m = model::llada<>::load(dir);
    const auto g = io::safetensors_file::open(dir / "generate_golden.safetensors");
    const auto prompt_ids = g.tensor("prompt_ids").to_i64<2>();
    const auto expected = g.tensor("output_ids").to_i64<2>();
    sequence prompt = xt::zeros<token_id>({prompt_ids.shape(1)});
    for (std::size_t i = 0; i < prompt.size(); ++i) prompt(i) = token_id(prompt_ids(0, i));
    decoder<model::llada<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(m);
    generate_options o;
    o.gen_length = 16;
    o.steps = 8;
    o.block_length = 8;
    o.temperature = 0.0;
    const auto res = dec.generate(prompt, o);
    REQUIRE(res.tokens.shape(1) == expected.shape(1));
    for (std::size_t i = 0; i < expected.shape(1); ++i) {
        CAPTURE(i);
        CHECK(res.tokens(0, i) == expected(0, i));
    }
    CHECK(res.nfe == 8);
}

TEST_CASE("LLaDA loading rejects bad configs and checkpoints with typed errors") {
    const fs::path tmp = fs::temp_directory_path() / "ddiff_llada_bad";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    fs::copy_file(models / "llada_tiny_f32" / "model.safetensors", tmp / "model.safetensors");
    auto write_config = [&](const std::string& text) {
        std::ofstream(tmp / "config.json") << text;
    };
    const std::string base = R"("d_model": 64, "n_heads": 4, "n_kv_heads": 4, "n_layers": 2, "mlp_hidden_size": 128,
        "vocab_size": 97, "embedding_size": 97, "max_sequence_length": 64, "mask_token_id": 94)";
    write_config("{\"model_type\": \"llada\", \"block_type\": \"sequential\", " + base + "}");
    CHECK_THROWS_WITH_AS(model::llada<>::load(tmp), doctest::Contains("block_type"), config_error);
    write_config("{\"model_type\": \"llada\", \"include_bias\": true, " + base + "}");
    CHECK_THROWS_WITH_AS(model::llada<>::load(tmp), doctest::Contains("include_bias"), config_error);
    write_config(R"({"model_type": "llada", "d_model": 64, "n_heads": 5, "n_layers": 2, "vocab_size": 97})");
    CHECK_THROWS_AS(model::llada<>::load(tmp), config_error);
    // A config that claims more layers than the checkpoint holds: a missing tensor.
    write_config("{\"model_type\": \"llada\", " + base.substr(0, base.find("\"n_layers\"")) + "\"n_layers\": 3, " +
                 base.substr(base.find("\"mlp_hidden_size\"")) + "}");
    CHECK_THROWS_WITH_AS(model::llada<>::load(tmp), doctest::Contains("blocks.2"), ddiff::error);
    // A config whose hidden size disagrees with the tensors: a shape error naming the tensor.
    write_config(R"({"model_type": "llada", "d_model": 32, "n_heads": 4, "n_layers": 2, "mlp_hidden_size": 128,
        "vocab_size": 97, "max_sequence_length": 64, "mask_token_id": 94})");
    CHECK_THROWS_WITH_AS(model::llada<>::load(tmp), doctest::Contains("wte.weight"), shape_error);
    fs::remove_all(tmp);
}

TEST_CASE("LLaDA's key-padding mask matches the reference (padded keys never attended)") {
    const fs::path dir = models / "llada_tiny_f32";
    auto m = model::llada<>::load(dir);
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = g.tensor("input_ids").to_i64<2>();
    const auto mask = g.tensor("attention_mask").to_i64<2>();
    const auto ref = g.tensor("logits_padmask_f64").to_f64<3>();
    const std::size_t B = ids.shape(0), T = ids.shape(1), V = ref.shape(2);
    const auto& c = m.config();
    double scale = 1.0;
    for (double v : ref) scale = std::max(scale, std::abs(v) + 1.0);
    const double tol = double(c.n_layers + 1) * double(std::max(c.d_model, c.mlp_hidden)) * test::eps32 * scale;
    std::vector<float> out(T * V);
    for (std::size_t b = 0; b < B; ++b) {
        std::vector<token_id> row(T);
        std::vector<std::uint8_t> valid(T);
        for (std::size_t t = 0; t < T; ++t) {
            row[t] = token_id(ids(b, t));
            valid[t] = std::uint8_t(mask(b, t) != 0);
        }
        m.forward(row, out.data(), valid.data());
        for (std::size_t t = 0; t < T; ++t) {
            if (!valid[t]) continue;  // outputs at padded positions carry no meaning
            for (std::size_t v = 0; v < V; ++v) CHECK(std::abs(double(out[t * V + v]) - ref(b, t, v)) <= tol);
        }
    }
}

TEST_CASE("LLaDA forward_cached: a full pass equals forward(), then any row range reproduces its rows") {
    const fs::path dir = models / "llada_tiny_f32";
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = g.tensor("input_ids").to_i64<2>();
    const std::size_t T = ids.shape(1);
    std::vector<token_id> row(T);
    for (std::size_t t = 0; t < T; ++t) row[t] = token_id(ids(0, t));
    for (std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        model::load_options o;
        o.threads = threads;
        auto m = model::llada<>::load(dir, o);
        const std::size_t V = m.vocab_size();
        std::vector<float> full(T * V), out(T * V);
        m.forward(row, full.data());
        model::kv_cache cache;
        CHECK_THROWS_WITH_AS(m.forward_cached(row, 2, 3, cache, out.data()), doctest::Contains("full pass"),
                             invalid_argument);  // nothing cached yet
        m.forward_cached(row, 0, T, cache, out.data());
        CHECK(cache.tokens == T);
        CHECK(out == full);
        for (auto [a, b] : {std::pair<std::size_t, std::size_t>{T / 2, T}, {1, T / 2}, {T - 1, T}}) {
            CAPTURE(a);
            m.forward_cached(row, a, b - a, cache, out.data());
            CHECK(std::equal(out.begin(), out.begin() + std::ptrdiff_t((b - a) * V), full.begin() + std::ptrdiff_t(a * V)));
        }
        CHECK_THROWS_AS(m.forward_cached(row, T - 1, 2, cache, out.data()), shape_error);
        CHECK_THROWS_AS(m.forward_cached(row, 0, 0, cache, out.data()), shape_error);
        // A different length needs a new full pass.
        const std::vector<token_id> shorter(row.begin(), row.end() - 1);
        CHECK_THROWS_AS(m.forward_cached(shorter, 0, 3, cache, out.data()), invalid_argument);
    }
}

TEST_CASE("LLaDA decoding with Fast-dLLM's prefix and dual KV caches reproduces the PyTorch transcription") {
    const fs::path dir = models / "llada_tiny_f32";
    const auto g = io::safetensors_file::open(dir / "generate_cache_golden.safetensors");
    const auto prompt_ids = g.tensor("prompt_ids").to_i64<2>();
    sequence prompt = xt::zeros<token_id>({prompt_ids.shape(1)});
    for (std::size_t i = 0; i < prompt.size(); ++i) prompt(i) = token_id(prompt_ids(0, i));
    for (std::size_t threads : {1u, 2u}) {
        model::load_options lo;
        lo.threads = threads;
        auto m = model::llada<>::load(dir, lo);
        decoder<model::llada<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(m);
        generate_options o;
        o.gen_length = 24;
        o.steps = 12;
        o.block_length = 8;
        for (auto [mode, name] : {std::pair{kv_cache_mode::prefix, "output_prefix_ids"},
                                  std::pair{kv_cache_mode::dual, "output_dual_ids"},
                                  std::pair{kv_cache_mode::none, "output_nocache_ids"}}) {
            CAPTURE(name);
            CAPTURE(threads);
            const auto expected = g.tensor(name).to_i64<2>();
            o.cache = mode;
            const auto res = dec.generate(prompt, o);
            REQUIRE(res.tokens.shape(1) == expected.shape(1));
            std::size_t differ = 0;
            for (std::size_t i = 0; i < expected.shape(1); ++i) differ += res.tokens(0, i) != expected(0, i);
            CHECK(differ == 0);
            CHECK(res.nfe == 12);  // the same number of model calls; each later call is smaller
        }
    }
    auto m = model::llada<>::load(dir);
    decoder<model::llada<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(m);
    generate_options o;
    o.gen_length = 8;
    o.steps = 4;
    o.cache = kv_cache_mode::dual;
    o.cfg_scale = 1.0;
    CHECK_THROWS_WITH_AS(dec.generate(prompt, o), doctest::Contains("cfg_scale"), invalid_argument);
}
