// Step rules that draw: ReMDM's re-masking and reveal rates, DUO's posterior and its final
// noise-removal step. Rates checked within binomial bounds, distributions against closed forms.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "../support/stats.hpp"
#include "../support/test_models.hpp"
#include "../support/tolerance.hpp"
#include "ddiff/sampler/duo.hpp"
#include "ddiff/sampler/remdm.hpp"

using namespace ddiff;

TEST_CASE("ReMDM re-masks decoded tokens and reveals masked ones at the posterior rates (5 sd)") {
    const std::size_t n = 4000;
    std::vector<sampler::candidate> cs;
    for (std::size_t i = 0; i < n; ++i) cs.push_back({.position = i, .token = 1, .confidence = 0.5});
    test::context_fixture f(2 * n, cs, 17);
    std::vector<std::size_t> decoded;
    std::vector<double> conf(2 * n, -std::numeric_limits<double>::infinity());
    for (std::size_t i = n; i < 2 * n; ++i) {
        decoded.push_back(i);
        conf[i] = 0.7;
    }
    // alpha_t 0.5, alpha_s 0.6: sigma_max = 0.8; rescale eta 0.5 -> sigma 0.4;
    // reveal = (0.6 - 0.6 * 0.5) / 0.5 = 0.6.
    auto c = f.make({.step = 3, .step_in_block = 1, .steps_in_block = 4, .time = {.alpha_t = 0.5, .alpha_s = 0.6}});
    for (std::size_t i = n; i < 2 * n; ++i) f.canvas[i] = 2;
    c.decoded = decoded;
    c.unmask_confidence = conf;
    sampler::remdm_rescale{0.5}.step(c);
    CHECK(std::abs(double(c.remasked) / n - 0.4) <= test::binomial_bound(0.4, n, 5.0));
    CHECK(std::abs(double(c.committed) / n - 0.6) <= test::binomial_bound(0.6, n, 5.0));
    for (std::size_t i = n; i < 2 * n; ++i) CHECK((f.canvas[i] == 2 || f.canvas[i] == 9));
}

TEST_CASE("ReMDM built without eta uses the reference's per-strategy default") {
    CHECK(sampler::remdm_cap{}.eta == 0.008);
    CHECK(sampler::remdm_rescale{}.eta == 0.015);
    CHECK(sampler::remdm_conf{}.eta == 1.0);
    CHECK(sampler::remdm_loop{}.eta == 0.02);
    // Behaviour: a default-constructed rescale re-masks at 0.015 min(1, sigma_max) = 0.015.
    const std::size_t n = 20000;
    test::context_fixture f(n, {}, 5);
    std::vector<std::size_t> decoded(n);
    for (std::size_t i = 0; i < n; ++i) decoded[i] = i;
    auto c = f.make({.steps_in_block = 4, .time = {.alpha_t = 0.5, .alpha_s = 0.6}});
    std::fill(f.canvas.begin(), f.canvas.end(), 2);
    c.decoded = decoded;
    sampler::remdm_rescale{}.step(c);
    CHECK(std::abs(double(c.remasked) / n - 0.015) <= test::binomial_bound(0.015, n, 5.0));
    CHECK_THROWS_AS(sampler::remdm_cap{-1.0}, invalid_argument);
}

TEST_CASE("DUO: the x-parameterised posterior, and the final step is the posterior with alpha_s = 1") {
    // V = 3, denoiser p = (0.5, 0.3, 0.2), x_t = 1, alpha_t = 0.4.
    const std::vector<double> p0 = {0.5, 0.3, 0.2};
    std::vector<double> scratch(3);
    const double a_t = 0.4;
    // Noise removal (alpha_s = 1): q(y) proportional to p(y) q(x_t = 1 | y) with
    // q(1 | y) = alpha_t [y == 1] + (1 - alpha_t) / 3 = 0.2 + 0.4 [y == 1].
    std::vector<double> p = p0;
    sampler::duo{}.reshape(p, 1, {.time = {.alpha_t = a_t, .alpha_s = 0.9}, .last = true}, scratch);
    const double w0 = 0.5 * 0.2, w1 = 0.3 * 0.6, w2 = 0.2 * 0.2, z = w0 + w1 + w2;
    CHECK(p[0] == doctest::Approx(w0 / z).epsilon(1e-12));
    CHECK(p[1] == doctest::Approx(w1 / z).epsilon(1e-12));
    CHECK(p[2] == doctest::Approx(w2 / z).epsilon(1e-12));
    // Greedy noise removal: the denoiser's argmax.
    p = p0;
    sampler::duo_greedy{}.reshape(p, 1, {.time = {.alpha_t = a_t}, .last = true}, scratch);
    CHECK(p == std::vector<double>{1.0, 0.0, 0.0});
    // An inner step (alpha_s = 0.7) with a one-hot denoiser is the exact posterior
    // q(x_s | x_t, x0) proportional to q(x_t | x_s) q(x_s | x0), q(x_t | x_s) = a_ts [=] + (1 - a_ts)/3.
    const double a_s = 0.7, a_ts = a_t / a_s;
    auto fwd = [](double a, int to, int from) { return (to == from ? a : 0.0) + (1.0 - a) / 3.0; };
    p = p0;
    sampler::duo{}.reshape(p, 1, {.time = {.alpha_t = a_t, .alpha_s = a_s}}, scratch);
    CHECK(p[0] + p[1] + p[2] == doctest::Approx(1.0).epsilon(1e-12));
    std::vector<double> one_hot = {0.0, 0.0, 1.0};
    sampler::duo{}.reshape(one_hot, 1, {.time = {.alpha_t = a_t, .alpha_s = a_s}}, scratch);
    double nz = 0.0;
    for (int s = 0; s < 3; ++s) nz += fwd(a_ts, 1, s) * fwd(a_s, s, 2);
    for (int s = 0; s < 3; ++s) CHECK(one_hot[s] == doctest::Approx(fwd(a_ts, 1, s) * fwd(a_s, s, 2) / nz).epsilon(1e-12));
}
