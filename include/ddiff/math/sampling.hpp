// Categorical sampling in float64: the exponential race on unnormalised weights and Gumbel-max
// on logits. float32 Gumbel noise lowers the effective temperature (Zheng et al. 2024,
// arXiv 2409.02908), so every draw and comparison here is double.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>

#include "ddiff/core/error.hpp"
#include "ddiff/math/logits.hpp"
#include "ddiff/core/rng.hpp"

namespace ddiff {

// Exact draw from w / sum(w) for non-negative, unnormalised weights: argmax_i w_i / E_i with
// E_i ~ Exp(1) (the "exponential race"; MDLM's _sample_categorical uses the same identity).
// Draw i uses g.uniform(site, i). Ties go to the lower index; zero weights are never chosen.
template <class T>
std::size_t sample_categorical(std::span<const T> weights, const counter_rng& g, draw_site site) {
    std::size_t best = weights.size();
    double best_score = -1.0;
    for (std::size_t i = 0; i < weights.size(); i += 2) {
        const auto w = g.bits(site, static_cast<std::uint32_t>(i / 2));
        for (std::size_t h = 0; h < 2 && i + h < weights.size(); ++h) {
            const double wi = static_cast<double>(weights[i + h]);
            if (!(wi >= 0.0) || !std::isfinite(wi))
                detail::fail("sample_categorical: weight ", i + h, " is ", wi, ", expected a finite value >= 0");
            if (wi == 0.0) continue;
            const double u = h == 0 ? detail::to_open_unit(w[0], w[1]) : detail::to_open_unit(w[2], w[3]);
            const double score = wi / -std::log(u);
            if (score > best_score) {
                best_score = score;
                best = i + h;
            }
        }
    }
    if (best == weights.size())
        detail::fail("sample_categorical: all ", weights.size(), " weights are zero, expected at least one > 0");
    return best;
}

// Gumbel-max on logits at temperature tau (LLaDA generate.py add_gumbel_noise, in float64):
// argmax_i exp(l_i) / (-log u_i)^tau, evaluated as l_i - tau log(-log u_i) so nothing
// overflows. An exact draw from softmax(l / tau); tau = 0 is the plain argmax (no draws).
// Entries at -inf are never chosen.
template <class T>
std::size_t gumbel_argmax(std::span<const T> logits, double tau, const counter_rng& g, draw_site site) {
    detail::require(std::isfinite(tau) && tau >= 0.0, "gumbel_argmax", "temperature", tau, "a finite value >= 0");
    if (logits.empty()) detail::fail("gumbel_argmax: empty row, expected at least one logit");
    if (tau == 0.0) return argmax(logits);
    std::size_t best = logits.size();
    double best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < logits.size(); i += 2) {
        const auto w = g.bits(site, static_cast<std::uint32_t>(i / 2));
        for (std::size_t h = 0; h < 2 && i + h < logits.size(); ++h) {
            const double l = static_cast<double>(logits[i + h]);
            if (std::isnan(l) || l == std::numeric_limits<double>::infinity())
                detail::fail("gumbel_argmax: logit ", i + h, " is ", l, ", expected finite or -inf");
            if (l == -std::numeric_limits<double>::infinity()) continue;
            const double u = h == 0 ? detail::to_open_unit(w[0], w[1]) : detail::to_open_unit(w[2], w[3]);
            const double score = l - tau * std::log(-std::log(u));
            if (score > best_score) {
                best_score = score;
                best = i + h;
            }
        }
    }
    if (best == logits.size()) detail::fail("gumbel_argmax: every logit is -inf, expected at least one finite");
    return best;
}

}  // namespace ddiff
