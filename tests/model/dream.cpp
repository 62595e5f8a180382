// Dream against the PyTorch reference (tools/reference/dream.py, goldens written by
// tools/reference/make_goldens.py): unshifted logits within a derived tolerance with the argmax
// identical at every position; padding as Dream's generate(); a decode through ddiff::decoder
// that reads the prediction for position i at row i - 1; typed config errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "../support/tolerance.hpp"
#include "ddiff/ddiff.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/dream.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path dream_dir = fs::path(DDIFF_TEST_DATA) / "models" / "dream_tiny";

token_batch to_batch(const xt::xtensor<std::int64_t, 2>& ids) {
    token_batch x = xt::zeros<token_id>({ids.shape(0), ids.shape(1)});
    for (std::size_t b = 0; b < ids.shape(0); ++b)
        for (std::size_t t = 0; t < ids.shape(1); ++t) x(b, t) = token_id(ids(b, t));
    return x;
}

// Float32 forward vs a float64 reference: every dot product of length K <= max(d, F) rounds with
// relative error K eps32 of its absolute sum; errors add over the layers and the head.
// Bound per logit: (n_layers + 1) * K * eps32 * (scale of the logits), scale = max |ref| + 1.
double logit_tolerance(const model::dream_config& c, const xt::xtensor<double, 3>& ref) {
    const double K = double(std::max(c.hidden_size, c.intermediate_size));
    double scale = 1.0;
    for (double v : ref) scale = std::max(scale, std::abs(v) + 1.0);
    return double(c.n_layers + 1) * K * test::eps32 * scale;
}
}  // namespace

TEST_CASE("Dream logits (unshifted) match the PyTorch reference") {
    auto m = model::dream<>::load(dream_dir);
    static_assert(check_denoiser<model::dream<>>());
    static_assert(masked_denoiser<model::dream<>>);
    static_assert(model::dream<>::shift_logits && !model::dream<>::time_conditioned);
    const auto g = io::safetensors_file::open(dream_dir / "golden.safetensors");
    const auto x = to_batch(g.tensor("input_ids").to_i64<2>());
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    const std::size_t B = x.shape(0), T = x.shape(1), V = ref.shape(2);
    REQUIRE(m.vocab_size() == V);
    CHECK(m.mask_id() == 94);
    CHECK(m.config().n_kv_heads == 2);
    xt::xtensor<float, 3> out;
    const std::vector<double> alpha(B, 0.5);
    m.denoise(x, alpha, out);
    const double tol = logit_tolerance(m.config(), ref);
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
    MESSAGE("dream_tiny: max |logit error| " << worst << " (bound " << tol << ")");

    // Two threads give the same bits.
    model::load_options o2;
    o2.threads = 2;
    auto m2 = model::dream<>::load(dream_dir, o2);
    xt::xtensor<float, 3> out2;
    m2.denoise(x, alpha, out2);
    CHECK(out2 == out);
}

TEST_CASE("Dream padding: a left-padded row gives the unpadded row's logits (positions cumsum - 1)") {
    auto m = model::dream<>::load(dream_dir);
    const auto g = io::safetensors_file::open(dream_dir / "golden.safetensors");
    const auto x = to_batch(g.tensor("input_ids").to_i64<2>());
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    const std::size_t T = x.shape(1), V = m.vocab_size(), P = 3;
    std::vector<token_id> padded(P + T, m.config().pad_id);
    std::vector<std::uint8_t> valid(P + T, 1);
    for (std::size_t i = 0; i < P; ++i) valid[i] = 0;
    for (std::size_t t = 0; t < T; ++t) padded[P + t] = x(0, t);
    std::vector<float> out((P + T) * V);
    m.forward(padded, out.data(), valid.data());
    // Both sides are float32 forwards of the same sums up to the zero terms of the padded keys.
    const double tol = logit_tolerance(m.config(), ref);
    double worst = 0.0;
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t v = 0; v < V; ++v) worst = std::max(worst, std::abs(double(out[(P + t) * V + v]) - ref(0, t, v)));
    CAPTURE(worst);
    CHECK(worst <= tol);
    // Power: without the mask the padding tokens are attended to and positions shift.
    m.forward(padded, out.data());
    double moved = 0.0;
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t v = 0; v < V; ++v) moved = std::max(moved, std::abs(double(out[(P + t) * V + v]) - ref(0, t, v)));
    CHECK(moved > tol);
}

TEST_CASE("Dream decoding: the decoder reads position i's prediction at row i - 1") {
    auto m = model::dream<>::load(dream_dir);
    const std::size_t P = 5, G = 8, V = m.vocab_size();
    sequence prompt = xt::zeros<token_id>({P});
    for (std::size_t i = 0; i < P; ++i) prompt(i) = token_id(7 + 11 * i);
    decoder<model::dream<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(m);
    generate_options o;
    o.gen_length = G;
    o.steps = G;  // one commit per step
    o.temperature = 0.0;
    std::vector<step_record> trace;
    const auto res = dec.generate(prompt, o, [&](const step_record& r) { trace.push_back(r); });
    REQUIRE(res.tokens.shape(1) == P + G);
    CHECK(res.nfe == G);
    for (std::size_t i = 0; i < P; ++i) CHECK(res.tokens(0, i) == prompt(i));
    for (std::size_t i = P; i < P + G; ++i) CHECK(res.tokens(0, i) != m.mask_id());

    // The first step by hand: logits of the initial canvas, the prediction for masked position i
    // from row i - 1 with the mask excluded, the most confident position committed (ties to
    // the lower index).
    std::vector<token_id> canvas(P + G, m.mask_id());
    for (std::size_t i = 0; i < P; ++i) canvas[i] = prompt(i);
    std::vector<float> logits((P + G) * V);
    m.forward(canvas, logits.data());
    auto best_at = [&](std::size_t row) {
        std::size_t arg = 0;
        double mx = -INFINITY, z = 0.0;
        for (std::size_t v = 0; v < V; ++v) {
            if (token_id(v) == m.mask_id()) continue;
            if (logits[row * V + v] > mx) mx = logits[row * V + v], arg = v;
        }
        for (std::size_t v = 0; v < V; ++v)
            if (token_id(v) != m.mask_id()) z += std::exp(double(logits[row * V + v]) - mx);
        return std::pair<double, std::size_t>{1.0 / z, arg};
    };
    auto first_commit = [&](bool shifted) {
        std::size_t pos = 0;
        double conf = -1.0;
        token_id tok = 0;
        for (std::size_t i = P; i < P + G; ++i) {
            const auto [c, v] = best_at(shifted ? i - 1 : i);
            if (c > conf) conf = c, pos = i, tok = token_id(v);
        }
        return std::pair<std::size_t, token_id>{pos, tok};
    };
    const auto [pos, tok] = first_commit(true);
    REQUIRE(!trace.empty());
    REQUIRE(trace[0].committed.size() == 1);
    CHECK(trace[0].committed[0] == pos);
    // the committed token of step 0 is still there at the end (top_k never remasks)
    CHECK(res.tokens(0, pos) == tok);
    // Power: reading row i instead would have chosen something else.
    CHECK(first_commit(false) != first_commit(true));
}

TEST_CASE("Dream loading rejects bad configs and checkpoints with typed errors") {
    const fs::path tmp = fs::temp_directory_path() / "ddiff_dream_bad";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    fs::copy_file(dream_dir / "model.safetensors", tmp / "model.safetensors");
    nlohmann::json base;
    std::ifstream(dream_dir / "config.json") >> base;
    auto with = [&](const char* key, nlohmann::json value) {
        auto j = base;
        j[key] = std::move(value);
        std::ofstream(tmp / "config.json") << j.dump(2);
    };
    auto without = [&](const char* key) {
        auto j = base;
        j.erase(key);
        std::ofstream(tmp / "config.json") << j.dump(2);
    };
    with("model_type", "qwen2");
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("model_type"), config_error);
    with("hidden_act", "gelu");
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("hidden_act"), config_error);
    with("rope_scaling", nlohmann::json{{"type", "linear"}, {"factor", 2.0}});
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("rope_scaling"), config_error);
    with("use_sliding_window", true);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("use_sliding_window"), config_error);
    with("num_key_value_heads", 3);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("num_key_value_heads"), config_error);
    with("num_attention_heads", 5);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("num_attention_heads"), config_error);
    without("mask_token_id");
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("mask_token_id"), config_error);
    with("mask_token_id", 97);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("mask_token_id"), config_error);
    with("rms_norm_eps", 0.0);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("rms_norm_eps"), config_error);
    // rope_scaling {"rope_type": "default"} is plain RoPE and loads.
    with("rope_scaling", nlohmann::json{{"rope_type", "default"}});
    CHECK_NOTHROW(model::dream<>::load(tmp));
    // More layers than the checkpoint holds: the missing tensor is named.
    with("num_hidden_layers", 3);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("layers.2"), ddiff::error);
    // A hidden size that disagrees with the tensors: a shape error naming the tensor.
    with("hidden_size", 32);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("embed_tokens.weight"), shape_error);
    with("intermediate_size", 64);
    CHECK_THROWS_WITH_AS(model::dream<>::load(tmp), doctest::Contains("gate_proj.weight"), shape_error);
    // A sequence beyond the RoPE table.
    with("max_position_embeddings", 8);
    auto m = model::dream<>::load(tmp);
    std::vector<token_id> ids(9, 1);
    std::vector<float> out(9 * m.vocab_size());
    CHECK_THROWS_WITH_AS(m.forward(ids, out.data()), doctest::Contains("max_positions"), invalid_argument);
    fs::remove_all(tmp);
}

TEST_CASE("Dream forward_cached with padding: a full pass equals forward(), a row range reproduces its rows") {
    auto m = model::dream<>::load(dream_dir);
    const auto g = io::safetensors_file::open(dream_dir / "golden.safetensors");
    const auto x = to_batch(g.tensor("input_ids").to_i64<2>());
    const std::size_t T = x.shape(1), V = m.vocab_size(), P = 3;
    std::vector<token_id> padded(P + T, m.config().pad_id);
    std::vector<std::uint8_t> valid(P + T, 1);
    for (std::size_t i = 0; i < P; ++i) valid[i] = 0;
    for (std::size_t t = 0; t < T; ++t) padded[P + t] = x(0, t);
    std::vector<float> full((P + T) * V), out((P + T) * V);
    m.forward(padded, full.data(), valid.data());
    model::kv_cache cache;
    m.forward_cached(padded, 0, P + T, cache, out.data(), valid.data());
    CHECK(out == full);
    const std::size_t a = P + T / 2;
    m.forward_cached(padded, a, P + T - a, cache, out.data(), valid.data());
    CHECK(std::equal(out.begin(), out.begin() + std::ptrdiff_t((P + T - a) * V), full.begin() + std::ptrdiff_t(a * V)));
}
