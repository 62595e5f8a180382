// Shared pieces of the noise schedules: the time check, and sigma = -log alpha derived from
// alpha when a schedule does not define its own.
#pragma once

#include <cmath>
#include <numbers>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"

namespace ddiff::schedule {

inline constexpr double pi = std::numbers::pi;

namespace detail {
inline void check_time(double t, const char* who) {
    ddiff::detail::require(t >= 0.0 && t <= 1.0, who, "t", t, "a time in [0, 1]");
}
inline void check_eps(double eps, const char* who) {
    ddiff::detail::require(eps > 0.0 && eps < 1.0, who, "eps", eps, "a value in (0, 1)");
}
inline void check_alpha(double a, double lo, double hi, const char* who) {
    ddiff::detail::require(a >= lo && a <= hi, who, "alpha", a, "a value in the schedule's range [alpha(1), alpha(0)]");
}
}  // namespace detail

// Total noise sigma(t) = -log alpha(t): the schedule's own if it has one, else derived.
template <noise_schedule S>
double sigma(const S& s, double t) {
    if constexpr (requires { s.sigma(t); })
        return s.sigma(t);
    else
        return -std::log(s.alpha(t));
}

// sigma'(t) = -alpha'(t) / alpha(t): the schedule's own rate if it has one, else derived.
template <noise_schedule S>
double sigma_prime(const S& s, double t) {
    if constexpr (requires { s.sigma_prime(t); })
        return s.sigma_prime(t);
    else
        return -s.alpha_prime(t) / s.alpha(t);
}

}  // namespace ddiff::schedule
