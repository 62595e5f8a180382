// Tests for math/sampling.hpp: chi-square goodness of fit against the weights, determinism,
// edge cases and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "../support/stats.hpp"
#include "ddiff/math/sampling.hpp"

using namespace ddiff;

TEST_CASE("sample_categorical fits its weights (chi-square, p = 0.001, n = 200000)") {
    const std::vector<double> w = {3.0, 0.5, 0.0, 1.5, 5.0, 0.25, 2.0, 0.75};  // unnormalised
    double total = 0.0;
    for (double x : w) total += x;
    std::vector<double> p;
    for (double x : w) p.push_back(x / total);
    const std::size_t n = 200000;
    std::vector<std::size_t> counts(w.size(), 0);
    const counter_rng g(7);
    for (std::uint32_t i = 0; i < n; ++i) ++counts[sample_categorical(std::span<const double>(w), g, {streams::token, 0, i})];
    CHECK(counts[2] == 0);  // zero weight never drawn
    const double x2 = test::chi_square(counts, p, n);
    CHECK(x2 < test::chi_square_critical(6.0));  // 7 non-empty cells
}

TEST_CASE("gumbel_argmax samples softmax(l / tau) (chi-square, p = 0.001, n = 200000)") {
    const std::vector<float> logits = {1.0f, -0.5f, 2.0f, 0.0f, -std::numeric_limits<float>::infinity(), 0.7f};
    const double tau = 0.7;
    std::vector<double> p(logits.size());
    double z = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) z += (p[i] = std::exp(double(logits[i]) / tau));
    for (double& x : p) x /= z;
    const std::size_t n = 200000;
    std::vector<std::size_t> counts(logits.size(), 0);
    const counter_rng g(11);
    for (std::uint32_t i = 0; i < n; ++i) ++counts[gumbel_argmax(std::span<const float>(logits), tau, g, {streams::token, 1, i})];
    CHECK(counts[4] == 0);
    CHECK(test::chi_square(counts, p, n) < test::chi_square_critical(4.0));
}

TEST_CASE("gumbel_argmax at temperature 0 is the argmax, ties to the lower index") {
    const std::vector<double> l = {0.1, 3.0, 3.0, -1.0};
    const counter_rng g(0);
    CHECK(gumbel_argmax(std::span<const double>(l), 0.0, g, {}) == 1);
}

TEST_CASE("gumbel_argmax does not overflow where LLaDA's exp() form would") {
    // exp(800) overflows float64; the log-space form still samples softmax exactly.
    const std::vector<double> l = {800.0, 800.0 + std::log(3.0)};
    const counter_rng g(5);
    std::size_t ones = 0;
    const std::size_t n = 40000;
    for (std::uint32_t i = 0; i < n; ++i) ones += gumbel_argmax(std::span<const double>(l), 1.0, g, {0, 0, i});
    CHECK(std::abs(double(ones) / n - 0.75) < 5.0 * std::sqrt(0.75 * 0.25 / n));
}

TEST_CASE("samplers reject impossible inputs with ddiff::invalid_argument") {
    const counter_rng g(0);
    const std::vector<double> zeros = {0.0, 0.0};
    const std::vector<double> negative = {1.0, -0.1};
    const std::vector<double> nan = {1.0, std::nan("")};
    const std::vector<double> neg_inf = {-std::numeric_limits<double>::infinity()};
    CHECK_THROWS_WITH_AS(sample_categorical(std::span<const double>(zeros), g, {}),
                         doctest::Contains("all 2 weights are zero"), invalid_argument);
    CHECK_THROWS_AS(sample_categorical(std::span<const double>(negative), g, {}), invalid_argument);
    CHECK_THROWS_AS(sample_categorical(std::span<const double>(nan), g, {}), invalid_argument);
    CHECK_THROWS_AS(gumbel_argmax(std::span<const double>(nan), 1.0, g, {}), invalid_argument);
    CHECK_THROWS_AS(gumbel_argmax(std::span<const double>(neg_inf), 1.0, g, {}), invalid_argument);
    CHECK_THROWS_WITH_AS(gumbel_argmax(std::span<const double>(negative), -1.0, g, {}),
                         doctest::Contains("temperature = -1"), invalid_argument);
}
