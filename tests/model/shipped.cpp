// The shipped model (models/kjv-char): it loads, ddiff's greedy decode equals the PyTorch
// reference's generate() token for token, a seed reproduces a sample whatever the thread
// count, and the Monte Carlo ELBO of fixed masks equals tools/train/eval_elbo.py's.
// References: tools/train/make_shipped_goldens.py (regenerate after retraining).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "../support/tolerance.hpp"
#include "ddiff/ddiff.hpp"
#include "ddiff/decoder/likelihood.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/io/tokenizer.hpp"
#include "ddiff/model/llada.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path shipped = fs::path(DDIFF_TEST_DATA) / ".." / ".." / "models" / "kjv-char";
const fs::path goldens = fs::path(DDIFF_TEST_DATA) / "shipped";
}  // namespace

// The goldens are float32 compute on the bf16 weights: ddiff's exact path (bf16 widened).
const model::load_options exact{.compute = model::compute_type::exact};

TEST_CASE("the shipped model's greedy decode equals the PyTorch reference's generate()") {
    auto m = model::llada<>::load(shipped, exact);
    const auto tok = io::char_tokenizer::find(shipped);
    REQUIRE(tok.has_value());
    const auto g = io::safetensors_file::open(goldens / "generate_golden.safetensors");
    const auto p = g.tensor("prompt_ids").to_i64<2>();
    const auto expected = g.tensor("output_ids").to_i64<2>();
    const auto prompt_ids = tok->encode("In the beginning");
    REQUIRE(prompt_ids.size() == p.shape(1));
    for (std::size_t i = 0; i < prompt_ids.size(); ++i) CHECK(prompt_ids[i] == p(0, i));
    decoder<model::llada<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(m);
    generate_options o;
    o.gen_length = 64;
    o.steps = 64;
    o.block_length = 32;
    o.temperature = 0.0;
    const sequence prompt = xt::adapt(prompt_ids, {prompt_ids.size()});
    const auto res = dec.generate(prompt, o);
    REQUIRE(res.tokens.shape(1) == expected.shape(1));
    std::size_t same = 0;
    for (std::size_t i = 0; i < expected.shape(1); ++i) same += res.tokens(0, i) == expected(0, i);
    MESSAGE("ddiff: " << tok->decode(std::span<const token_id>(res.tokens.data(), res.tokens.shape(1))));
    CHECK(same == expected.shape(1));
}

TEST_CASE("a seed reproduces a shipped-model sample bit for bit with 1 and 2 threads") {
    generate_options o;
    o.gen_length = 48;
    o.steps = 24;
    o.block_length = 16;
    o.temperature = 0.8;
    o.seed = 11;
    token_batch out[2];
    for (unsigned th : {1u, 2u}) {
        model::load_options lo;
        lo.threads = th;
        auto m = model::llada<>::load(shipped, lo);
        o.threads = th;
        decoder<model::llada<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(m);
        out[th - 1] = dec.generate(sequence{}, o).tokens;
    }
    CHECK(out[0] == out[1]);
}

TEST_CASE("the Monte Carlo ELBO of fixed masks equals the training script's (eval_elbo.py --dump-masks)") {
    auto m = model::llada<>::load(shipped, exact);
    const auto f = io::safetensors_file::open(goldens / "elbo_masks.safetensors");
    const auto masks = f.tensor("masks").to_i64<2>();
    const auto t = f.tensor("t").to_f64<1>();
    const auto ref = f.tensor("loss_nats").to_f64<1>();
    const auto idv = f.tensor("input_ids").to_i64<1>();
    const std::vector<token_id> ids(idv.begin(), idv.end());
    const auto& c = m.config();
    // Each cross-entropy inherits the logit error bound (n_layers + 1) K eps32 (scale), twice
    // (logsumexp and the target logit); a sample adds up to l of them and divides by t.
    const double logit_bound = double(c.n_layers + 1) * double(std::max(c.d_model, c.mlp_hidden)) * test::eps32 * 30.0;
    std::vector<std::uint8_t> mask(ids.size());
    for (std::size_t j = 0; j < masks.shape(0); ++j) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < ids.size(); ++i) n += (mask[i] = std::uint8_t(masks(j, i) != 0));
        const double loss = masked_sample_loss(m, ids, mask, t(j));
        CAPTURE(j);
        CHECK(std::abs(loss - ref(j)) <= 2.0 * double(n) * logit_bound / t(j));
    }
}

TEST_CASE("the block model's block-diffusion ELBO of fixed masks equals eval_elbo.py's (prefix per block)") {
    // models/kjv-char-block16: block-causal attention in blocks of 16; each dumped row masks part
    // of one block and is scored on the canvas prefix up to that block's end.
    const fs::path block_model = shipped.parent_path() / "kjv-char-block16";
    auto m = model::llada<>::load(block_model, exact);
    REQUIRE(m.block_length() == 16);
    const auto f = io::safetensors_file::open(goldens.parent_path() / "shipped_block16" / "elbo_masks.safetensors");
    const auto masks = f.tensor("masks").to_i64<2>();
    const auto t = f.tensor("t").to_f64<1>();
    const auto ref = f.tensor("loss_nats").to_f64<1>();
    const auto prefix = f.tensor("prefix").to_i64<1>();
    const auto idv = f.tensor("input_ids").to_i64<1>();
    const std::vector<token_id> ids(idv.begin(), idv.end());
    REQUIRE(masks.shape(0) == 16 * ((ids.size() + 15) / 16));  // 16 samples x blocks
    const auto& c = m.config();
    const double logit_bound = double(c.n_layers + 1) * double(std::max(c.d_model, c.mlp_hidden)) * test::eps32 * 30.0;
    std::vector<std::uint8_t> mask(ids.size());
    for (std::size_t j = 0; j < masks.shape(0); ++j) {
        const auto n = static_cast<std::size_t>(prefix(j));
        REQUIRE(n <= ids.size());
        std::size_t k = 0;
        for (std::size_t i = 0; i < ids.size(); ++i) k += (mask[i] = std::uint8_t(masks(j, i) != 0));
        const double loss = masked_sample_loss(m, std::span<const token_id>(ids).first(n),
                                               std::span<const std::uint8_t>(mask).first(n), t(j));
        CAPTURE(j);
        CHECK(std::abs(loss - ref(j)) <= 2.0 * double(k) * logit_bound / t(j));
    }
}
