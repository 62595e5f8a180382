// Tests for the exact oracle denoisers: brute-force enumeration over all V^L sequences, the
// chain's own sampler and likelihood, fitting from text, and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "../support/stats.hpp"
#include "../support/tolerance.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
#include "ddiff/process/absorbing.hpp"
#include "ddiff/process/uniform.hpp"

using namespace ddiff;
using namespace ddiff::oracle;

namespace {
// A random chain with entries bounded away from 0, from the counter RNG.
markov_chain random_chain(std::size_t V, std::uint64_t seed) {
    const counter_rng g(seed);
    xt::xtensor<double, 1> init = xt::zeros<double>({V});
    xt::xtensor<double, 2> P = xt::zeros<double>({V, V});
    double s = 0.0;
    for (std::size_t v = 0; v < V; ++v) s += (init(v) = 0.05 + g.uniform({0, 0, std::uint32_t(v)}));
    for (std::size_t v = 0; v < V; ++v) init(v) /= s;
    for (std::size_t a = 0; a < V; ++a) {
        double r = 0.0;
        for (std::size_t b = 0; b < V; ++b) r += (P(a, b) = 0.05 + g.uniform({1, std::uint32_t(a), std::uint32_t(b)}));
        for (std::size_t b = 0; b < V; ++b) P(a, b) /= r;
    }
    return markov_chain(init, P);
}

// Enumerate all V^L clean sequences x0 and return p(x0^i = v | x_t) by Bayes' rule, with
// q(x_t | x_0) from the process's own per-token marginal.
template <class Q>
xt::xtensor<double, 2> brute_force(const markov_chain& c, const std::vector<token_id>& xt, Q q_token) {
    const std::size_t V = c.num_states(), L = xt.size();
    xt::xtensor<double, 2> post = xt::zeros<double>({L, V});
    std::vector<token_id> x0(L, 0);
    double total = 0.0;
    std::size_t count = 1;
    for (std::size_t i = 0; i < L; ++i) count *= V;
    for (std::size_t code = 0; code < count; ++code) {
        std::size_t c2 = code;
        for (std::size_t i = 0; i < L; ++i, c2 /= V) x0[i] = token_id(c2 % V);
        double w = std::exp(c.log_likelihood(x0));
        for (std::size_t i = 0; i < L; ++i) w *= q_token(xt[i], x0[i]);
        total += w;
        for (std::size_t i = 0; i < L; ++i) post(i, std::size_t(x0[i])) += w;
    }
    return post / total;
}
}  // namespace

TEST_CASE("absorbing oracle equals brute-force enumeration (L <= 6, V <= 4) to 1e-12") {
    const counter_rng g(123);
    std::uint32_t trial = 0;
    for (std::size_t V : {2u, 3u, 4u}) {
        for (std::size_t L : {1u, 2u, 4u, 6u}) {
            const auto chain = random_chain(V, 10 * V + L);
            const absorbing_markov_oracle o(chain);
            const process::absorbing q(V + 1, token_id(V));
            for (int rep = 0; rep < 6; ++rep, ++trial) {
                // A random partial masking of a sequence drawn from the chain.
                const auto x0 = chain.sample(L, g, trial);
                std::vector<token_id> xt(L);
                for (std::size_t i = 0; i < L; ++i)
                    xt[i] = q.sample(x0(i), 0.4, g, {streams::forward_noise, trial, std::uint32_t(i)});
                xt::xtensor<double, 2> post;
                o.posterior(xt, 0.4, post);
                const auto ref = brute_force(chain, xt, [&](token_id a, token_id b) { return q.prob(a, b, 0.4); });
                CAPTURE(V);
                CAPTURE(L);
                for (std::size_t i = 0; i < L; ++i)
                    for (std::size_t v = 0; v < V; ++v) CHECK(std::abs(post(i, v) - ref(i, v)) <= 1e-12);
            }
        }
    }
}

TEST_CASE("uniform oracle equals brute-force enumeration (L <= 6, V <= 4) to 1e-12") {
    const counter_rng g(321);
    std::uint32_t trial = 0;
    for (std::size_t V : {2u, 3u, 4u}) {
        for (std::size_t L : {1u, 3u, 6u}) {
            const auto chain = random_chain(V, 100 + 10 * V + L);
            const uniform_markov_oracle o(chain);
            const process::uniform q(V);
            for (double alpha : {0.05, 0.5, 0.9, 1.0}) {
                const auto x0 = chain.sample(L, g, trial++);
                std::vector<token_id> xt(L);
                for (std::size_t i = 0; i < L; ++i)
                    xt[i] = q.sample(x0(i), alpha, g, {streams::forward_noise, trial, std::uint32_t(i)});
                xt::xtensor<double, 2> post;
                o.posterior(xt, alpha, post);
                const auto ref = brute_force(chain, xt, [&](token_id a, token_id b) { return q.prob(a, b, alpha); });
                CAPTURE(V);
                CAPTURE(L);
                CAPTURE(alpha);
                for (std::size_t i = 0; i < L; ++i)
                    for (std::size_t v = 0; v < V; ++v) CHECK(std::abs(post(i, v) - ref(i, v)) <= 1e-12);
            }
        }
    }
}

TEST_CASE("denoise gives log-probabilities per batch row, the mask at -inf, known tokens carried over") {
    const auto chain = random_chain(3, 5);
    const absorbing_markov_oracle o(chain);
    CHECK(o.vocab_size() == 4);
    CHECK(o.mask_id() == 3);
    token_batch x = {{3, 1, 3, 3}, {0, 3, 3, 2}};
    const std::vector<double> alpha = {0.5, 0.5};
    xt::xtensor<double, 3> out;
    o.denoise(x, alpha, out);
    REQUIRE(out.shape(0) == 2);
    REQUIRE(out.shape(2) == 4);
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t i = 0; i < 4; ++i) {
            double s = 0.0;
            for (std::size_t v = 0; v < 3; ++v) s += std::exp(out(b, i, v));
            CHECK(std::abs(s - 1.0) <= test::sum_tolerance(8, 1.0));
            CHECK(std::isinf(out(b, i, 3)));
        }
    CHECK(out(0, 1, 1) == 0.0);  // log 1: the known token
    const std::vector<double> wrong = {0.5};
    CHECK_THROWS_AS(o.denoise(x, wrong, out), shape_error);
}

TEST_CASE("chain samples follow the exact sequence distribution (chi-square over all 3^3 sequences)") {
    const auto chain = random_chain(3, 77);
    const std::size_t n = 100000, L = 3, cells = 27;
    std::vector<std::size_t> counts(cells, 0);
    std::vector<double> p(cells);
    for (std::size_t code = 0; code < cells; ++code) {
        const std::vector<token_id> s = {token_id(code % 3), token_id(code / 3 % 3), token_id(code / 9)};
        p[code] = std::exp(chain.log_likelihood(s));
    }
    const counter_rng g(2024);
    for (std::uint32_t r = 0; r < n; ++r) {
        const auto s = chain.sample(L, g.for_row(r));
        ++counts[std::size_t(s(0) + 3 * s(1) + 9 * s(2))];
    }
    CHECK(test::chi_square(counts, p, n) < test::chi_square_critical(cells - 1));
}

TEST_CASE("fit_text counts bigrams with add-k smoothing (hand-computed)") {
    // "abab": alphabet {a, b}; bigrams ab, ba, ab. With k = 1: row a = (0 + 1, 2 + 1) / 4,
    // row b = (1 + 1, 0 + 1) / 3.
    const auto tc = fit_text("abab", 1.0, initial_distribution::unigram);
    CHECK(tc.alphabet == "ab");
    CHECK(tc.chain.transition(0, 0) == doctest::Approx(0.25));
    CHECK(tc.chain.transition(0, 1) == doctest::Approx(0.75));
    CHECK(tc.chain.transition(1, 0) == doctest::Approx(2.0 / 3.0));
    CHECK(tc.chain.initial()(0) == doctest::Approx(0.5));  // (2 + 1) / (4 + 2)
    // Stationary start: pi P = pi, pi_a = (2/3) / (2/3 + 3/4).
    const auto st = fit_text("abab");
    CHECK(st.chain.initial()(0) == doctest::Approx((2.0 / 3.0) / (2.0 / 3.0 + 0.75)).epsilon(1e-12));
    CHECK(tc.decode(tc.encode('b')) == 'b');
    CHECK_THROWS_AS(tc.encode('z'), invalid_argument);
}

TEST_CASE("bad chains and texts raise ddiff errors naming the problem") {
    CHECK_THROWS_WITH_AS(fit_text(""), doctest::Contains("text has 0 characters"), invalid_argument);
    CHECK_THROWS_AS(fit_text("ab", 0.0), invalid_argument);
    CHECK_THROWS_AS(fit_text_file("/nonexistent/ddiff.txt"), io_error);
    xt::xtensor<double, 1> init = {0.5, 0.5};
    xt::xtensor<double, 2> bad_rows = {{0.5, 0.4}, {0.5, 0.5}};
    CHECK_THROWS_WITH_AS(markov_chain(init, bad_rows), doctest::Contains("row 0 sums to 0.9"), invalid_argument);
    xt::xtensor<double, 2> bad_shape = {{1.0}};
    CHECK_THROWS_AS(markov_chain(init, bad_shape), shape_error);
    xt::xtensor<double, 2> negative = {{1.5, -0.5}, {0.5, 0.5}};
    CHECK_THROWS_AS(markov_chain(init, negative), invalid_argument);
    // A chain that never goes a -> a: the noisy sequence "a a" is impossible.
    xt::xtensor<double, 2> no_self = {{0.0, 1.0}, {1.0, 0.0}};
    const absorbing_markov_oracle o(markov_chain(init, no_self));
    const std::vector<token_id> impossible = {0, 0};
    xt::xtensor<double, 2> post;
    CHECK_THROWS_WITH_AS(o.posterior(impossible, 0.5, post), doctest::Contains("probability 0"), invalid_argument);
    const uniform_markov_oracle u(markov_chain(init, no_self));
    CHECK_THROWS_AS(u.posterior(impossible, 0.0, post), invalid_argument);
}
