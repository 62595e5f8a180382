// Statistics for the randomised tests: Pearson's chi-square and its critical value. Sample
// sizes and significance levels are fixed in each test before it was first run.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

namespace ddiff::test {

// Pearson's statistic sum (O - E)^2 / E over cells with expected count E = n p.
inline double chi_square(std::span<const std::size_t> observed, std::span<const double> probs, std::size_t n) {
    double x2 = 0.0;
    for (std::size_t i = 0; i < observed.size(); ++i) {
        const double e = static_cast<double>(n) * probs[i];
        if (e == 0.0) continue;
        const double d = static_cast<double>(observed[i]) - e;
        x2 += d * d / e;
    }
    return x2;
}

// Upper quantile of chi-square(df) at the standard-normal quantile z (z = 3.090 for p = 0.001),
// by the Wilson-Hilferty cube approximation (relative error below 1% for df >= 3).
inline double chi_square_critical(double df, double z = 3.090232306167813) {
    const double c = 2.0 / (9.0 * df);
    const double r = 1.0 - c + z * std::sqrt(c);
    return df * r * r * r;
}

}  // namespace ddiff::test
