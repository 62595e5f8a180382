// The run-time front end: the registry's names and errors, option fields (ranges as printed
// are the ranges accepted), and the session: a decode named at run time equals the decoder
// composed at compile time, per-row seeds, cancellation, and the model facts it reports.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "ddiff/decoder/decoder.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/llada.hpp"
#include "ddiff/model/dream.hpp"
#include "ddiff/runtime/session.hpp"

// The program's compiled session opener (tools/ddiff/session.cpp, linked into this test).
namespace ddiff::cli {
runtime::session open_session(const runtime::model_options& o);
}

using namespace ddiff;
using runtime::option_error;
namespace fs = std::filesystem;

namespace {
const fs::path models = fs::path(DDIFF_TEST_DATA) / "models";

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const option_error& e) {
        return e.what();
    }
    return "(no option_error)";
}
}  // namespace

TEST_CASE("registry: unique names per family, unknown names list the valid ones") {
    for (const auto& list : {runtime::names(runtime::schedules{}), runtime::names(runtime::remasks{}),
                             runtime::names(runtime::absorbing_samplers{}), runtime::names(runtime::uniform_samplers{})}) {
        const std::set<std::string_view> unique(list.begin(), list.end());
        CHECK(unique.size() == list.size());
    }
    CHECK(runtime::any_schedule::make("maskgit_cosine").alpha(0.5) == doctest::Approx(1.0 - std::cos(schedule::pi / 4)));
    CHECK(std::string(runtime::any_remask::make("klass").name()) == "klass");
    CHECK(error_of([] { runtime::any_remask::make("nope"); }) ==
          "remask = 'nope', expected one of: low_confidence, random, confidence, margin, entropy, maskgit_gumbel, credit, "
          "klass");
    // The knobs reach the factories, and the chosen rule's traits are asked at run time.
    runtime::policy_params k;
    k.threshold = 0.7;
    const auto t = runtime::any_absorbing_sampler::make("threshold", k);
    CHECK(std::get<sampler::threshold>(t.s).tau == 0.7);
    CHECK(t.adaptive());
    CHECK(!t.remasks());
    CHECK(std::string(t.name()) == "threshold");
    const auto r = runtime::any_absorbing_sampler::make("remdm_rescale", k);
    CHECK(std::get<sampler::remdm_rescale>(r.s).eta == 0.015);  // the strategy's default
    CHECK(r.remasks());
    CHECK(!r.adaptive());
    CHECK(!r.reshapes());
    CHECK(runtime::any_uniform_sampler::make("duo", k).reshapes());
    CHECK(runtime::any_absorbing_sampler::make("eb", k).reads().entropy);
    CHECK(error_of([&] { runtime::any_uniform_sampler::make("top_k", k); }) ==
          "sampler = 'top_k', expected one of: duo, duo_greedy, sedd_euler, sedd_analytic");
}

TEST_CASE("option fields: the range an error prints is the range accepted") {
    runtime::decode_options o;
    const runtime::field_info steps{"steps", "N", "", 1.0, 1 << 20};
    std::uint32_t v = 0;
    CHECK(error_of([&] { runtime::parse_field(steps, "0", v); }) == "steps = '0', expected an integer in [1, 1048576]");
    CHECK_NOTHROW(runtime::parse_field(steps, "1", v));
    CHECK(v == 1);
    CHECK(error_of([&] { runtime::parse_field(steps, "2x", v); }) == "steps = '2x', expected an integer in [1, 1048576]");
    runtime::model_options m;
    double d = 0;
    m.for_each_field([&](const runtime::field_info& f, auto&) {
        if (f.name != "smoothing") return;
        CHECK(error_of([&] { runtime::parse_field(f, "0", d); }) ==
              "smoothing = '0', expected a number in (0, 1000000000000]");
        CHECK_NOTHROW(runtime::parse_field(f, "1e-9", d));
    });
    o.top_p = 0.0;
    CHECK(error_of([&] { o.validate(false); }) == "top_p = '0', expected a number in (0, 1]");
    o.top_p = 1.0;
    o.sampler = "duo";
    CHECK(error_of([&] { o.validate(false); }).find("sampler = 'duo', expected one of: top_k") == 0);
    CHECK_NOTHROW(o.validate(true));
    o.sampler = "top_k";
    o.remask = "maskgit";  // the earlier name, still accepted
    CHECK_NOTHROW(o.validate(false));
    CHECK(o.remask == "maskgit_gumbel");
    m.model = models / "llada_tiny_f32";
    m.noise = "uniform";
    CHECK(error_of([&] { m.validate(); }).find("needs a uniform-noise model") != std::string::npos);
}

TEST_CASE("session: model facts are the model's; a decode named at run time equals the compiled decoder") {
    auto s = cli::open_session({.model = (models / "llada_tiny_f32").string(), .threads = 2});
    CHECK(s.info().kind == "llada");
    CHECK(s.info().kv_cache);
    CHECK(!s.info().shift_logits);
    CHECK(!s.info().time_conditioned);
    auto d = cli::open_session({.model = (models / "dream_tiny").string(), .threads = 1});
    CHECK(d.info().shift_logits);
    auto dit = cli::open_session({.model = (models / "mdlm_tiny").string(), .threads = 1});
    CHECK(!dit.info().kv_cache);
    CHECK(!dit.info().time_conditioned);  // MDLM without time conditioning: the reuse applies

    runtime::decode_request r;
    r.prompt = {1, 2, 3};
    r.options.length = 8;
    r.options.steps = 4;
    r.options.block_length = 4;
    r.options.sampler = "threshold";
    r.options.remask = "confidence";
    r.options.temperature = 0.7;
    r.options.params.threshold = 0.5;
    r.options.seed = 11;
    const auto got = s.decode(r);

    auto m = model::llada<>::load(models / "llada_tiny_f32");
    decoder<model::llada<>, schedule::log_linear, remask::confidence, sampler::threshold> dec(m, {}, {},
                                                                                              sampler::threshold(0.5));
    generate_options o;
    o.gen_length = 8;
    o.steps = 4;
    o.block_length = 4;
    o.temperature = 0.7;
    o.seeds = {11};
    const auto want = dec.generate(sequence{1, 2, 3}, o);
    CHECK(got.tokens == want.tokens);
    CHECK(got.nfe == want.nfe);
    CHECK(got.prompt_length == 3);

    // Rows with their own seeds equal each seed decoded alone.
    r.seeds = {11, 12};
    const auto two = s.decode(r);
    r.seeds = {12};
    const auto alone = s.decode(r);
    CHECK(xt::view(two.tokens, 1, xt::all()) == xt::view(alone.tokens, 0, xt::all()));
    CHECK(xt::view(two.tokens, 0, xt::all()) == xt::view(got.tokens, 0, xt::all()));
}

TEST_CASE("session: the callback sees each step and may cancel a row; bad requests are option_errors") {
    auto s = cli::open_session({.model = (models / "llada_tiny_f32").string(), .threads = 1});
    runtime::decode_request r;
    r.prompt = {1, 2, 3};
    r.options.length = 8;
    r.options.steps = 8;
    r.options.temperature = 0.0;
    r.seeds = {1, 2};
    std::size_t events = 0;
    const auto res = s.decode(r, [&](const runtime::step_event& e) {
        ++events;
        CHECK(e.canvas.size() == 11);
        return e.row == 0 || e.step < 1;  // row 1 stops after its second step
    });
    CHECK(res.cancelled == std::vector<bool>{false, true});
    CHECK(events == 8 + 2);
    r.prompt = {1, 2, 999};
    CHECK(error_of([&] { s.decode(r); }) == "prompt_ids item = '999', expected a token id in [0, 97)");
    r.prompt = {1};
    r.options.cache = "dual";
    r.options.cfg_scale = 0.0;
    CHECK_NOTHROW(s.decode(r));
    auto dit = cli::open_session({.model = (models / "mdlm_tiny").string(), .threads = 1});
    CHECK(error_of([&] { dit.decode(r); }).find("cache = 'dual', expected none: this mdlm model has no KV cache") == 0);
}

TEST_CASE("session: rows of different prompts decoded together equal each prompt and seed decoded alone") {
    auto s = cli::open_session({.model = (models / "llada_tiny_f32").string(), .threads = 2});
    runtime::decode_request r;
    r.options.length = 8;
    r.options.steps = 4;
    r.options.block_length = 4;
    r.options.temperature = 0.9;
    r.options.remask = "random";
    const std::vector<std::vector<token_id>> prompts = {{1, 2, 3}, {7, 8, 9}, {4, 4, 4}};
    const std::vector<std::uint64_t> seeds = {5, 6, 5};
    r.prompt = prompts[0];
    r.rows = prompts;
    r.seeds = seeds;
    const auto batch = s.decode(r);
    REQUIRE(batch.tokens.shape(0) == 3);
    std::set<std::vector<token_id>> distinct;
    for (std::size_t b = 0; b < 3; ++b) {
        runtime::decode_request one;
        one.options = r.options;
        one.prompt = prompts[b];
        one.seeds = {seeds[b]};
        const auto alone = s.decode(one);
        CHECK(xt::view(batch.tokens, b, xt::all()) == xt::view(alone.tokens, 0, xt::all()));
        distinct.insert(std::vector<token_id>(alone.tokens.begin() + 3, alone.tokens.end()));
    }
    CHECK(distinct.size() == 3);  // the rows really differ (the comparison above can fail)

    // Infill canvases as rows.
    const token_id m = s.info().mask;
    runtime::decode_request f;
    f.options = r.options;
    f.options.block_length = 0;
    f.canvas = std::vector<token_id>{1, m, m, 2, m, 3};
    f.rows = {*f.canvas, {9, m, m, 8, m, 7}};
    f.seeds = {1, 2};
    const auto fb = s.decode(f);
    runtime::decode_request f1 = f;
    f1.rows.clear();
    f1.canvas = f.rows[1];
    f1.seeds = {2};
    const auto fa = s.decode(f1);
    CHECK(xt::view(fb.tokens, 1, xt::all()) == xt::view(fa.tokens, 0, xt::all()));
    CHECK(fb.tokens(1, 0) == 9);
    CHECK(fb.tokens(1, 3) == 8);

    // Rows that do not fit the request are option_errors.
    r.rows = {{1, 2, 3}, {7, 8}, {4, 4, 4}};
    CHECK(error_of([&] { s.decode(r); }) == "rows = '2 ids', expected 3 ids (every row as long as the request's input)");
    r.rows = {{1, 2, 3}, {7, 8, 9}};
    CHECK(error_of([&] { s.decode(r); }) == "rows = '2', expected one input per seed (3)");
    r.rows = {{1, 2, 3}, {7, 8, 999}, {4, 4, 4}};
    CHECK(error_of([&] { s.decode(r); }) == "prompt_ids item = '999', expected a token id in [0, 97)");
}

TEST_CASE("session: the shipped block model decodes as SDAR's block_diffusion_generate (PyTorch), cached or not") {
    // tests/data/shipped_block16/generate_golden.safetensors: tools/train/make_shipped_goldens.py,
    // block_generate.sdar_generate on the PyTorch LLaDA with the block-causal mask (float32 on the
    // bf16 weights: ddiff's exact compute), low_confidence_static, 16 steps per block, stop at EOS.
    const fs::path dir = fs::path(DDIFF_TEST_DATA) / ".." / ".." / "models" / "kjv-char-block16";
    const auto g = io::safetensors_file::open(fs::path(DDIFF_TEST_DATA) / "shipped_block16" / "generate_golden.safetensors");
    const auto p = g.tensor("prompt_ids").to_i64<2>();
    const auto want = g.tensor("output_ids").to_i64<2>();
    const auto nfe = g.tensor("nfe").to_i64<1>();
    for (const char* cache : {"block", "none"}) {
        for (std::size_t threads : {1u, 2u}) {
            auto s = cli::open_session({.model = dir.string(), .threads = threads, .compute = "exact"});
            runtime::decode_request r;
            r.prompt.assign(p.begin(), p.end());
            r.options.length = 64;
            r.options.steps = 16;
            r.options.sampler = "sdar_static";
            r.options.cache = cache;
            r.options.temperature = 0.0;
            const auto res = s.decode(r);
            CAPTURE(cache);
            CAPTURE(threads);
            REQUIRE(res.tokens.shape(1) == want.shape(1));
            for (std::size_t i = 0; i < want.shape(1); ++i) CHECK(res.tokens(0, i) == want(0, i));
            if (std::string(cache) == "block") CHECK(res.nfe == std::size_t(nfe(0)));
        }
    }
}

TEST_CASE("session: --attention-block decodes an a2d-qwen3 checkpoint as dllm's BD3LM sampler (left padding, lazy store)") {
    // tests/data/models/dllm_qwen3_tiny/generate_golden.safetensors: tools/reference/make_block_goldens.py,
    // block_generate.dllm_bd3lm_sample (ZHZisZZ/dllm BD3LMSampler.sample), block size 8, 24 new
    // tokens, 24 steps in all (8 per block), temperature 0; its canvas starts with 3 pads.
    const auto g = io::safetensors_file::open(models / "dllm_qwen3_tiny" / "generate_golden.safetensors");
    const auto p = g.tensor("prompt_ids").to_i64<2>();
    const auto want = g.tensor("output_ids").to_i64<2>();
    const auto nfe = g.tensor("nfe").to_i64<1>();
    const std::size_t pads = 3;
    for (const char* cache : {"block", "none"}) {
        auto s = cli::open_session(
            {.model = (models / "dllm_qwen3_tiny").string(), .threads = 2, .compute = "exact", .attention_block = 8});
        CHECK(s.info().block_length == 8);
        runtime::decode_request r;
        r.prompt.assign(p.begin(), p.end());
        r.options.max_new_tokens = 24;
        r.options.steps = 8;
        r.options.temperature = 0.0;
        r.options.cache = cache;
        const auto res = s.decode(r);
        CAPTURE(cache);
        REQUIRE(res.tokens.shape(1) == want.shape(1) - pads);
        for (std::size_t i = 0; i < res.tokens.shape(1); ++i) CHECK(res.tokens(0, i) == want(0, i + pads));
        CHECK(res.prompt_length == p.shape(1));
        if (std::string(cache) == "block") CHECK(res.nfe == std::size_t(nfe(0)));
    }
    auto plain = cli::open_session({.model = (models / "dllm_qwen3_tiny").string(), .threads = 1});
    CHECK(plain.info().block_length == 0);  // MDLM (bidirectional) unless a block size is given
    CHECK(error_of([&] {
              cli::open_session({.model = (models / "llada_tiny_f32").string(), .threads = 1, .attention_block = 8});
          }) == "attention_block = '8', expected 0 for a llada checkpoint (only a2d-qwen3 checkpoints take their block "
                "size from the command line; this one's attention is fixed by its config)");
}
