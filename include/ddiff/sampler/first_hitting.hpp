// First-hitting sampler (Zheng et al. 2024, arXiv 2409.02908; kuleshov-group/bd3lms): the next
// unmasking time is t u^(1/n) for n masked positions, and exactly one uniformly chosen masked
// position is revealed with its proposal x^ ~ p~. Exact at any setting (temperature 1, no
// filtering): one model call per token.
// Time order: ddiff calls the model at the row's current time t, then moves t to t u^(1/n);
// bd3lms draws the next time before the model call. The two agree for time-free models (every
// masked-diffusion LM ddiff loads); a time-conditioned model sees the earlier of the two times.
#pragma once

#include <cmath>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct first_hitting {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "first_hitting";
    static constexpr bool adaptive = true;
    static constexpr ddiff::reads reads = reads_none;

    void step(step_context& c) const {
        const std::size_t n = c.candidates.size();
        if (n == 0) return;
        const double u = c.uniform(streams::time, 0);
        if (c.row_time) *c.row_time *= std::pow(u, 1.0 / static_cast<double>(n));
        auto pick = static_cast<std::size_t>(c.uniform(streams::transfer, 0) * static_cast<double>(n));
        c.commit(c.candidates[std::min(pick, n - 1)]);
    }
};

}  // namespace ddiff::sampler
