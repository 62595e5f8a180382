// Schedules defined by their total noise sigma(t), alpha = exp(-sigma): geometric (SEDD
// noise_lib.py GeometricNoise) and linear in sigma (MDLM noise_schedule.py LinearNoise).
#pragma once

#include "ddiff/schedule/common.hpp"

namespace ddiff::schedule {

namespace detail {
inline void check_sigma_range(double lo, double hi, const char* who) {
    ddiff::detail::require(lo > 0.0 && hi > lo && std::isfinite(hi), who, "sigma_max", hi,
                           "finite and > sigma_min > 0");
}
}  // namespace detail

// sigma(t) = sigma_min^(1 - t) sigma_max^t; sigma' = sigma (ln sigma_max - ln sigma_min).
// Defaults are the values SEDD's config passes (1e-4, 20); the class's own (1e-3, 1) would
// leave alpha(1) = 1/e, never fully noised.
struct geometric {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "geometric";
    double sigma_min = 1e-4;
    double sigma_max = 20.0;

    geometric() = default;
    geometric(double lo, double hi) : sigma_min(lo), sigma_max(hi) { detail::check_sigma_range(lo, hi, name); }

    double sigma(double t) const {
        detail::check_time(t, name);
        return std::pow(sigma_min, 1.0 - t) * std::pow(sigma_max, t);
    }
    double sigma_prime(double t) const { return sigma(t) * (std::log(sigma_max) - std::log(sigma_min)); }
    double alpha(double t) const { return std::exp(-sigma(t)); }
    double alpha_prime(double t) const { return -sigma_prime(t) * alpha(t); }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, std::exp(-sigma_max), std::exp(-sigma_min), name);
        return (std::log(-std::log(a)) - std::log(sigma_min)) / (std::log(sigma_max) - std::log(sigma_min));
    }
};

// sigma(t) = sigma_min + t (sigma_max - sigma_min); defaults from MDLM configs/noise/linear.yaml.
struct linear_sigma {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "linear_sigma";
    double sigma_min = 1e-3;
    double sigma_max = 7.0;

    linear_sigma() = default;
    linear_sigma(double lo, double hi) : sigma_min(lo), sigma_max(hi) {
        ddiff::detail::require(lo >= 0.0 && hi > lo && std::isfinite(hi), name, "sigma_max", hi,
                               "finite and > sigma_min >= 0");
    }

    double sigma(double t) const {
        detail::check_time(t, name);
        return sigma_min + t * (sigma_max - sigma_min);
    }
    double sigma_prime(double t) const {
        detail::check_time(t, name);
        return sigma_max - sigma_min;
    }
    double alpha(double t) const { return std::exp(-sigma(t)); }
    double alpha_prime(double t) const { return -sigma_prime(t) * alpha(t); }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, std::exp(-sigma_max), std::exp(-sigma_min), name);
        return (-std::log(a) - sigma_min) / (sigma_max - sigma_min);
    }
};

}  // namespace ddiff::schedule
