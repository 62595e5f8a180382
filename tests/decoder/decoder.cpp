// Tests for remask/, sampler/ and decoder/: hand-computed scores and counts, exactness
// against the oracle's true distribution, determinism, blocks, infilling, EOS handling, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "../support/stats.hpp"
#include "../support/tolerance.hpp"
#include "ddiff/ddiff.hpp"

using namespace ddiff;

namespace {
// A fixed 3-state chain with every transition possible.
oracle::markov_chain small_chain() {
    xt::xtensor<double, 1> init = {0.5, 0.3, 0.2};
    xt::xtensor<double, 2> P = {{0.6, 0.3, 0.1}, {0.2, 0.5, 0.3}, {0.3, 0.3, 0.4}};
    return oracle::markov_chain(init, P);
}

// Samples n sequences of length L from a decoder at temperature 1 and compares the histogram
// over all 3^L sequences with the chain's exact probabilities (chi-square, p = 0.001).
template <class Dec>
void check_exact(Dec& dec, const oracle::markov_chain& chain, std::size_t L, std::uint32_t steps, std::size_t n) {
    std::size_t cells = 1;
    for (std::size_t i = 0; i < L; ++i) cells *= 3;
    std::vector<double> p(cells);
    std::vector<token_id> s(L);
    for (std::size_t code = 0; code < cells; ++code) {
        std::size_t c = code;
        for (std::size_t i = 0; i < L; ++i, c /= 3) s[i] = token_id(c % 3);
        p[code] = std::exp(chain.log_likelihood(s));
    }
    std::vector<std::size_t> counts(cells, 0);
    generate_options o;
    o.gen_length = L;
    o.steps = steps;
    o.temperature = 1.0;
    for (std::size_t r = 0; r < n; ++r) {
        o.seed = r;
        const auto res = dec.generate(sequence{}, o);
        std::size_t code = 0, mul = 1;
        for (std::size_t i = 0; i < L; ++i, mul *= 3) code += std::size_t(res.tokens(0, i)) * mul;
        ++counts[code];
    }
    CHECK(test::chi_square(counts, p, n) < test::chi_square_critical(double(cells - 1)));
}
}  // namespace

TEST_CASE("LLaDA's split: 10 over 4 steps is 3, 3, 2, 2; Dream's count can be 0 and ends with all") {
    CHECK(sampler::llada_split(10, 4) == std::vector<std::size_t>{3, 3, 2, 2});
    CHECK(sampler::llada_split(3, 5) == std::vector<std::size_t>{1, 1, 1, 0, 0});
    CHECK(sampler::llada_split(8, 2) == std::vector<std::size_t>{4, 4});
    // Dream, eps 1e-3, 4 steps, M = 10 still masked at each step:
    // j=0: t=1, s=0.75025: floor(10 * 0.24975) = 2; the last step returns all.
    CHECK(sampler::dream_count::count(10, 0, 4, 1e-3) == 2);
    CHECK(sampler::dream_count::count(1, 0, 4, 1e-3) == 0);
    CHECK(sampler::dream_count::count(7, 3, 4, 1e-3) == 7);
    CHECK_THROWS_AS(sampler::llada_split(4, 0), invalid_argument);
}

TEST_CASE("scores on hand-computed distributions") {
    const std::vector<double> p = {0.5, 0.3, 0.2};
    const std::vector<double> l = {std::log(2.0), 0.0, 0.0};  // softmax = 0.5, 0.25, 0.25
    const double log_z = std::log(4.0);
    const position_view v{3, p, 1, l, log_z};
    const step_info s{};
    const counter_rng g(0);
    CHECK(remask::low_confidence{}.score(v, s, g) == doctest::Approx(0.25));
    CHECK(remask::confidence{}.score(v, s, g) == doctest::Approx(0.3));
    CHECK(remask::margin{}.score(v, s, g) == doctest::Approx(0.2));
    const double negent = 0.5 * std::log(0.5 + 1e-10) + 0.3 * std::log(0.3 + 1e-10) + 0.2 * std::log(0.2 + 1e-10);
    CHECK(remask::entropy{}.score(v, s, g) == doctest::Approx(negent).epsilon(1e-12));
    const double r = remask::random{}.score(v, s, g);
    CHECK(r == g.uniform({streams::remask, 0, 3}));
    // A sharper distribution is more certain under entropy (Dream's sign).
    const std::vector<double> sharp = {0.9, 0.05, 0.05};
    CHECK(remask::entropy{}.score({0, sharp, 0}, s, g) > remask::entropy{}.score(v, s, g));
}

TEST_CASE("threshold, factor and EB rules on hand-computed candidates") {
    std::vector<token_id> canvas(6, 9);
    std::vector<sampler::candidate> cs = {
        {0, 1, 0.95, 0.95, 0.1}, {1, 2, 0.5, 0.5, 1.0}, {2, 3, 0.92, 0.92, 0.2}, {3, 4, 0.7, 0.7, 0.6}};
    const counter_rng g(0);
    auto ctx = [&](std::vector<sampler::candidate>& c) {
        std::fill(canvas.begin(), canvas.end(), 9);
        return sampler::step_context{canvas, c, 9, 0, 0, 4, 4, 1.0, 0.75, 0.0, 0.25, nullptr, &g};
    };
    {
        auto c = ctx(cs);
        sampler::threshold{0.9}.step(c);  // 0.95 (top-1) and 0.92
        CHECK(canvas == std::vector<token_id>{1, 9, 3, 9, 9, 9});
    }
    {
        auto c = ctx(cs);
        sampler::threshold{0.99}.step(c);  // only the top-1
        CHECK(canvas == std::vector<token_id>{1, 9, 9, 9, 9, 9});
    }
    {
        // factor f = 1: sorted 0.95, 0.92, 0.7, 0.5 against 1 - 1/(n+1) = 0.5, 0.667, 0.75, 0.8:
        // 0.95 >= 0.5, 0.92 >= 0.667, 0.7 < 0.75 -> n = 2.
        auto c = ctx(cs);
        sampler::factor{1.0}.step(c);
        CHECK(canvas == std::vector<token_id>{1, 9, 3, 9, 9, 9});
    }
    {
        // EB, gamma = 0.25: by score H = 0.1, 0.2, 0.6, 1.0; sums minus max: 0, 0.1, 0.3 > 0.25 -> k = 2.
        auto c = ctx(cs);
        sampler::entropy_bounded{0.25}.step(c);
        CHECK(canvas == std::vector<token_id>{1, 9, 3, 9, 9, 9});
        auto c2 = ctx(cs);
        sampler::entropy_bounded{0.0}.step(c2);  // gamma 0 with positive entropies: one per step
        CHECK(c2.committed == 1);
    }
}

TEST_CASE("exact samplers reproduce the chain's distribution (chi-square over all 3^4 sequences)") {
    const auto chain = small_chain();
    oracle::absorbing_markov_oracle model(chain);
    const std::size_t L = 4, n = 20000;
    SUBCASE("LLaDA top-k with random remasking, one token per step") {
        decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::random, sampler::top_k> d(model);
        check_exact(d, chain, L, 4, n);
    }
    SUBCASE("first-hitting sampler") {
        decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::random, sampler::first_hitting> d(model);
        check_exact(d, chain, L, 1, n);
    }
    SUBCASE("schedule-driven counts with steps = length") {
        decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::random, sampler::schedule_count> d(model);
        check_exact(d, chain, L, 4, n);
    }
}

TEST_CASE("parallel decoding is not exact: committing all positions at once is the product of marginals") {
    // One step commits all 4 positions independently from their marginals; the chi-square
    // against the joint must be far beyond the critical value (the factorisation error).
    const auto chain = small_chain();
    oracle::absorbing_markov_oracle model(chain);
    decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::random, sampler::top_k> d(model);
    const std::size_t L = 4, n = 20000;
    std::vector<double> p(81);
    std::vector<std::size_t> counts(81, 0);
    for (std::size_t code = 0; code < 81; ++code) {
        std::vector<token_id> s = {token_id(code % 3), token_id(code / 3 % 3), token_id(code / 9 % 3), token_id(code / 27)};
        p[code] = std::exp(chain.log_likelihood(s));
    }
    generate_options o;
    o.gen_length = L;
    o.steps = 1;
    o.temperature = 1.0;
    for (std::size_t r = 0; r < n; ++r) {
        o.seed = r;
        const auto res = d.generate(sequence{}, o);
        ++counts[std::size_t(res.tokens(0, 0) + 3 * res.tokens(0, 1) + 9 * res.tokens(0, 2) + 27 * res.tokens(0, 3))];
    }
    CHECK(test::chi_square(counts, p, n) > 10 * test::chi_square_critical(80.0));
}

TEST_CASE("the same seed gives identical output with 1 and 2 threads; temperature 0 is deterministic") {
    const auto tc = oracle::fit_text("In the beginning God created the heaven and the earth.");
    oracle::absorbing_markov_oracle model(tc.chain);
    decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::low_confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 48;
    o.steps = 12;
    o.block_length = 16;
    o.temperature = 0.8;
    o.seed = 42;
    o.threads = 1;
    const auto one = d.generate(tc.encode("In"), o);
    o.threads = 2;
    const auto two = d.generate(tc.encode("In"), o);
    CHECK(one.tokens == two.tokens);
    o.temperature = 0.0;
    o.seed = 1;
    const auto g1 = d.generate(tc.encode("In"), o);
    o.seed = 2;
    const auto g2 = d.generate(tc.encode("In"), o);
    CHECK(g1.tokens == g2.tokens);
    CHECK(g1.nfe == 12);
}

TEST_CASE("blocks never commit outside the current block; infilling keeps every fixed position") {
    const auto tc = oracle::fit_text("abracadabra, said the magician to the rabbit.");
    oracle::absorbing_markov_oracle model(tc.chain);
    decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::confidence, sampler::top_k> d(model);
    generate_options o;
    o.gen_length = 24;
    o.steps = 12;
    o.block_length = 8;
    o.temperature = 1.0;
    std::size_t records = 0;
    d.generate(tc.encode("ab"), o, [&](const step_record& r) {
        ++records;
        const std::size_t lo = 2 + r.block * 8, hi = lo + 8;
        for (auto p : r.committed) {
            CHECK(p >= lo);
            CHECK(p < hi);
        }
    });
    CHECK(records == 12);

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

TEST_CASE("EOS suppression never emits EOS; EOS confidence -inf commits it last") {
    const auto tc = oracle::fit_text("aaaaaaaaaaaaaaaaaab");  // 'a' dominates
    oracle::absorbing_markov_oracle model(tc.chain);
    decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::low_confidence, sampler::top_k> d(model);
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

TEST_CASE("impossible parameters are typed errors naming the parameter") {
    const auto tc = oracle::fit_text("some text here");
    oracle::absorbing_markov_oracle model(tc.chain);
    decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::low_confidence, sampler::top_k> d(model);
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
    CHECK_THROWS_AS(d.generate(sequence{}, o), invalid_argument);
    o.temperature = 0;
    o.gen_length = 0;
    CHECK_THROWS_AS(d.generate(sequence{}, o), invalid_argument);
}

TEST_CASE("MaskGIT keeps floor(N0 gamma(r)) masked, at least one, and fills everything at the end") {
    std::vector<token_id> canvas(10, 9);
    std::vector<sampler::candidate> cs;
    for (std::size_t i = 0; i < 10; ++i) cs.push_back({i, 1, double(i), 0.5, 0.1});
    const counter_rng g(0);
    // cosine: gamma(0.25) = cos(pi / 8) = 0.924 -> mask_len 9 -> commit 1.
    const double a_s = 1.0 - std::cos(schedule::pi / 8.0);
    sampler::step_context c{canvas, cs, 9, 0, 0, 4, 10, 1.0, 0.75, 0.0, a_s, nullptr, &g};
    sampler::maskgit{}.step(c);
    CHECK(c.committed == 1);
    CHECK(canvas[9] == 1);  // the best score
    // Late: gamma tiny -> mask_len clamps up to 1.
    sampler::step_context late{canvas, cs, 9, 0, 2, 4, 10, 0.5, 0.25, 0.0, 1.0 - 1e-6, nullptr, &g};
    sampler::maskgit{}.step(late);
    CHECK(late.committed == 9);
    sampler::step_context last{canvas, cs, 9, 0, 3, 4, 10, 0.25, 0.0, 0.0, 1.0, nullptr, &g};
    sampler::maskgit{}.step(last);
    CHECK(last.committed == 10);
}

TEST_CASE("dInfer threshold and hierarchical rules (hand-computed)") {
    std::vector<token_id> canvas(8, 9);
    const counter_rng g(0);
    // positions 0,1,2 | 4,5 | 7 with confidences
    std::vector<sampler::candidate> cs = {{0, 1, 0, 0.30}, {1, 1, 0, 0.50}, {2, 1, 0, 0.50},
                                          {4, 1, 0, 0.35}, {5, 1, 0, 0.20}, {7, 1, 0, 0.95}};
    auto fresh = [&] {
        std::fill(canvas.begin(), canvas.end(), 9);
        return sampler::step_context{canvas, cs, 9, 0, 0, 1, 6, 1.0, 0.0, 0.0, 1.0, nullptr, &g};
    };
    {
        auto c = fresh();
        sampler::dinfer_threshold{0.9}.step(c);  // only 0.95 >= min(0.9, 0.95 - 1e-5)
        CHECK(canvas == std::vector<token_id>{9, 9, 9, 9, 9, 9, 9, 1});
    }
    {
        auto c = fresh();
        sampler::dinfer_threshold{0.99}.step(c);  // tau_eff = 0.95 - 1e-5: still the best
        CHECK(c.committed == 1);
    }
    {
        // runs: {0,1,2} max 0.5 (tied at 1 and 2) > 0.4 -> 1, 2; {4,5} max 0.35 < 0.4 -> none;
        // {7} 0.95 -> 7 (also > tau and the global best).
        auto c = fresh();
        sampler::dinfer_hierarchical{0.9, 0.4}.step(c);
        CHECK(canvas == std::vector<token_id>{9, 1, 1, 9, 9, 9, 9, 1});
    }
}

TEST_CASE("ReMDM re-masks decoded tokens and reveals masked ones at the posterior rates (5 sd)") {
    const std::size_t n = 4000;
    std::vector<token_id> canvas(2 * n, 9);
    std::vector<sampler::candidate> cs;
    std::vector<std::size_t> decoded;
    std::vector<double> conf(2 * n, -std::numeric_limits<double>::infinity());
    for (std::size_t i = 0; i < n; ++i) cs.push_back({i, 1, 0, 0.5});
    for (std::size_t i = n; i < 2 * n; ++i) {
        canvas[i] = 2;
        decoded.push_back(i);
        conf[i] = 0.7;
    }
    const counter_rng g(17);
    // alpha_t 0.5, alpha_s 0.6: sigma_max = 0.8; rescale eta 0.5 -> sigma 0.4;
    // reveal = (0.6 - 0.6 * 0.5) / 0.5 = 0.6.
    sampler::step_context c{canvas, cs, 9, 3, 1, 4, n, 0.5, 0.4, 0.5, 0.6, nullptr, &g};
    c.decoded = decoded;
    c.unmask_confidence = conf;
    sampler::remdm{sampler::remdm_strategy::rescale, 0.5}.step(c);
    CHECK(std::abs(double(c.remasked) / n - 0.4) <= test::binomial_bound(0.4, n, 5.0));
    CHECK(std::abs(double(c.committed) / n - 0.6) <= test::binomial_bound(0.6, n, 5.0));
    for (std::size_t i = n; i < 2 * n; ++i) CHECK((canvas[i] == 2 || canvas[i] == 9));
}

TEST_CASE("MDLM's cache: a time-free model is not called again when a step changed nothing") {
    const auto chain = small_chain();
    oracle::absorbing_markov_oracle model(chain);
    decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::random, sampler::ancestral> d(model);
    generate_options o;
    o.gen_length = 4;
    o.steps = 64;
    o.temperature = 1.0;
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
        o.seed = seed;
        const auto res = d.generate(sequence{}, o);
        CHECK(res.nfe <= 4);  // one call per change of the canvas, at most one per position
        CHECK(res.steps <= 64);
    }
    // A KV cache mode needs a model with forward_cached; the oracle has none.
    o.cache = kv_cache_mode::prefix;
    CHECK_THROWS_WITH_AS(d.generate(sequence{}, o), doctest::Contains("KV cache"), invalid_argument);
}

TEST_CASE("alg_temp near 0 selects like top-k; a uniform-noise analytic sampler is exact for one token") {
    const auto chain = small_chain();
    {
        oracle::absorbing_markov_oracle model(chain);
        decoder<oracle::absorbing_markov_oracle, schedule::log_linear, remask::confidence, sampler::top_k> d(model);
        generate_options o;
        o.gen_length = 12;
        o.steps = 4;
        o.temperature = 1.0;
        o.seed = 3;
        const auto plain = d.generate(sequence{}, o);
        o.alg_temp = 1e-12;
        const auto tempered = d.generate(sequence{}, o);
        CHECK(plain.tokens == tempered.tokens);
    }
    {
        // L = 1 under uniform noise: the analytic (Tweedie) step is the exact reverse, so the
        // final token follows the chain's initial distribution (chi-square, p = 0.001).
        oracle::uniform_markov_oracle model(chain);
        decoder<oracle::uniform_markov_oracle, schedule::log_linear, remask::confidence,
                sampler::sedd_analytic<noise_kind::uniform>>
            d(model);
        generate_options o;
        o.gen_length = 1;
        o.steps = 8;
        o.temperature = 1.0;
        const std::size_t n = 20000;
        std::vector<std::size_t> counts(3, 0);
        for (std::size_t r = 0; r < n; ++r) {
            o.seed = r;
            ++counts[std::size_t(d.generate(sequence{}, o).tokens(0, 0))];
        }
        const std::vector<double> p = {0.5, 0.3, 0.2};
        CHECK(test::chi_square(counts, p, n) < test::chi_square_critical(2.0));
    }
}

TEST_CASE("every sampler composes with the oracle and fills the canvas") {
    const auto tc = oracle::fit_text("the quick brown fox jumps over the lazy dog");
    oracle::absorbing_markov_oracle model(tc.chain);
    generate_options o;
    o.gen_length = 16;
    o.steps = 8;
    o.block_length = 8;
    o.temperature = 1.0;
    auto run = [&](auto dec) {
        const auto res = dec.generate(tc.encode("the"), o);
        for (auto v : res.tokens) CHECK(v != model.mask_id());
        CHECK(res.nfe >= 1);
    };
    using M = oracle::absorbing_markov_oracle;
    using S = schedule::log_linear;
    run(decoder<M, S, remask::low_confidence, sampler::dream_count>(model));
    run(decoder<M, S, remask::margin, sampler::schedule_count>(model, {}, {}, {true}));
    run(decoder<M, S, remask::entropy, sampler::threshold>(model));
    run(decoder<M, S, remask::confidence, sampler::factor>(model));
    run(decoder<M, S, remask::confidence, sampler::entropy_bounded>(model));
    run(decoder<M, S, remask::random, sampler::first_hitting>(model));
    run(decoder<M, schedule::maskgit, remask::maskgit_gumbel, sampler::maskgit>(model));
    run(decoder<M, S, remask::confidence, sampler::dinfer_threshold>(model));
    run(decoder<M, S, remask::confidence, sampler::dinfer_hierarchical>(model));
    run(decoder<M, S, remask::random, sampler::remdm>(model));
    run(decoder<M, schedule::remdm_loop, remask::random, sampler::remdm>(model, {}, {}, {sampler::remdm_strategy::loop, 0.02}));
    run(decoder<M, S, remask::random, sampler::remdm>(model, {}, {}, {sampler::remdm_strategy::conf, 1.0}));
    run(decoder<M, S, remask::random, sampler::sedd_euler<>>(model));
    run(decoder<M, S, remask::random, sampler::sedd_analytic<>>(model));
    std::vector<double> freq(model.vocab_size(), 1.0 / double(model.vocab_size()));
    run(decoder<M, S, remask::pc_debias, sampler::top_k>(model, {}, remask::pc_debias(freq)));
    oracle::uniform_markov_oracle umodel(tc.chain);
    using U = oracle::uniform_markov_oracle;
    auto urun = [&](auto dec) {
        const auto res = dec.generate(tc.encode("the"), o);
        CHECK(res.tokens(0, 0) == tc.encode('t'));
        CHECK(res.nfe >= 1);
    };
    urun(decoder<U, S, remask::confidence, sampler::duo_ancestral>(umodel));
    urun(decoder<U, S, remask::confidence, sampler::duo_ancestral>(umodel, {}, {}, {true}));
    urun(decoder<U, S, remask::confidence, sampler::sedd_euler<noise_kind::uniform>>(umodel));
    urun(decoder<U, S, remask::confidence, sampler::sedd_analytic<noise_kind::uniform>>(umodel));
}

namespace {
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
}  // namespace

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

TEST_CASE("MaskGIT's annealed Gumbel, PC-sampler, credit and KLASS scores (hand-computed)") {
    const std::vector<double> p = {0.5, 0.3, 0.2};
    const std::vector<double> l = {std::log(2.0), 0.0, 0.0};  // raw softmax 0.5, 0.25, 0.25
    const counter_rng g(9);
    // MaskGIT at the last step (r = 1): no noise, log p(x^).
    const step_info last{5, 4, 0.25, 0.0, 3, 0};
    CHECK(remask::maskgit_gumbel{}.score({0, p, 1, l, std::log(4.0)}, last, g) == doctest::Approx(std::log(0.3)));
    // Earlier: log p - tau (1 - r) log(-log u) with the remask draw (index 2).
    const step_info first{5, 4, 1.0, 0.75, 0, 0};
    const double u = g.uniform({streams::remask, 5, 7}, 2);
    CHECK(remask::maskgit_gumbel{2.0}.score({7, p, 1, l, std::log(4.0)}, first, g) ==
          doctest::Approx(std::log(0.3) - 2.0 * 0.75 * std::log(-std::log(u))));
    // PC-sampler: exp(-lambda i) min(-p log(f + 1e-9), alpha); p = raw softmax 0.25, f = 0.1, i = 2.
    const remask::pc_debias pc({0.6, 0.1, 0.3}, 0.5, 1.0);
    const step_info blk{0, 4, 1.0, 0.75, 0, 10};
    CHECK(pc.score({12, p, 1, l, std::log(4.0)}, blk, g) ==
          doctest::Approx(std::exp(-0.5 * 2.0) * (-0.25 * std::log(0.1 + 1e-9))));
    // Credit: first step of a block C = p_top1^0.2 at the top token; logits += 0.7 log(1 + C).
    const remask::credit cr;
    cr.reset(1, 4, 3);
    std::vector<double> lg = {std::log(2.0), 0.0, 0.0};
    cr.fuse_logits(0, 1, lg, step_info{0, 4, 1.0, 0.75, 0, 0});
    const double c1 = std::pow(0.5, 0.2);
    CHECK(lg[0] == doctest::Approx(std::log(2.0) + 0.7 * std::log1p(c1)));
    CHECK(lg[1] == doctest::Approx(0.0));
    // Next step: C decays by 0.8 before the new boost.
    std::vector<double> lg2 = {std::log(2.0), 0.0, 0.0};
    cr.fuse_logits(0, 1, lg2, step_info{1, 4, 0.75, 0.5, 1, 0});
    CHECK(lg2[0] == doctest::Approx(std::log(2.0) + 0.7 * std::log1p(0.8 * float(c1) + c1)).epsilon(1e-6));
    // KLASS: unstable until two consecutive steps change by KL < 0.01.
    const remask::klass k;
    k.reset(1, 2, 3);
    const position_view v{1, p, 0, l, 0.0, 0};
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5 - 2.0));  // vs zeros: huge KL
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5 - 2.0));  // history still holds the huge KL
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5));        // two zero KLs: stable
    const std::vector<double> moved = {0.2, 0.3, 0.5};
    CHECK(k.score({1, moved, 0, l, 0.0, 0}, {}, g) == doctest::Approx(0.2 - 2.0));
}

TEST_CASE("credit and KLASS compose with the decoder") {
    const auto tc = oracle::fit_text("the quick brown fox jumps over the lazy dog");
    oracle::absorbing_markov_oracle model(tc.chain);
    generate_options o;
    o.gen_length = 16;
    o.steps = 8;
    o.block_length = 8;
    o.temperature = 0.0;
    using M = oracle::absorbing_markov_oracle;
    const auto a = decoder<M, schedule::log_linear, remask::credit, sampler::dinfer_threshold>(model).generate(tc.encode("the"), o);
    const auto b = decoder<M, schedule::log_linear, remask::klass, sampler::threshold>(model).generate(tc.encode("the"), o);
    for (auto v : a.tokens) CHECK(v != model.mask_id());
    for (auto v : b.tokens) CHECK(v != model.mask_id());
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
