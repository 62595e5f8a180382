// The concrete score of a uniform-noise state at one position (SEDD's score parameterisation,
// Lou et al. 2024), from a denoiser's posterior: the shared step of sedd_euler and sedd_analytic.
#pragma once

#include <span>

#include "ddiff/core/types.hpp"

namespace ddiff::sampler::detail {

// s_y = p_t(.., y, ..) / p_t(.., x, ..) at one position, from the denoiser's posterior p over
// x_0 there: removing the position's own evidence q(x | v) gives p(x_0 = v | rest) proportional
// to p_v / q(x | v), then s_y = sum_v p(v | rest) q(y | v) / sum_v p(v | rest) q(x | v).
inline void uniform_scores(std::span<const double> p, token_id x, double alpha, std::span<double> s) {
    const std::size_t V = p.size();
    const double floor = (1.0 - alpha) / static_cast<double>(V);
    const auto xi = static_cast<std::size_t>(x);
    double total = 0.0;  // sum_v p_v / q(x | v) = 1 / p(x | rest) up to the same constant
    for (std::size_t v = 0; v < V; ++v) total += p[v] / ((v == xi ? alpha : 0.0) + floor);
    // sum_v (p_v / q(x | v)) q(y | v) = floor * total + alpha p_y / q(x | y)
    for (std::size_t y = 0; y < V; ++y) s[y] = floor * total + alpha * p[y] / ((y == xi ? alpha : 0.0) + floor);
    const double sx = s[xi];
    for (double& v : s) v /= sx;
}

}  // namespace ddiff::sampler::detail
