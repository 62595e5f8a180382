// BD3LM's non-cosine schedules (bd3lms noise_schedule.py): power move chances clamped below
// at eps (ExpNoise with exponent 2 "square" and 0.5 "square root") and the logarithmic one.
#pragma once

#include <algorithm>

#include "ddiff/schedule/common.hpp"

namespace ddiff::schedule {

// alpha = 1 - max(t^p, eps); alpha' = -p t^(p-1) where t^p > eps, 0 on the clamped piece.
template <int Num, int Den>
struct bd3lm_power {
    using schedule_concept = schedule_tag;
    static constexpr double exponent = static_cast<double>(Num) / Den;
    static constexpr const char* name = Num == 2 && Den == 1 ? "bd3lm_square" : "bd3lm_sqrt";
    double eps = 1e-3;

    bd3lm_power() = default;
    explicit bd3lm_power(double eps_) : eps(eps_) { detail::check_eps(eps, name); }

    double alpha(double t) const {
        detail::check_time(t, name);
        return 1.0 - std::max(std::pow(t, exponent), eps);
    }
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        if (std::pow(t, exponent) <= eps) return 0.0;
        return -exponent * std::pow(t, exponent - 1.0);
    }
    // Inverse on the unclamped piece; alpha = 1 - eps maps to the piece's start eps^(1/p).
    double t_of_alpha(double a) const {
        detail::check_alpha(a, 0.0, 1.0 - eps, name);
        return std::pow(1.0 - a, 1.0 / exponent);
    }
};

using bd3lm_square = bd3lm_power<2, 1>;
using bd3lm_sqrt = bd3lm_power<1, 2>;

// alpha = 1 - log2(1 + t); alpha' = -1 / ((1 + t) ln 2).
struct bd3lm_log {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "bd3lm_log";

    double alpha(double t) const {
        detail::check_time(t, name);
        return 1.0 - std::log1p(t) / std::numbers::ln2;
    }
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        return -1.0 / ((1.0 + t) * std::numbers::ln2);
    }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, 0.0, 1.0, name);
        return std::exp2(1.0 - a) - 1.0;
    }
};

}  // namespace ddiff::schedule
