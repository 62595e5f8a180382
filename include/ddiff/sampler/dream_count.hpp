// Dream's step rule for its confidence algorithms (Dream-org/Dream generation_utils.py
// _sample: timesteps = linspace(1, eps, S + 1)): commit floor(M (1 - s/t)) of the M positions
// still masked (can be 0), all of them at the last step.
#pragma once

#include <cmath>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct dream_count {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "dream";
    static constexpr ddiff::reads reads = reads_none;
    double eps = 1e-3;

    static std::size_t count(std::size_t masked, std::uint32_t j, std::uint32_t steps, double eps) {
        if (j + 1 >= steps) return masked;
        const double t = 1.0 - (1.0 - eps) * j / steps, s = 1.0 - (1.0 - eps) * (j + 1) / steps;
        return static_cast<std::size_t>(std::floor(static_cast<double>(masked) * (1.0 - s / t)));
    }
    void step(step_context& c) const {
        c.commit_top(count(c.candidates.size(), c.info.step_in_block, c.info.steps_in_block, eps));
    }
};

}  // namespace ddiff::sampler
