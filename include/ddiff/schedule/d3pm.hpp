// D3PM discrete beta schedules (google-research d3pm, text diffusion.py get_diffusion_betas):
// alpha_bar_k = prod_{j <= k} (1 - beta_j) on the grid k = 0..T, with alpha_bar_T forced to 0.
// As a continuous schedule alpha(t) interpolates alpha_bar linearly between t = k / T
// (documented choice: D3PM itself is only defined on the grid).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "ddiff/schedule/common.hpp"

namespace ddiff::schedule {

enum class d3pm_kind {
    jsd,     // beta_k = 1 / (T - k + 1): alpha_bar_k = 1 - k / T exactly
    linear,  // np.linspace(beta_start, beta_end, T): beta_j = beta_start + (beta_end - beta_start) j / (T - 1), j = 0..T-1
    cosine,  // f(k) = cos((k / T + s) / (1 + s) pi / 2), s = 0.008 (D3PM uses cos, not cos^2),
             // beta_k = min(1 - f(k) / f(k - 1), 0.999)
};

class d3pm {
public:
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "d3pm";

    // Defaults of the source's entry point create_discrete_diffusion: T = 40, beta in
    // [1e-3, 0.2] (the published lm1b / text8 configs use T = 1000).
    explicit d3pm(d3pm_kind kind = d3pm_kind::jsd, std::size_t steps = 40, double beta_start = 1e-3,
                  double beta_end = 0.2)
        : kind_(kind), steps_(steps) {
        ddiff::detail::require(steps >= 1, name, "steps", steps, "at least 1");
        if (kind == d3pm_kind::linear)
            ddiff::detail::require(beta_start > 0.0 && beta_end >= beta_start && beta_end <= 1.0, name, "beta_end",
                                   beta_end, "0 < beta_start <= beta_end <= 1");
        betas_.resize(steps);
        const double T = static_cast<double>(steps);
        for (std::size_t k = 1; k <= steps; ++k) {  // betas_[k - 1] = beta_k
            double b = 0.0;
            switch (kind) {
                case d3pm_kind::jsd: b = 1.0 / (T - static_cast<double>(k) + 1.0); break;
                case d3pm_kind::linear:  // np.linspace includes both ends (one step: beta_start)
                    b = steps == 1 ? beta_start
                                   : beta_start + (beta_end - beta_start) * static_cast<double>(k - 1) / (T - 1.0);
                    break;
                case d3pm_kind::cosine: {
                    auto f = [&](double k_) {
                        return std::cos((k_ / T + 0.008) / 1.008 * pi / 2.0);
                    };
                    b = std::min(1.0 - f(static_cast<double>(k)) / f(static_cast<double>(k - 1)), 0.999);
                    break;
                }
            }
            betas_[k - 1] = b;
        }
        alpha_bar_.resize(steps + 1);
        alpha_bar_[0] = 1.0;
        for (std::size_t k = 1; k <= steps; ++k) alpha_bar_[k] = alpha_bar_[k - 1] * (1.0 - betas_[k - 1]);
        alpha_bar_[steps] = 0.0;
    }

    d3pm_kind kind() const noexcept { return kind_; }
    std::size_t steps() const noexcept { return steps_; }
    // beta_k for k in 1..T.
    double beta(std::size_t k) const {
        ddiff::detail::require(k >= 1 && k <= steps_, name, "k", k, "a step in [1, T]");
        return betas_[k - 1];
    }
    // alpha_bar_k for k in 0..T.
    double alpha_bar(std::size_t k) const {
        ddiff::detail::require(k <= steps_, name, "k", k, "a step in [0, T]");
        return alpha_bar_[k];
    }

    double alpha(double t) const {
        detail::check_time(t, name);
        const auto [k, frac] = locate(t);
        return alpha_bar_[k] + frac * (alpha_bar_[k + 1] - alpha_bar_[k]);
    }
    // Slope of the interpolation; at a grid point (a kink), the slope of the interval to its
    // right (the left one at t = 1).
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        const auto [k, frac] = locate(t);
        return (alpha_bar_[k + 1] - alpha_bar_[k]) * static_cast<double>(steps_);
    }

    // Inverse of the interpolation: the cell with alpha_bar_{k+1} <= a <= alpha_bar_k.
    double t_of_alpha(double a) const {
        detail::check_alpha(a, 0.0, 1.0, name);
        std::size_t k = 0;
        while (k + 1 < steps_ && alpha_bar_[k + 1] > a) ++k;
        const double span = alpha_bar_[k] - alpha_bar_[k + 1];
        const double frac = span > 0.0 ? (alpha_bar_[k] - a) / span : 0.0;
        return (static_cast<double>(k) + frac) / static_cast<double>(steps_);
    }

private:
    std::pair<std::size_t, double> locate(double t) const {
        const double x = t * static_cast<double>(steps_);
        std::size_t k = static_cast<std::size_t>(std::floor(x));
        if (k >= steps_) k = steps_ - 1;
        return {k, x - static_cast<double>(k)};
    }

    d3pm_kind kind_;
    std::size_t steps_;
    std::vector<double> betas_;
    std::vector<double> alpha_bar_;
};

}  // namespace ddiff::schedule
