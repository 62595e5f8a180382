// Samplers against the truth: with the exact Markov-chain oracle the joint distribution of the
// data is known, so the samplers that are exact (one token per step, first-hitting, the
// uniform analytic step for one token) must reproduce it (chi-square over every sequence) and
// committing all positions at once must not. Also: every sampler composes and fills the canvas.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "../support/stats.hpp"
#include "ddiff/ddiff.hpp"

using namespace ddiff;

namespace {
// A fixed 3-state chain with every transition possible.
oracle::markov_chain small_chain() {
    xt::xtensor<double, 1> init = {0.5, 0.3, 0.2};
    xt::xtensor<double, 2> P = {{0.6, 0.3, 0.1}, {0.2, 0.5, 0.3}, {0.3, 0.3, 0.4}};
    return oracle::markov_chain(init, P);
}

// Samples n sequences of length L at temperature 1 and returns the chi-square statistic of the
// histogram over all 3^L sequences against the chain's exact probabilities.
template <class Dec>
double chi_square_of(Dec& dec, const oracle::markov_chain& chain, std::size_t L, std::uint32_t steps, std::size_t n) {
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
    return test::chi_square(counts, p, n);
}
using oracle_t = oracle::absorbing_markov_oracle;
}  // namespace

TEST_CASE("exact samplers reproduce the chain's distribution (chi-square over all 3^4 sequences, p = 0.001)") {
    const auto chain = small_chain();
    oracle_t model(chain);
    const std::size_t L = 4, n = 20000;
    const double critical = test::chi_square_critical(80.0);
    SUBCASE("LLaDA top-k with random remasking, one token per step") {
        decoder<oracle_t, schedule::log_linear, remask::random, sampler::top_k> d(model);
        CHECK(chi_square_of(d, chain, L, 4, n) < critical);
    }
    SUBCASE("first-hitting sampler") {
        decoder<oracle_t, schedule::log_linear, remask::random, sampler::first_hitting> d(model);
        CHECK(chi_square_of(d, chain, L, 1, n) < critical);
    }
    SUBCASE("schedule-driven counts with steps = length") {
        decoder<oracle_t, schedule::log_linear, remask::random, sampler::schedule_count<false>> d(model);
        CHECK(chi_square_of(d, chain, L, 4, n) < critical);
    }
    SUBCASE("parallel decoding is not exact: committing all positions at once is the product of marginals") {
        decoder<oracle_t, schedule::log_linear, remask::random, sampler::top_k> d(model);
        CHECK(chi_square_of(d, chain, L, 1, n) > 10 * critical);
    }
}

TEST_CASE("a uniform-noise analytic sampler is exact for one token") {
    // L = 1 under uniform noise: the analytic (Tweedie) step is the exact reverse, so the final
    // token follows the chain's initial distribution (chi-square, p = 0.001).
    oracle::uniform_markov_oracle model(small_chain());
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

TEST_CASE("every sampler composes with the oracle and fills the canvas") {
    const auto tc = oracle::fit_text("the quick brown fox jumps over the lazy dog");
    oracle_t model(tc.chain);
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
    using M = oracle_t;
    using S = schedule::log_linear;
    run(decoder<M, S, remask::low_confidence, sampler::dream_count>(model));
    run(decoder<M, S, remask::margin, sampler::schedule_count<true>>(model));
    run(decoder<M, S, remask::entropy, sampler::threshold>(model));
    run(decoder<M, S, remask::confidence, sampler::factor>(model));
    run(decoder<M, S, remask::confidence, sampler::entropy_bounded>(model));
    run(decoder<M, S, remask::random, sampler::first_hitting>(model));
    run(decoder<M, schedule::maskgit, remask::maskgit_gumbel, sampler::maskgit>(model));
    run(decoder<M, S, remask::confidence, sampler::dinfer_threshold>(model));
    run(decoder<M, S, remask::credit, sampler::dinfer_hierarchical>(model));
    run(decoder<M, S, remask::random, sampler::remdm_cap>(model));
    run(decoder<M, schedule::remdm_loop, remask::random, sampler::remdm_loop>(model));
    run(decoder<M, S, remask::random, sampler::remdm_conf>(model));
    run(decoder<M, S, remask::random, sampler::remdm_rescale>(model));
    run(decoder<M, S, remask::random, sampler::sedd_euler<>>(model));
    run(decoder<M, S, remask::random, sampler::sedd_analytic<>>(model));
    run(decoder<M, S, remask::klass, sampler::threshold>(model));
    std::vector<double> freq(model.vocab_size(), 1.0 / double(model.vocab_size()));
    run(decoder<M, S, remask::pc_sampler, sampler::top_k>(model, {}, remask::pc_sampler(freq)));
    oracle::uniform_markov_oracle umodel(tc.chain);
    using U = oracle::uniform_markov_oracle;
    auto urun = [&](auto dec) {
        const auto res = dec.generate(tc.encode("the"), o);
        CHECK(res.tokens(0, 0) == tc.encode('t'));
        CHECK(res.nfe >= 1);
    };
    urun(decoder<U, S, remask::confidence, sampler::duo>(umodel));
    urun(decoder<U, S, remask::confidence, sampler::duo_greedy>(umodel));
    urun(decoder<U, S, remask::confidence, sampler::sedd_euler<noise_kind::uniform>>(umodel));
    urun(decoder<U, S, remask::confidence, sampler::sedd_analytic<noise_kind::uniform>>(umodel));
}
