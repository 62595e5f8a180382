// Cosine schedules. Each source puts eps somewhere else, so each is its own type.
#pragma once

#include "ddiff/schedule/common.hpp"

namespace ddiff::schedule {

// MDLM noise_schedule.py CosineNoise: alpha = eps + (1 - eps) cos(pi t / 2).
struct mdlm_cosine {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "mdlm_cosine";
    double eps = 1e-3;

    mdlm_cosine() = default;
    explicit mdlm_cosine(double eps_) : eps(eps_) { detail::check_eps(eps, name); }

    double alpha(double t) const {
        detail::check_time(t, name);
        return eps + (1.0 - eps) * std::cos(pi * t / 2.0);
    }
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        return -(1.0 - eps) * (pi / 2.0) * std::sin(pi * t / 2.0);
    }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, eps, 1.0, name);
        return (2.0 / pi) * std::acos((a - eps) / (1.0 - eps));
    }
};

// MDLM noise_schedule.py CosineSqrNoise: alpha = eps + (1 - eps) cos^2(pi t / 2).
struct mdlm_cosine_squared {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "mdlm_cosine_squared";
    double eps = 1e-3;

    mdlm_cosine_squared() = default;
    explicit mdlm_cosine_squared(double eps_) : eps(eps_) { detail::check_eps(eps, name); }

    double alpha(double t) const {
        detail::check_time(t, name);
        const double c = std::cos(pi * t / 2.0);
        return eps + (1.0 - eps) * c * c;
    }
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        return -(1.0 - eps) * (pi / 2.0) * std::sin(pi * t);
    }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, eps, 1.0, name);
        return (2.0 / pi) * std::acos(std::sqrt((a - eps) / (1.0 - eps)));
    }
};

// DUO trainer_base.py / dllm CosineAlphaScheduler: alpha = 1 - cos((pi / 2)(1 - t')),
// t' = (1 - eps) t.
struct duo_cosine {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "duo_cosine";
    double eps = 1e-3;

    duo_cosine() = default;
    explicit duo_cosine(double eps_) : eps(eps_) { detail::check_eps(eps, name); }

    double alpha(double t) const {
        detail::check_time(t, name);
        return 1.0 - std::cos((pi / 2.0) * (1.0 - (1.0 - eps) * t));
    }
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        return -(pi / 2.0) * (1.0 - eps) * std::sin((pi / 2.0) * (1.0 - (1.0 - eps) * t));
    }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, alpha(1.0), 1.0, name);
        return (1.0 - (2.0 / pi) * std::acos(1.0 - a)) / (1.0 - eps);
    }
};

// BD3LM noise_schedule.py CosineNoise: move chance 1 - (1 - eps) cos(pi t / 2), so
// alpha = (1 - eps) cos(pi t / 2) (alpha(0) = 1 - eps: the source never fully denoises).
struct bd3lm_cosine {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "bd3lm_cosine";
    double eps = 1e-3;

    bd3lm_cosine() = default;
    explicit bd3lm_cosine(double eps_) : eps(eps_) { detail::check_eps(eps, name); }

    double alpha(double t) const {
        detail::check_time(t, name);
        return (1.0 - eps) * std::cos(pi * t / 2.0);
    }
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        return -(1.0 - eps) * (pi / 2.0) * std::sin(pi * t / 2.0);
    }
    double t_of_alpha(double a) const {
        detail::check_alpha(a, 0.0, 1.0 - eps, name);
        return (2.0 / pi) * std::acos(a / (1.0 - eps));
    }
};

}  // namespace ddiff::schedule
