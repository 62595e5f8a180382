// The decode loop: blocks, infilling, determinism over threads and batches, EOS handling, the
// model traits it honours (Dream's shift, MDLM's reuse), CFG, observers and cancellation, and
// its typed errors.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include "../support/stats.hpp"
#include "../support/tolerance.hpp"
#include "../support/test_models.hpp"
#include "ddiff/ddiff.hpp"

using namespace ddiff;

namespace {
using oracle_t = oracle::absorbing_markov_oracle;

// A model whose row i strongly predicts token i % 3; with shift_logits, position i must take
// the row of position i - 1 (Dream), position 0 its own.
template <bool Shift>
struct position_model {
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;
    static constexpr bool shift_logits = Shift;
    std::size_t vocab_size() const { return 4; }
    token_id mask_id() const { return 3; }
    void denoise(const token_batch& x, std::span<const double>, xt::xtensor<float, 3>& out) const {
        out = xt::zeros<float>({x.shape(0), x.shape(1), std::size_t{4}});
        for (std::size_t b = 0; b < x.shape(0); ++b)
            for (std::size_t i = 0; i < x.shape(1); ++i) out(b, i, i % 3) = 10.0f;
    }
};

// A user step rule with no `name`, adaptive, that never commits (to hit the progress cap).
struct stuck {
    using sampler_concept = sampler_tag;
    static constexpr bool adaptive = true;
    void step(sampler::step_context&) const {}
};
}  // namespace

TEST_CASE("the same seed gives identical output with 1, 2 and 3 threads; temperature 0 is deterministic") {
    const auto tc = oracle::fit_text("In the beginning God created the heaven and the earth.");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::low_confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 48;
    o.steps = 12;
    o.block_length = 16;
    o.temperature = 0.8;
    o.top_p = 0.9;
    o.seed = 42;
    o.threads = 1;
    const auto one = d.generate(tc.encode("In"), o);
    o.threads = 2;
    const auto two = d.generate(tc.encode("In"), o);
    o.threads = 3;
    const auto three = d.generate(tc.encode("In"), o);
    CHECK(one.tokens == two.tokens);
    CHECK(one.tokens == three.tokens);
    o.temperature = 0.0;
    o.top_p = 1.0;
    o.seed = 1;
    const auto g1 = d.generate(tc.encode("In"), o);
    o.seed = 2;
    const auto g2 = d.generate(tc.encode("In"), o);
    CHECK(g1.tokens == g2.tokens);
    CHECK(g1.nfe == 12);
}

TEST_CASE("per-row seeds: a row decoded in a batch equals the same seed decoded alone") {
    const auto tc = oracle::fit_text("abracadabra, said the magician to the rabbit.");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::random, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 16;
    o.steps = 8;
    o.temperature = 1.0;
    token_batch prompts = xt::zeros<token_id>({std::size_t{3}, std::size_t{2}});
    for (std::size_t b = 0; b < 3; ++b) {
        prompts(b, 0) = tc.encode('a');
        prompts(b, 1) = tc.encode('b');
    }
    o.seeds = {7, 8, 9};
    const auto batch = d.generate(prompts, o);
    for (std::size_t b = 0; b < 3; ++b) {
        o.seeds = {7 + b};
        const auto alone = d.generate(tc.encode("ab"), o);
        CHECK(xt::view(batch.tokens, b, xt::all()) == xt::view(alone.tokens, 0, xt::all()));
    }
    o.seeds = {1, 2};
    CHECK_THROWS_WITH_AS(d.generate(prompts, o), doctest::Contains("2 seeds for a batch of 3 rows"), invalid_argument);
}

TEST_CASE("blocks never commit outside the current block; infilling keeps every fixed position") {
    const auto tc = oracle::fit_text("abracadabra, said the magician to the rabbit.");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 24;
    o.steps = 12;
    o.block_length = 8;
    o.temperature = 1.0;
    std::size_t records = 0, committed = 0;
    d.generate(tc.encode("ab"), o, [&](const step_record& r) {
        ++records;
        committed += r.committed.size();
        const std::size_t lo = 2 + r.block * 8, hi = lo + 8;
        for (auto p : r.committed) {
            CHECK(p >= lo);
            CHECK(p < hi);
        }
    });
    CHECK(records == 12);
    CHECK(committed == 24);

    token_batch canvas = xt::zeros<token_id>({std::size_t{2}, std::size_t{12}});
    const token_id m = model.mask_id();
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 0; i < 12; ++i) canvas(b, i) = (i % 3 == 1) ? m : token_id((i + b) % 4);
    o.block_length = 0;
    o.steps = 4;
    const auto res = d.infill(canvas, o);
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 0; i < 12; ++i) {
            if (canvas(b, i) != m) CHECK(res.tokens(b, i) == canvas(b, i));
            CHECK(res.tokens(b, i) != m);
        }
}

TEST_CASE("EOS suppression never emits EOS") {
    const auto tc = oracle::fit_text("aaaaaaaaaaaaaaaaaab");  // 'a' dominates
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::low_confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 32;
    o.steps = 8;
    o.temperature = 1.0;
    o.eos_ids = {tc.encode('a')};
    o.suppress_eos = true;
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
        o.seed = seed;
        const auto res = d.generate(sequence{}, o);
        for (auto v : res.tokens) CHECK(v != tc.encode('a'));
    }
}

TEST_CASE("eos_confidence_last: EOS proposals are committed only after every other position") {
    // Positions 0 and 1 propose EOS (token 2) at 0.99, positions 2 and 3 token 0 at 0.6. One
    // commit per step: without the option the EOS positions go first, with it last.
    auto rows = [](std::size_t i, std::size_t) { return i < 2 ? test::peaked(3, 2, 0.99) : test::peaked(3, 0, 0.6); };
    generate_options o;
    o.gen_length = 4;
    o.steps = 4;
    o.eos_ids = {2};
    auto order = [&](bool last) {
        test::scripted_model m{.vocab = 4, .rows = rows};
        decoder<test::scripted_model, schedule::log_linear, remask::low_confidence, sampler::top_k> d(m);
        o.eos_confidence_last = last;
        std::vector<std::size_t> seq;
        const auto res = d.generate(sequence{}, o, [&](const step_record& r) {
            for (auto p : r.committed) seq.push_back(p);
        });
        CHECK(res.tokens == token_batch{{2, 2, 0, 0}});
        return seq;
    };
    CHECK(order(false) == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK(order(true) == std::vector<std::size_t>{2, 3, 0, 1});
}

TEST_CASE("impossible parameters are typed errors naming the parameter") {
    const auto tc = oracle::fit_text("some text here");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::low_confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 10;
    o.steps = 0;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("steps = 0"), invalid_argument);
    o.steps = 4;
    o.block_length = 3;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("block_length = 3 does not divide"),
                         invalid_argument);
    o.block_length = 5;
    o.steps = 3;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("not a multiple of the 2 blocks"),
                         invalid_argument);
    o.steps = 4;
    o.temperature = -1;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("temperature = -1"), invalid_argument);
    o.temperature = 0;
    o.top_p = 0;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("top_p = 0"), invalid_argument);
    o.top_p = 1;
    o.suppress_eos = true;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("without eos_ids"), invalid_argument);
    o.suppress_eos = false;
    o.eos_ids = {999};
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("eos id = 999"), invalid_argument);
    o.eos_ids = {};
    o.gen_length = 0;
    CHECK_THROWS_AS(d.generate(sequence{}, o), invalid_argument);
}

TEST_CASE("an adaptive sampler that makes no progress is a typed error after max_steps_per_block steps") {
    const auto tc = oracle::fit_text("some text here");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::low_confidence, stuck> d(model);
    generate_options o;
    o.gen_length = 8;
    o.steps = 8;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("(unnamed)' made no progress in 8 steps"),
                         invalid_argument);
    o.max_steps_per_block = 3;
    std::size_t steps = 0;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o, [&](const step_record&) { ++steps; }),
                         doctest::Contains("no progress in 3 steps"), invalid_argument);
    CHECK(steps == 3);
}

TEST_CASE("ReMDM refines every planned step, also after its block holds no mask") {
    // remdm_loop over 32 positions with 1024 steps on the oracle: the loop phase (alpha held
    // constant) re-masks and reveals; the decoder must run all 1024 steps of the plan.
    const auto tc = oracle::fit_text("In the beginning God created the heaven and the earth.");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::remdm_loop, remask::random, sampler::remdm_loop> d(model);
    generate_options o;
    o.gen_length = 32;
    o.steps = 1024;
    o.temperature = 1.0;
    std::size_t remasked = 0;
    const auto res = d.generate(sequence{}, o, [&](const step_record& r) { remasked += r.remasked.size(); });
    CHECK(res.steps == 1024);
    CHECK(remasked > 0);
    for (auto v : res.tokens) CHECK(v != model.mask_id());
    // A rule that never re-masks stops at the step its block is full (top_k with 32 positions
    // over 64 planned steps commits its last position at step 32 of the plan: no more calls).
    decoder<oracle_t, schedule::log_linear, remask::random, sampler::top_k> plain(model);
    o.steps = 64;
    const auto p = plain.generate(sequence{}, o);
    CHECK(p.steps == 32);
}

TEST_CASE("proposal filters apply in Dream's order: temperature, top-p, then top-k") {
    // p = (0.5, 0.3, 0.2), top_p 0.6 keeps {0, 1} (0.5 + 0.3 crosses 0.6), top_k 2 keeps both:
    // p~ = (0.625, 0.375, 0). Top-k first would leave (0.625, 0.375) and top-p then only token 0.
    std::vector<double> l = {std::log(0.5), std::log(0.3), std::log(0.2)};
    proposal_scratch w;
    sampling_distribution(l, {.temperature = 1.0, .top_k = 2, .top_p = 0.6}, w);
    CHECK(l[0] == doctest::Approx(0.625).epsilon(1e-12));
    CHECK(l[1] == doctest::Approx(0.375).epsilon(1e-12));
    CHECK(l[2] == 0.0);
    // Through the decoder: token 1 is drawn about 37.5% of the time (5 sd binomial bound).
    test::scripted_model m{.vocab = 4, .rows = [](std::size_t, std::size_t) {
        return std::vector<float>{float(std::log(0.5)), float(std::log(0.3)), float(std::log(0.2)), -INFINITY};
    }};
    decoder<test::scripted_model, schedule::log_linear, remask::random, sampler::top_k> d(m);
    generate_options o;
    o.gen_length = 1;
    o.steps = 1;
    o.temperature = 1.0;
    o.top_k = 2;
    o.top_p = 0.6;
    const std::size_t n = 4000;
    std::size_t ones = 0, twos = 0;
    for (std::size_t r = 0; r < n; ++r) {
        o.seed = r;
        const auto t = d.generate(sequence{}, o).tokens(0, 0);
        ones += t == 1;
        twos += t == 2;
    }
    CHECK(std::abs(double(ones) / n - 0.375) <= test::binomial_bound(0.375, n, 5.0));
    CHECK(twos == 0);
}

TEST_CASE("MDLM's cache: a time-free model is not called again when a step changed nothing") {
    xt::xtensor<double, 1> init = {0.5, 0.3, 0.2};
    xt::xtensor<double, 2> P = {{0.6, 0.3, 0.1}, {0.2, 0.5, 0.3}, {0.3, 0.3, 0.4}};
    oracle_t model(oracle::markov_chain(init, P));
    decoder<oracle_t, schedule::log_linear, remask::random, sampler::ancestral> d(model);
    generate_options o;
    o.gen_length = 4;
    o.steps = 64;
    o.temperature = 1.0;
    bool some_reuse = false;
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
        o.seed = seed;
        const auto res = d.generate(sequence{}, o);
        CHECK(res.nfe <= 4);  // one call per change of the canvas, at most one per position
        some_reuse |= res.nfe < res.steps;
    }
    CHECK(some_reuse);
    // A KV cache mode needs a model with forward_cached; the oracle has none.
    o.cache = kv_cache_mode::prefix;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("KV cache"), invalid_argument);
}

TEST_CASE("alg_temp near 0 selects like top-k") {
    const auto tc = oracle::fit_text("the quick brown fox jumps over the lazy dog");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 12;
    o.steps = 4;
    o.temperature = 1.0;
    o.seed = 3;
    const auto plain = d.generate(sequence{}, o);
    o.alg_temp = 1e-12;
    const auto tempered = d.generate(sequence{}, o);
    CHECK(plain.tokens == tempered.tokens);
    o.alg_temp = 5.0;  // a real temperature changes which positions go first
    bool differs = false;
    for (std::uint64_t s = 0; s < 8 && !differs; ++s) {
        o.seed = s;
        o.alg_temp = 0.0;
        const auto a = d.generate(sequence{}, o);
        o.alg_temp = 5.0;
        differs = !(a.tokens == d.generate(sequence{}, o).tokens);
    }
    CHECK(differs);
}

TEST_CASE("Dream's one-position logit shift is a model trait the decoder honours") {
    generate_options o;
    o.gen_length = 6;
    o.steps = 3;
    position_model<false> plain;
    const auto a = decoder<position_model<false>, schedule::log_linear, remask::confidence, sampler::top_k>(plain)
                       .generate(sequence{}, o);
    CHECK(a.tokens == token_batch{{0, 1, 2, 0, 1, 2}});
    position_model<true> shifted;
    const auto b = decoder<position_model<true>, schedule::log_linear, remask::confidence, sampler::top_k>(shifted)
                       .generate(sequence{}, o);
    CHECK(b.tokens == token_batch{{0, 0, 1, 2, 0, 1}});
}

namespace {
// Conditional logits (prompt visible) prefer token 1 slightly over 2; unconditional ones (the
// prompt masked) prefer 1 strongly: guidance l_u + (w + 1)(l_c - l_u) flips the choice to 2.
struct cfg_model {
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;
    std::size_t vocab_size() const { return 4; }
    token_id mask_id() const { return 3; }
    void denoise(const token_batch& x, std::span<const double>, xt::xtensor<float, 3>& out) const {
        out = xt::zeros<float>({x.shape(0), x.shape(1), std::size_t{4}});
        for (std::size_t b = 0; b < x.shape(0); ++b) {
            const bool conditional = x(b, 0) != 3;
            for (std::size_t i = 0; i < x.shape(1); ++i) {
                out(b, i, 1) = conditional ? 0.9f : 1.0f;
                out(b, i, 2) = conditional ? 0.8f : 0.0f;
            }
        }
    }
};
}  // namespace

TEST_CASE("LLaDA's unsupervised CFG: l_u + (w + 1)(l_c - l_u), two model calls per step") {
    cfg_model m;
    decoder<cfg_model, schedule::log_linear, remask::confidence, sampler::top_k> d(m);
    generate_options o;
    o.gen_length = 4;
    o.steps = 2;
    const sequence prompt = {0};
    const auto plain = d.generate(prompt, o);
    CHECK(plain.tokens == token_batch{{0, 1, 1, 1, 1}});
    CHECK(plain.nfe == 2);
    o.cfg_scale = 1.0;  // token 1: 1 + 2 (0.9 - 1) = 0.8; token 2: 0 + 2 (0.8 - 0) = 1.6
    const auto guided = d.generate(prompt, o);
    CHECK(guided.tokens == token_batch{{0, 2, 2, 2, 2}});
    CHECK(guided.nfe == 4);
}

TEST_CASE("an observer returning false cancels its row; the others finish") {
    const auto tc = oracle::fit_text("abracadabra, said the magician to the rabbit.");
    oracle_t model(tc.chain);
    decoder<oracle_t, schedule::log_linear, remask::low_confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 8;
    o.steps = 8;
    token_batch prompts = xt::zeros<token_id>({std::size_t{2}, std::size_t{1}});
    std::size_t seen_row1 = 0;
    const auto res = d.generate(prompts, o, [&](const step_record& r) {
        if (r.row == 1) ++seen_row1;
        return !(r.row == 1 && r.step == 2);  // cancel row 1 after its third step
    });
    CHECK(seen_row1 == 3);
    CHECK(res.cancelled == std::vector<bool>{false, true});
    std::size_t masked1 = 0;
    for (std::size_t i = 1; i < 9; ++i) {
        CHECK(res.tokens(0, i) != model.mask_id());
        masked1 += res.tokens(1, i) == model.mask_id();
    }
    CHECK(masked1 == 5);  // 3 of 8 committed before the cancellation
    CHECK(res.steps == 8);
    // Cancelling every row ends the decode: no further steps, no further model calls.
    const auto all = d.generate(prompts, o, [&](const step_record& r) { return r.step < 1; });
    CHECK(all.steps == 2);
    CHECK(all.nfe == 2);
}

TEST_CASE("stop_when_all_eos: a row stops once every masked position left proposes EOS") {
    // Vocabulary {0, 1, EOS = 2, mask 3}: positions 2 and 3 propose 1 (p 0.9), the rest EOS (p 0.6).
    // top_k commits one position per step, the most confident first: 2, then 3; at the third call
    // every masked position (4..9) proposes EOS, so they are filled with it and the row stops.
    auto rows = [](std::size_t i, std::size_t) { return i < 4 ? test::peaked(3, 1, 0.9) : test::peaked(3, 2, 0.6); };
    test::scripted_model m{.vocab = 4, .rows = rows};
    decoder<test::scripted_model, schedule::log_linear, remask::low_confidence, sampler::top_k> d(m);
    sequence prompt = xt::zeros<token_id>({std::size_t{2}});
    generate_options o;
    o.gen_length = 8;
    o.steps = 8;
    o.eos_ids = {2};
    o.stop_when_all_eos = true;
    const auto r = d.generate(prompt, o);
    const std::vector<token_id> want = {0, 0, 1, 1, 2, 2, 2, 2, 2, 2};
    CHECK(std::vector<token_id>(r.tokens.begin(), r.tokens.end()) == want);
    CHECK(r.nfe == 3);
    o.stop_when_all_eos = false;  // without the option every step runs
    CHECK(d.generate(prompt, o).nfe == 8);
    o.stop_when_all_eos = true;
    o.eos_ids.clear();
    CHECK_THROWS_AS(d.generate(prompt, o), invalid_argument);
}
