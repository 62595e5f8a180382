// ddiff::decoder's block-diffusion mode (generate_options::block) against the PyTorch
// transcriptions of the references' generate loops (tools/reference/block_generate.py; goldens
// by tools/reference/make_block_goldens.py, temperature 0): SDAR's block generate (static and
// dynamic threshold, EOS stop), Fast-dLLM v2's block + sub-block decoding (threshold, shifted
// logits, the next token of the update call, EOS), dllm's BD3LM sampler (left padding, logical
// positions, linear counts, right shift, EOS). Each is a composition of ddiff policies (no
// special loop); each runs with the exact block cache and without, with 1 and 2 threads: token
// for token the golden, and (cached) the number of model calls the reference makes.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "ddiff/decoder/decoder.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/dit.hpp"
#include "ddiff/model/qwen.hpp"
#include "ddiff/remask/low_confidence.hpp"
#include "ddiff/sampler/first_hitting.hpp"
#include "ddiff/sampler/schedule_count.hpp"
#include "ddiff/sampler/sdar.hpp"
#include "ddiff/sampler/threshold.hpp"
#include "ddiff/schedule/log_linear.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path models = fs::path(DDIFF_TEST_DATA) / "models";

std::vector<token_id> ids_of(const io::safetensors_file& g, const std::string& name) {
    const auto t = g.tensor(name).to_i64<2>();
    std::vector<token_id> r(t.shape(1));
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = token_id(t(0, i));
    return r;
}
std::int64_t int_of(const io::safetensors_file& g, const std::string& name, std::size_t i = 0) {
    return g.tensor(name).to_i64()[i];
}
sequence seq(const std::vector<token_id>& v) {
    sequence s = xt::zeros<token_id>({v.size()});
    std::copy(v.begin(), v.end(), s.begin());
    return s;
}
std::vector<token_id> row(const generate_result& r, std::size_t n) {
    REQUIRE(r.tokens.shape(1) >= n);
    return {r.tokens.begin(), r.tokens.begin() + std::ptrdiff_t(n)};
}
std::size_t differing(const std::vector<token_id>& a, const std::vector<token_id>& b) {
    REQUIRE(a.size() == b.size());
    std::size_t d = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
    return d;
}

generate_options block_options(kv_cache_mode cache, block_commit commit) {
    generate_options o;
    o.temperature = 0.0;
    o.keep_mask_logit = true;  // the references' softmax / argmax run over the whole vocabulary
    o.block.enabled = true;
    o.block.commit = commit;
    o.cache = cache;
    return o;
}

template <class Sampler>
using sdar_decoder = decoder<model::sdar<>, schedule::log_linear, remask::low_confidence, Sampler>;
}  // namespace

TEST_CASE("block diffusion: SDAR's block generate (static, dynamic threshold, EOS stop) equals the PyTorch goldens") {
    const auto g = io::safetensors_file::open(models / "sdar_tiny" / "generate_golden.safetensors");
    const auto prompt = ids_of(g, "prompt_ids"), eos_prompt = ids_of(g, "eos_prompt_ids");
    const std::size_t L = 4, steps = 4;
    // SDAR's canvas: ceil((P + gen_length) / L) whole blocks from position 0.
    auto canvas = [&](std::size_t P) { return (P + 12 + L - 1) / L * L - P; };
    auto blocks = [&](std::size_t P) { return (P + canvas(P) + L - 1) / L - P / L; };
    for (unsigned threads : {1u, 2u}) {
        model::load_options lo;
        lo.threads = threads;
        auto m = model::sdar<>::load(models / "sdar_tiny", lo);
        REQUIRE(m.block_length() == L);
        for (auto cache : {kv_cache_mode::block, kv_cache_mode::none}) {
            CAPTURE(threads);
            CAPTURE(std::string(name(cache)));
            auto o = block_options(cache, block_commit::eager);
            o.gen_length = canvas(prompt.size());
            o.steps = std::uint32_t(steps * blocks(prompt.size()));
            {
                sdar_decoder<sampler::sdar_static> d(m);
                const auto r = d.generate(seq(prompt), o);
                const auto want = ids_of(g, "output_static_ids");
                CHECK(differing(row(r, want.size()), want) == 0);
                CHECK(r.tokens.shape(1) == want.size());
                if (cache == kv_cache_mode::block) CHECK(r.nfe == std::size_t(int_of(g, "nfe", 0)));
            }
            {
                sdar_decoder<sampler::sdar_dynamic> d(m, {}, {}, sampler::sdar_dynamic(0.3));
                const auto r = d.generate(seq(prompt), o);
                const auto want = ids_of(g, "output_dynamic_ids");
                CHECK(differing(row(r, want.size()), want) == 0);
                if (cache == kv_cache_mode::block) CHECK(r.nfe == std::size_t(int_of(g, "nfe", 1)));
            }
            {
                // EOS 95 appears in the second block: exactly two blocks are generated.
                auto oe = o;
                oe.gen_length = canvas(eos_prompt.size());
                oe.steps = std::uint32_t(steps * blocks(eos_prompt.size()));
                oe.block.stop_at_eos = true;
                oe.eos_ids = {95};
                sdar_decoder<sampler::sdar_dynamic> d(m, {}, {}, sampler::sdar_dynamic(0.85));
                const auto r = d.generate(seq(eos_prompt), oe);
                const auto want = ids_of(g, "eos_output_ids");
                CHECK(differing(row(r, want.size()), want) == 0);
                // prompt block 0 prefilled, blocks 1 and 2 decoded, the rest stays masked
                CHECK(r.length[0] == 12);
                CHECK(std::count(r.tokens.begin() + 12, r.tokens.end(), m.mask_id()) == 8);
                if (cache == kv_cache_mode::block) CHECK(r.nfe == std::size_t(int_of(g, "eos_nfe_blocks", 0)));
            }
        }
    }
}

namespace {
using fast_decoder = decoder<model::fast_dllm_v2<>, schedule::log_linear, remask::low_confidence, sampler::threshold>;

// Fast-dLLM v2's canvas: max_new // bs + P // bs whole blocks from position 0, and the next token
// the last update call appends.
std::size_t fast_gen_length(std::size_t P, std::size_t bs, std::size_t max_new) {
    return (max_new / bs + P / bs) * bs + 1 - P;
}
}  // namespace

TEST_CASE("block diffusion: Fast-dLLM v2's block + sub-block decoding equals the PyTorch goldens") {
    const auto g = io::safetensors_file::open(models / "fast_dllm_v2_tiny" / "generate_golden.safetensors");
    const std::size_t bs = 8, small = 4, max_new = 24;
    for (unsigned threads : {1u, 2u}) {
        model::load_options lo;
        lo.threads = threads;
        auto m = model::fast_dllm_v2<>::load(models / "fast_dllm_v2_tiny", lo);
        REQUIRE(m.block_length() == bs);
        for (auto cache : {kv_cache_mode::block, kv_cache_mode::none}) {
            CAPTURE(threads);
            CAPTURE(std::string(name(cache)));
            auto o = block_options(cache, block_commit::lazy);
            o.block_length = small;      // sub-blocks: the decoder's units
            o.block.next_token = true;   // the update call's argmax starts the next block
            o.steps = 1;                 // adaptive: each unit runs until it is full
            struct run_case {
                const char *prompt, *output, *nfe;
                std::size_t nfe_index;
                double tau;
            };
            for (const auto& c : {run_case{"prompt_ids", "output_t9_ids", "nfe", 0, 0.9},
                                  run_case{"prompt_ids", "output_t3_ids", "nfe", 2, 0.3},
                                  run_case{"prompt16_ids", "output16_ids", "nfe16", 0, 0.9}}) {
                CAPTURE(c.output);
                const auto prompt = ids_of(g, c.prompt);
                o.gen_length = fast_gen_length(prompt.size(), bs, max_new);
                fast_decoder d(m, {}, {}, sampler::threshold(c.tau));
                const auto r = d.generate(seq(prompt), o);
                const auto want = ids_of(g, c.output);
                REQUIRE(r.tokens.shape(1) == want.size());
                CHECK(differing(row(r, want.size()), want) == 0);
                if (cache == kv_cache_mode::block) CHECK(r.nfe == std::size_t(int_of(g, c.nfe, c.nfe_index)));
            }
            {
                // The stop token is committed in the second block: that block is completed and
                // nothing after it is generated (no update call).
                const auto prompt = ids_of(g, "eos_prompt_ids");
                auto oe = o;
                oe.gen_length = fast_gen_length(prompt.size(), bs, max_new);
                oe.block.stop_at_eos = true;
                oe.eos_ids = {95};
                fast_decoder d(m, {}, {}, sampler::threshold(0.9));
                const auto r = d.generate(seq(prompt), oe);
                const auto want = ids_of(g, "eos_output_ids");
                CHECK(r.length[0] == want.size());
                CHECK(differing(row(r, want.size()), want) == 0);
                CHECK(std::count(r.tokens.begin() + std::ptrdiff_t(want.size()), r.tokens.end(), m.mask_id()) ==
                      std::ptrdiff_t(r.tokens.shape(1) - want.size()));
                if (cache == kv_cache_mode::block) CHECK(r.nfe == std::size_t(int_of(g, "eos_nfe_blocks", 0)));
            }
        }
    }
}

namespace {
using dllm_decoder =
    decoder<model::a2d_qwen3<>, schedule::log_linear, remask::low_confidence, sampler::schedule_count<false>>;
}  // namespace

TEST_CASE("block diffusion: dllm's BD3LM sampler (left padding, right shift, EOS) equals the PyTorch goldens") {
    const auto g = io::safetensors_file::open(models / "dllm_qwen3_tiny" / "generate_golden.safetensors");
    const std::size_t L = 8, max_new = 24, steps = 24;
    const token_id pad = 96;
    auto padded = [&](const std::vector<token_id>& p) {  // left padding to a multiple of L
        std::vector<token_id> x((p.size() + L - 1) / L * L - p.size(), pad);
        x.insert(x.end(), p.begin(), p.end());
        return x;
    };
    for (unsigned threads : {1u, 2u}) {
        model::load_options lo;
        lo.threads = threads;
        auto m = model::a2d_qwen3<>::load(models / "dllm_qwen3_tiny", lo);
        m.set_block_length(L);  // the sampler's block size
        for (auto cache : {kv_cache_mode::block, kv_cache_mode::none}) {
            CAPTURE(threads);
            CAPTURE(std::string(name(cache)));
            auto o = block_options(cache, block_commit::lazy);
            o.block.pad_id = pad;
            o.gen_length = max_new;
            o.steps = steps;  // 3 blocks of 8 steps (ceil(steps / blocks))
            for (bool shift : {false, true}) {
                CAPTURE(shift);
                o.right_shift_logits = shift;
                dllm_decoder d(m);
                const auto r = d.generate(seq(padded(ids_of(g, "prompt_ids"))), o);
                const auto want = ids_of(g, shift ? "output_shift_ids" : "output_ids");
                REQUIRE(r.tokens.shape(1) == want.size());
                CHECK(differing(row(r, want.size()), want) == 0);
                if (cache == kv_cache_mode::block) CHECK(r.nfe == std::size_t(int_of(g, "nfe", shift ? 1 : 0)));
            }
            {
                auto oe = o;
                oe.right_shift_logits = false;
                oe.block.stop_at_eos = true;
                oe.eos_ids = {95};
                dllm_decoder d(m);
                const auto r = d.generate(seq(padded(ids_of(g, "eos_prompt_ids"))), oe);
                const auto want = ids_of(g, "eos_output_ids");
                CHECK(r.length[0] == want.size());  // two blocks: 8 + 2 * 8
                CHECK(differing(row(r, want.size()), want) == 0);
                if (cache == kv_cache_mode::block) CHECK(r.nfe == std::size_t(int_of(g, "eos_nfe_blocks", 0)));
            }
        }
    }
}

TEST_CASE("block diffusion: BD3-LM's first-hitting sampler with nucleus, exact cache == uncached, 1 == 2 threads") {
    // BD3-LM's _semi_ar_sampler (first hitting, nucleus 0.9) composed from ddiff policies; its
    // random draws are ddiff's counter-based ones, so the reference's exact tokens (which need
    // torch's draws: tests/model/block_decode.cpp replays them on the model API) are not the
    // expectation here: the cached decode must equal the uncached one, whatever the threads.
    using bd3_decoder = decoder<model::dit<>, schedule::log_linear, remask::low_confidence, sampler::first_hitting>;
    std::vector<std::vector<token_id>> outputs;
    std::vector<std::size_t> nfes;
    for (unsigned threads : {1u, 2u})
        for (auto cache : {kv_cache_mode::block, kv_cache_mode::none}) {
            model::load_options lo;
            lo.threads = threads;
            auto m = model::dit<>::load(models / "bd3lm_tiny", lo);
            REQUIRE(m.block_length() == 4);
            generate_options o;
            o.temperature = 1.0;
            o.top_p = 0.9;
            o.seed = 7;
            o.block.enabled = true;
            o.block.commit = block_commit::eager;  // store_kv after every block
            o.cache = cache;
            o.gen_length = 11;  // BOS + 11 masks: 3 blocks of 4
            o.steps = 1;
            bd3_decoder d(m);
            sequence bos = xt::zeros<token_id>({std::size_t{1}});
            bos(0) = 95;
            const auto r = d.generate(bos, o);
            outputs.push_back(row(r, 12));
            CHECK(std::count(outputs.back().begin(), outputs.back().end(), m.mask_id()) == 0);
            // first hitting: one masked position per call (11), plus a store call per block when cached
            CHECK(r.nfe == (cache == kv_cache_mode::block ? 11 + 3 : 11));
        }
    for (std::size_t i = 1; i < outputs.size(); ++i) CHECK(differing(outputs[i], outputs[0]) == 0);
}

TEST_CASE("block diffusion: bad settings are typed errors") {
    auto m = model::sdar<>::load(models / "sdar_tiny");
    sequence prompt = xt::zeros<token_id>({std::size_t{3}});
    sdar_decoder<sampler::sdar_static> d(m);
    auto o = block_options(kv_cache_mode::block, block_commit::eager);
    o.gen_length = 13;
    o.steps = 16;
    CHECK_NOTHROW(d.generate(prompt, o));
    auto bad = o;
    bad.block_length = 3;  // not a divisor of the model's block of 4
    CHECK_THROWS_AS(d.generate(prompt, bad), invalid_argument);
    bad = o;
    bad.cache = kv_cache_mode::dual;  // Fast-dLLM's approximate caches are not the block cache
    CHECK_THROWS_AS(d.generate(prompt, bad), invalid_argument);
    bad = o;
    bad.block.enabled = false;  // the exact cache outside a block-diffusion decode
    bad.block_length = 4;
    bad.gen_length = 12;
    CHECK_THROWS_AS(d.generate(prompt, bad), invalid_argument);
    bad = o;
    bad.block.stop_at_eos = true;  // no EOS ids
    CHECK_THROWS_AS(d.generate(prompt, bad), invalid_argument);
    bad = o;
    bad.cfg_scale = 1.0;
    CHECK_THROWS_AS(d.generate(prompt, bad), invalid_argument);
    // A bidirectional model (a2d-qwen3 without a block size: MDLM) cannot decode block by block.
    auto mdlm = model::a2d_qwen3<>::load(models / "dllm_qwen3_tiny");
    REQUIRE(mdlm.block_length() == 0);
    decoder<model::a2d_qwen3<>, schedule::log_linear, remask::low_confidence, sampler::sdar_static> dm(mdlm);
    CHECK_THROWS_AS(dm.generate(prompt, o), invalid_argument);
}
