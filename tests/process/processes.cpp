// Tests for process/: empirical marginals of q(x_t | x_0) within binomial bounds, posteriors
// against Bayes' rule by enumeration, ELBO weights against closed forms.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/process/absorbing.hpp"
#include "ddiff/process/uniform.hpp"
#include "ddiff/schedule/log_linear.hpp"

using namespace ddiff;

namespace {
// Transition from time s to time t (alpha_t / alpha_s of the tokens survive), written
// directly from the definition of each process; used only for the enumeration.
double absorbing_step(token_id from, token_id to, double a_ts, token_id mask) {
    if (from == mask) return to == mask ? 1.0 : 0.0;
    if (to == mask) return 1.0 - a_ts;
    return to == from ? a_ts : 0.0;
}
double uniform_step(token_id from, token_id to, double a_ts, std::size_t V) {
    return (from == to ? a_ts : 0.0) + (1.0 - a_ts) / double(V);
}

template <class P, class Step>
void check_bayes(const P& p, Step step, std::size_t V, bool x0_may_be_mask, token_id mask) {
    const std::vector<std::pair<double, double>> pairs = {{0.9, 0.3}, {0.5, 0.5}, {1.0, 0.2}, {0.7, 0.0}, {0.35, 0.1}};
    std::vector<double> out(V);
    for (auto [a_s, a_t] : pairs) {
        for (token_id x0 = 0; x0 < token_id(V); ++x0) {
            if (!x0_may_be_mask && x0 == mask) continue;
            for (token_id xt = 0; xt < token_id(V); ++xt) {
                // q(x_t | x_0) by enumeration over x_s.
                double evidence = 0.0;
                for (token_id xs = 0; xs < token_id(V); ++xs)
                    evidence += (a_s == 0.0 ? 0.0 : p.prob(xs, x0, a_s) * step(xs, xt, a_t / a_s));
                if (a_s == 0.0) continue;
                if (evidence == 0.0) continue;  // x_t unreachable from x_0
                CAPTURE(a_s);
                CAPTURE(a_t);
                CAPTURE(x0);
                CAPTURE(xt);
                p.posterior(xt, x0, a_s, a_t, out);
                double sum = 0.0;
                for (token_id xs = 0; xs < token_id(V); ++xs) {
                    const double bayes = p.prob(xs, x0, a_s) * step(xs, xt, a_t / a_s) / evidence;
                    CHECK(std::abs(out[std::size_t(xs)] - bayes) <= test::sum_tolerance(4 * V, 1.0));
                    sum += out[std::size_t(xs)];
                }
                CHECK(std::abs(sum - 1.0) <= test::sum_tolerance(V, 1.0));
                // The marginal q(x_t | x_0) by enumeration equals the closed form.
                CHECK(std::abs(evidence - p.prob(xt, x0, a_t)) <= test::sum_tolerance(2 * V, 1.0));
            }
        }
    }
}
}  // namespace

TEST_CASE("absorbing posterior equals Bayes' rule by enumeration (V = 5, mask = 4)") {
    const process::absorbing p(5, 4);
    check_bayes(p, [](token_id a, token_id b, double r) { return absorbing_step(a, b, r, 4); }, 5, false, 4);
}

TEST_CASE("uniform posterior equals Bayes' rule by enumeration (V = 4 and 5)") {
    for (std::size_t V : {4u, 5u}) {
        const process::uniform p(V);
        check_bayes(p, [V](token_id a, token_id b, double r) { return uniform_step(a, b, r, V); }, V, true, -1);
    }
}

TEST_CASE("posterior_from_probs: one-hot equals posterior; absorbing is the mixture over x_0") {
    const process::absorbing p(5, 4);
    const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4, 0.0};
    std::vector<double> out(5), mix(5, 0.0), one(5);
    p.posterior_from_probs(4, probs, 0.6, 0.2, out);
    for (token_id x0 = 0; x0 < 4; ++x0) {
        p.posterior(4, x0, 0.6, 0.2, one);
        for (std::size_t v = 0; v < 5; ++v) mix[v] += probs[std::size_t(x0)] * one[v];
    }
    for (std::size_t v = 0; v < 5; ++v) CHECK(std::abs(out[v] - mix[v]) <= test::sum_tolerance(8, 1.0));
    const process::uniform u(4);
    std::vector<double> hot = {0.0, 0.0, 1.0, 0.0}, a(4), b(4);
    u.posterior_from_probs(1, hot, 0.8, 0.3, a);
    u.posterior(1, 2, 0.8, 0.3, b);
    for (std::size_t v = 0; v < 4; ++v) CHECK(std::abs(a[v] - b[v]) <= test::sum_tolerance(8, 1.0));
}

TEST_CASE("empirical marginals of q(x_t | x_0) lie within 5 binomial standard deviations") {
    const std::size_t n = 100000;
    const counter_rng g(99);
    {
        const process::absorbing p(5, 4);
        const double alpha = 0.3;
        std::size_t kept = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            const token_id x = p.sample(2, alpha, g, {streams::forward_noise, 0, i});
            CHECK((x == 2 || x == 4));
            kept += x == 2;
        }
        CHECK(std::abs(double(kept) / n - alpha) <= test::binomial_bound(alpha, n, 5.0));
    }
    {
        const std::size_t V = 4;
        const process::uniform p(V);
        const double alpha = 0.4;
        std::vector<std::size_t> counts(V, 0);
        for (std::uint32_t i = 0; i < n; ++i) ++counts[std::size_t(p.sample(1, alpha, g, {streams::forward_noise, 1, i}))];
        for (token_id v = 0; v < token_id(V); ++v) {
            const double q = p.prob(v, 1, alpha);
            CHECK(std::abs(double(counts[std::size_t(v)]) / n - q) <= test::binomial_bound(q, n, 5.0));
        }
    }
}

TEST_CASE("ELBO weights: MDLM's 1/t for log-linear; UDLM's term vanishes at the truth and is positive elsewhere") {
    const process::absorbing p(3, 2);
    const schedule::log_linear s;
    for (double t : {0.1, 0.5, 0.9})
        CHECK(p.elbo_weight(s.alpha(t), s.alpha_prime(t)) == doctest::Approx(1.0 / t).epsilon(1e-14));
    const process::uniform u(4);
    const std::vector<double> truth = {0.0, 0.0, 1.0, 0.0}, guess = {0.1, 0.2, 0.6, 0.1};
    CHECK(std::abs(u.elbo_term(1, 2, truth, 0.7)) <= test::sum_tolerance(16, 10.0));
    CHECK(u.elbo_term(1, 2, guess, 0.7) > 0.0);
    CHECK(u.elbo_term(2, 2, guess, 0.3) > 0.0);
    CHECK(u.elbo_weight(0.5, -1.0) == doctest::Approx(1.0 / (4 * 0.5)));
}

TEST_CASE("processes reject impossible parameters") {
    CHECK_THROWS_AS(process::absorbing(1, 0), invalid_argument);
    CHECK_THROWS_WITH_AS(process::absorbing(5, 5), doctest::Contains("mask_id = 5"), invalid_argument);
    const process::absorbing p(5, 4);
    std::vector<double> out(5), small(3);
    CHECK_THROWS_AS(p.prob(0, 4, 0.5), invalid_argument);  // x0 is the mask
    CHECK_THROWS_AS(p.prob(0, 1, 1.5), invalid_argument);
    CHECK_THROWS_WITH_AS(p.posterior(4, 1, 0.2, 0.6, out), doctest::Contains("alpha_s >= alpha_t"), invalid_argument);
    CHECK_THROWS_AS(p.posterior(3, 1, 0.6, 0.2, out), invalid_argument);  // unreachable x_t
    CHECK_THROWS_AS(p.posterior(4, 1, 0.6, 0.2, small), shape_error);
    CHECK_THROWS_AS(p.elbo_weight(1.0, -1.0), invalid_argument);
    const process::uniform u(4);
    CHECK_THROWS_AS(u.sample(7, 0.5, counter_rng(0), {}), invalid_argument);
}
