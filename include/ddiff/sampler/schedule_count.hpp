// dllm's schedule-driven step rule (ZHZisZZ/dllm, the MDLM sampler's transfer counts): of the M
// positions still masked, commit n = round(M (1 - (1 - alpha_s) / (1 - alpha_t))) best-scored
// ones (torch.round: half to even), all of them at the last step; the stochastic variant draws
// n ~ Binomial(M, same probability).
#pragma once

#include <cmath>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

template <bool Stochastic>
struct schedule_count {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = Stochastic ? "schedule_binomial" : "schedule";
    static constexpr ddiff::reads reads = reads_none;

    // The expected count, rounded as torch.round does (half to even: 2.5 -> 2, 3.5 -> 4).
    static std::size_t rounded(std::size_t masked, double p) {
        return static_cast<std::size_t>(std::nearbyint(static_cast<double>(masked) * p));
    }

    void step(step_context& c) const {
        const std::size_t M = c.candidates.size();
        const auto& tm = c.time();
        if (c.last_step() || tm.alpha_s >= 1.0) return c.commit_all();
        const double p = tm.alpha_t >= 1.0 ? 0.0 : 1.0 - (1.0 - tm.alpha_s) / (1.0 - tm.alpha_t);
        std::size_t n = 0;
        if constexpr (Stochastic) {
            for (std::size_t i = 0; i < M; ++i) n += c.uniform(streams::transfer, i, 1) < p;
        } else {
            n = rounded(M, p);
        }
        c.commit_top(n);
    }
};

}  // namespace ddiff::sampler
