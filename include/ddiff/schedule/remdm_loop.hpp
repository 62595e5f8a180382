// ReMDM "loop" schedule (kuleshov-group/remdm diffusion.py): alpha falls linearly to alpha_on
// over t in [t_on, 1], is held at alpha_on on [t_off, t_on] (where ReMDM re-masks and
// re-predicts at constant noise), then rises linearly to 1 over [0, t_off].
#pragma once

#include "ddiff/schedule/common.hpp"

namespace ddiff::schedule {

struct remdm_loop {
    using schedule_concept = schedule_tag;
    static constexpr const char* name = "remdm_loop";
    double t_on = 0.55;
    double t_off = 0.05;
    double alpha_on = 0.9;

    remdm_loop() = default;
    remdm_loop(double on, double off, double a_on) : t_on(on), t_off(off), alpha_on(a_on) {
        ddiff::detail::require(off > 0.0 && on > off && on < 1.0, name, "t_on", on, "0 < t_off < t_on < 1");
        ddiff::detail::require(a_on > 0.0 && a_on < 1.0, name, "alpha_on", a_on, "a value in (0, 1)");
    }

    bool in_loop(double t) const { return t > t_off && t <= t_on; }

    double alpha(double t) const {
        detail::check_time(t, name);
        if (t > t_on) return (1.0 - t) * alpha_on / (1.0 - t_on);
        if (t > t_off) return alpha_on;
        return 1.0 - t * (1.0 - alpha_on) / t_off;
    }
    // Piecewise constant; at the kinks t_on and t_off, the slope of the piece on the left.
    double alpha_prime(double t) const {
        detail::check_time(t, name);
        if (t > t_on) return -alpha_on / (1.0 - t_on);
        if (t > t_off) return 0.0;
        return -(1.0 - alpha_on) / t_off;
    }
    // Inverse; alpha_on itself (held over [t_off, t_on]) maps to t_off.
    double t_of_alpha(double a) const {
        detail::check_alpha(a, 0.0, 1.0, name);
        if (a >= alpha_on) return (1.0 - a) * t_off / (1.0 - alpha_on);
        return 1.0 - a * (1.0 - t_on) / alpha_on;
    }
};

}  // namespace ddiff::schedule
