// Tolerances for the tests, in one place: derived from the inputs, never bare constants.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

namespace ddiff::test {

inline constexpr double eps64 = std::numeric_limits<double>::epsilon();
inline constexpr float eps32 = std::numeric_limits<float>::epsilon();

// A sum of n terms of magnitude at most `scale`, each rounded once: n * eps * scale.
inline double sum_tolerance(std::size_t n, double scale, double eps = eps64) {
    return static_cast<double>(n) * eps * scale;
}

// Central difference (f(x+h) - f(x-h)) / 2h has truncation error h^2 |f'''| / 6 and rounding
// error eps |f| / h; with h = cbrt(eps) both are about eps^(2/3) times the function's scale.
inline double central_difference_tolerance(double scale_f, double scale_f3) {
    const double h = std::cbrt(eps64);
    return h * h * scale_f3 / 6.0 + eps64 * scale_f / h * 2.0;
}

// Two-sided bound for a binomial proportion: z standard deviations of p (1 - p) / n.
inline double binomial_bound(double p, std::size_t n, double z) {
    return z * std::sqrt(p * (1.0 - p) / static_cast<double>(n));
}

}  // namespace ddiff::test
