// Log-linear schedule: alpha(t) = 1 - (1 - eps) t, so sigma = -log(1 - (1 - eps) t).
// SEDD noise_lib.py LogLinearNoise; MDLM noise_schedule.py LogLinearNoise (the default);
// LLaDA's p_mask = (1 - eps) t + eps is the same up to where eps sits.
#pragma once

#include "ddiff/schedule/common.hpp"

namespace ddiff::schedule {

struct log_linear {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "log_linear";
    double eps = 1e-3;

    log_linear() = default;
    explicit log_linear(double eps_) : eps(eps_) { detail::check_eps(eps, "log_linear"); }

    double alpha(double t) const {
        detail::check_time(t, name);
        return 1.0 - (1.0 - eps) * t;
    }
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        return -(1.0 - eps);
    }
    double sigma(double t) const {
        detail::check_time(t, name);
        return -std::log1p(-(1.0 - eps) * t);
    }
    double sigma_prime(double t) const { return (1.0 - eps) / alpha(t); }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, eps, 1.0, name);
        return (1.0 - a) / (1.0 - eps);
    }
};

}  // namespace ddiff::schedule
