// Tests for math/logits.hpp against plain scalar references, for odd sizes and extreme values.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/math/logits.hpp"

using namespace ddiff;
namespace {
constexpr float inf = std::numeric_limits<float>::infinity();

// Reference softmax in long double.
std::vector<long double> reference_softmax(const std::vector<float>& x) {
    long double m = -INFINITY;
    for (float v : x) m = std::max<long double>(m, v);
    std::vector<long double> p(x.size());
    long double s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += (p[i] = std::exp((long double)x[i] - m));
    for (auto& v : p) v /= s;
    return p;
}
std::vector<float> ramp(std::size_t n, float scale) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = scale * std::sin(0.37f * float(i) + 0.1f);
    return x;
}
}  // namespace

TEST_CASE("softmax matches a long double reference for sizes around the SIMD width") {
    for (std::size_t n : {1u, 2u, 7u, 15u, 16u, 17u, 31u, 33u, 100u, 1027u}) {
        const auto x = ramp(n, 6.0f);
        std::vector<float> p(n);
        softmax(std::span<const float>(x), std::span<float>(p));
        const auto ref = reference_softmax(x);
        // exp has relative error ~ 2 eps (xsimd: 1.2e-7 measured), normalisation adds n eps.
        const double tol = test::sum_tolerance(n + 4, 1.0, test::eps32);
        for (std::size_t i = 0; i < n; ++i) CHECK(std::abs(p[i] - (double)ref[i]) <= tol * (double)ref[i] + 1e-30);
    }
}

TEST_CASE("softmax never overflows and gives -inf entries probability 0") {
    std::vector<float> x = {3.0e4f, 3.0e4f, -inf, 1.0e4f};
    softmax(std::span<float>(x));
    CHECK(x[0] == doctest::Approx(0.5));
    CHECK(x[1] == doctest::Approx(0.5));
    CHECK(x[2] == 0.0f);
    CHECK(x[3] == 0.0f);
}

TEST_CASE("log_softmax equals log of the reference softmax") {
    const auto x = ramp(37, 40.0f);
    std::vector<double> xd(x.begin(), x.end()), out(x.size());
    log_softmax(std::span<const double>(xd), std::span<double>(out));
    const auto ref = reference_softmax(x);
    for (std::size_t i = 0; i < x.size(); ++i)
        CHECK(std::abs(out[i] - (double)std::log(ref[i])) <= test::sum_tolerance(40, 80.0));
}

TEST_CASE("softmax rejects empty, all -inf and NaN rows") {
    std::vector<float> empty, all_inf = {-inf, -inf}, with_nan = {1.0f, std::nanf("")};
    CHECK_THROWS_AS(softmax(std::span<float>(empty)), shape_error);
    CHECK_THROWS_AS(softmax(std::span<float>(all_inf)), invalid_argument);
    CHECK_THROWS_AS(softmax(std::span<float>(with_nan)), invalid_argument);
}

TEST_CASE("temperature divides, and rejects 0, negative and NaN") {
    std::vector<float> x = {1.0f, -2.0f, 4.0f};
    apply_temperature(std::span<float>(x), 0.5);
    CHECK(x == std::vector<float>{2.0f, -4.0f, 8.0f});
    CHECK_THROWS_WITH_AS(apply_temperature(std::span<float>(x), 0.0), doctest::Contains("temperature = 0"),
                         invalid_argument);
    CHECK_THROWS_AS(apply_temperature(std::span<float>(x), -1.0), invalid_argument);
    CHECK_THROWS_AS(apply_temperature(std::span<float>(x), std::nan("")), invalid_argument);
}

TEST_CASE("top-k keeps the k largest and ties with the k-th (Dream's rule)") {
    std::vector<float> x = {0.5f, 2.0f, 1.0f, 2.0f, -1.0f, 1.0f};
    top_k_filter(std::span<float>(x), 3);  // 3rd largest is 1.0, tied twice: 4 survive
    CHECK(x == std::vector<float>{-inf, 2.0f, 1.0f, 2.0f, -inf, 1.0f});
    std::vector<float> y = {1.0f, 2.0f};
    top_k_filter(std::span<float>(y), 5);
    CHECK(y == std::vector<float>{1.0f, 2.0f});
    CHECK_THROWS_AS(top_k_filter(std::span<float>(y), 0), invalid_argument);
}

TEST_CASE("top-p keeps the prefix that first exceeds p (hand-computed)") {
    // probabilities 0.5, 0.25, 0.125, 0.125 (log-space inputs, shuffled)
    std::vector<double> x = {std::log(0.125), std::log(0.5), std::log(0.125), std::log(0.25)};
    auto y = x;
    top_p_filter(std::span<double>(y), 0.6);  // 0.5 <= 0.6, 0.75 > 0.6: keep 0.5 and 0.25
    CHECK(y[1] == x[1]);
    CHECK(y[3] == x[3]);
    CHECK(std::isinf(y[0]));
    CHECK(std::isinf(y[2]));
    auto z = x;
    top_p_filter(std::span<double>(z), 0.4);  // the first token already crosses 0.4
    CHECK(z[1] == x[1]);
    CHECK(std::isinf(z[3]));
    auto w = x;
    top_p_filter(std::span<double>(w), 1.0);
    CHECK(w == x);
    CHECK_THROWS_AS(top_p_filter(std::span<double>(w), 0.0), invalid_argument);
    CHECK_THROWS_AS(top_p_filter(std::span<double>(w), 1.5), invalid_argument);
}

TEST_CASE("argmax takes the lowest index among ties") {
    const std::vector<float> x = {1.0f, 5.0f, 5.0f};
    CHECK(argmax(std::span<const float>(x)) == 1);
}
