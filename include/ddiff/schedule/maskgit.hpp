// MaskGIT mask-ratio functions (google-research maskgit libml/mask_schedule.py). MaskGIT
// writes gamma(r), the fraction still masked after progress r in [0, 1], clipped to
// [1e-6, 1]; as a diffusion schedule, t = 1 - r and alpha(t) = 1 - clip(gamma(1 - t)).
#pragma once

#include <algorithm>

#include "ddiff/schedule/common.hpp"

namespace ddiff::schedule {

enum class maskgit_kind { uniform, pow, cosine, log, exp };

class maskgit {
public:
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "maskgit";
    static constexpr double clip_low = 1e-6;

    // exponent: K of "powK"; total_unknown: N, the number of tokens masked at the start
    // (used by log and exp).
    explicit maskgit(maskgit_kind kind = maskgit_kind::cosine, double exponent = 2.0, double total_unknown = 256.0)
        : kind_(kind), k_(exponent), n_(total_unknown) {
        ddiff::detail::require(exponent > 0.0 && std::isfinite(exponent), name, "exponent", exponent, "finite and > 0");
        ddiff::detail::require(total_unknown > 1.0 && std::isfinite(total_unknown), name, "total_unknown",
                               total_unknown, "finite and > 1");
    }

    maskgit_kind kind() const noexcept { return kind_; }

    // The unclipped ratio gamma(r) and its derivative in r.
    double gamma(double r) const {
        switch (kind_) {
            case maskgit_kind::uniform: return 1.0 - r;
            case maskgit_kind::pow: return 1.0 - std::pow(r, k_);
            case maskgit_kind::cosine: return std::cos(pi / 2.0 * r);
            case maskgit_kind::log: return -std::log2(r) / std::log2(n_);
            case maskgit_kind::exp: return 1.0 - std::exp2(-std::log2(n_) * (1.0 - r));
        }
        return 0.0;
    }
    double gamma_prime(double r) const {
        switch (kind_) {
            case maskgit_kind::uniform: return -1.0;
            case maskgit_kind::pow: return -k_ * std::pow(r, k_ - 1.0);
            case maskgit_kind::cosine: return -pi / 2.0 * std::sin(pi / 2.0 * r);
            case maskgit_kind::log: return -1.0 / (r * std::log(n_));
            case maskgit_kind::exp: return -std::log(n_) * std::exp2(-std::log2(n_) * (1.0 - r));
        }
        return 0.0;
    }

    double alpha(double t) const {
        detail::check_time(t, name);
        return 1.0 - std::clamp(gamma(1.0 - t), clip_low, 1.0);
    }
    // d/dt of 1 - gamma(1 - t) is gamma'(1 - t); zero where the clip is active.
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        const double g = gamma(1.0 - t);
        if (g < clip_low || g > 1.0) return 0.0;  // on the boundary: the one-sided slope
        return gamma_prime(1.0 - t);
    }

    // Closed-form inverse of the unclipped piece (alpha in [1 - gamma(0), 1 - gamma(1)]).
    double t_of_alpha(double a) const {
        detail::check_alpha(a, 0.0, 1.0, name);
        switch (kind_) {
            case maskgit_kind::uniform: return 1.0 - a;
            case maskgit_kind::pow: return 1.0 - std::pow(a, 1.0 / k_);
            case maskgit_kind::cosine: return (2.0 / pi) * std::asin(1.0 - a);
            case maskgit_kind::log: return 1.0 - std::pow(n_, a - 1.0);
            case maskgit_kind::exp: return -std::log(a) / std::log(n_);
        }
        return 0.0;
    }

private:
    maskgit_kind kind_;
    double k_;
    double n_;
};

// MaskGIT's default cosine schedule as a type of its own (the run-time registry key).
struct maskgit_cosine : maskgit {
    static constexpr const char* name = "maskgit_cosine";
    maskgit_cosine() : maskgit(maskgit_kind::cosine) {}
};

}  // namespace ddiff::schedule
