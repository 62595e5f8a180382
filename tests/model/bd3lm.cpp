// BD3-LM's DiT (model/dit.hpp, model_type "bd3lm") against the PyTorch reference
// (tools/reference/dit.py BD3LM; golden by tools/reference/make_block_goldens.py): the sampling
// mode's block-causal logits within a derived tolerance with identical argmax; logits at selected
// rows and the exact block cache (its kv_cache sampling) equal the uncached forward bit for bit;
// typed errors for a canvas the block size does not divide, a cache on a bidirectional DiT, and
// bad block settings.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "../support/tolerance.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/dit.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path models = fs::path(DDIFF_TEST_DATA) / "models";

std::vector<token_id> row_of(const xt::xtensor<std::int64_t, 2>& ids, std::size_t b) {
    std::vector<token_id> r(ids.shape(1));
    for (std::size_t t = 0; t < r.size(); ++t) r[t] = token_id(ids(b, t));
    return r;
}
}  // namespace

TEST_CASE("BD3-LM logits (sampling mode, block-causal) match the PyTorch reference") {
    const fs::path dir = models / "bd3lm_tiny";
    auto m = model::dit<>::load(dir);
    CHECK(m.variant() == model::dit_variant::bd3lm);
    CHECK(m.block_length() == 4);
    CHECK(m.mask_id() == 96);
    CHECK(!m.uses_sigma());
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = g.tensor("input_ids").to_i64<2>();
    const auto sigma = g.tensor("sigma").to_f64();
    const auto ref = g.tensor("logits_f64").to_f64<3>();
    const std::size_t B = ids.shape(0), T = ids.shape(1), V = ref.shape(2);
    // As tests/model/dit.cpp: (n_blocks + 1) * K * eps32 * (max |ref| + 1), K = max(d, 4d, cond).
    const auto& c = m.config();
    double scale = 0;
    for (double v : ref) scale = std::max(scale, std::abs(v));
    const double tol = double(c.n_blocks + 1) * double(std::max({c.hidden_size, 4 * c.hidden_size, c.cond_dim})) *
                       test::eps32 * (scale + 1.0);
    std::vector<float> out(T * V);
    double worst = 0;
    for (std::size_t b = 0; b < B; ++b) {
        m.forward(row_of(ids, b), sigma[b], out.data());
        for (std::size_t t = 0; t < T; ++t) {
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
    MESSAGE("bd3lm_tiny: max |logit error| " << worst << " (bound " << tol << ")");
}

TEST_CASE("BD3-LM: rows-only logits and the exact block cache equal the uncached forward bit for bit") {
    const fs::path dir = models / "bd3lm_tiny";
    const auto g = io::safetensors_file::open(dir / "golden.safetensors");
    const auto ids = row_of(g.tensor("input_ids").to_i64<2>(), 1);
    const std::size_t T = ids.size(), L = 4;
    for (std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        model::load_options o;
        o.threads = threads;
        auto m = model::dit<>::load(dir, o);
        const std::size_t V = m.vocab_size();
        std::vector<float> full(T * V), out(T * V);
        m.forward(ids, 0.5, full.data());
        const std::vector<std::size_t> rows{1, 6, 7, T - 1};
        m.forward_rows(ids, 0.5, rows, out.data());
        for (std::size_t i = 0; i < rows.size(); ++i)
            CHECK(std::equal(out.begin() + std::ptrdiff_t(i * V), out.begin() + std::ptrdiff_t((i + 1) * V),
                             full.begin() + std::ptrdiff_t(rows[i] * V)));
        // Block by block as BD3-LM's kv_cache sampler: steps on the block (not stored), then the
        // store call on the finished block; on a canvas that grows by one block at a time.
        model::kv_cache cache;
        for (std::size_t end = L; end <= T; end += L) {
            const std::span<const token_id> canvas(ids.data(), end);
            m.forward_block(canvas, end - L, L, 0.5, cache, false, out.data());
            CHECK(std::equal(out.begin(), out.begin() + std::ptrdiff_t(L * V), full.begin() + std::ptrdiff_t((end - L) * V)));
            const std::size_t last[] = {end - 1};
            m.forward_block(canvas, end - L, L, 0.5, cache, true, last, out.data());
            CHECK(std::equal(out.begin(), out.begin() + std::ptrdiff_t(V), full.begin() + std::ptrdiff_t((end - 1) * V)));
            CHECK(cache.committed == end);
        }
    }
}

TEST_CASE("BD3-LM and DiT block errors are typed") {
    auto m = model::dit<>::load(models / "bd3lm_tiny");
    std::vector<token_id> ids(10, 3);
    std::vector<float> out(10 * m.vocab_size());
    CHECK_THROWS_WITH_AS(m.forward(ids, 0.0, out.data()), doctest::Contains("multiple of the block size"), shape_error);
    model::kv_cache cache;
    std::vector<token_id> ok(8, 3);
    CHECK_THROWS_WITH_AS(m.forward_block(ok, 4, 4, 0.0, cache, true, out.data()), doctest::Contains("committed"),
                         invalid_argument);
    auto mdlm = model::dit<>::load(models / "mdlm_tiny");
    CHECK_THROWS_WITH_AS(mdlm.forward_block(ok, 0, 4, 0.0, cache, true, out.data()),
                         doctest::Contains("block-causal"), invalid_argument);

    const fs::path tmp = fs::temp_directory_path() / "ddiff_bd3lm_bad";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    fs::copy_file(models / "bd3lm_tiny" / "model.safetensors", tmp / "model.safetensors");
    const std::string base = R"("model_type": "bd3lm", "hidden_dim": 64, "cond_dim": 32, "n_blocks": 2,
        "n_heads": 4, "vocab_size": 97, "model_length": 64)";
    auto fails = [&](const std::string& extra, const char* needle) {
        CAPTURE(extra);
        std::ofstream(tmp / "config.json") << "{" << base << extra << "}";
        CHECK_THROWS_WITH_AS(model::dit<>::load(tmp), doctest::Contains(needle), config_error);
    };
    fails(R"(, "block_size": 5)", "does not divide");
    fails(R"(, "block_size": 0)", "block_size");
    fails("", "block_size");  // missing
    fails(R"(, "block_size": 4, "cross_attn": false)", "cross_attn");
    fails(R"(, "block_size": 4, "causal": true)", "causal");
    fails(R"(, "block_size": 4, "adaln": false)", "adaln");
    fails(R"(, "block_size": 4, "bd_size": 4)", "bd_size");
    std::ofstream(tmp / "config.json") << "{" << base << R"(, "block_size": 4})";
    CHECK(model::dit<>::load(tmp).block_length() == 4);
    fs::remove_all(tmp);
}
