// Step rules that commit a number of best-scored positions per step: LLaDA's uniform split,
// Dream's floor(M (1 - s/t)), and counts driven by any noise schedule (dllm).
#pragma once

#include <cmath>
#include <vector>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

// LLaDA generate.py get_num_transfer_tokens: M masked positions over S steps, base = M / S,
// the first M % S steps commit one more. (10 over 4 steps: 3, 3, 2, 2.)
inline std::vector<std::size_t> llada_split(std::size_t masked, std::size_t steps) {
    ddiff::detail::require(steps >= 1, "llada_split", "steps", steps, "at least 1");
    std::vector<std::size_t> n(steps, masked / steps);
    for (std::size_t j = 0; j < masked % steps; ++j) ++n[j];
    return n;
}

// LLaDA: the planned count of this step, top-k by score.
struct top_k {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "top_k";
    void step(step_context& c) const {
        const auto plan = llada_split(c.masked_at_block_start, c.steps_in_block);
        c.commit_top(plan[c.step_in_block]);
    }
};

// Dream generation_utils.py (confidence algorithms): timesteps linspace(1, eps, S + 1);
// commit floor(M (1 - s/t)) of the M still masked (can be 0), all of them at the last step.
struct dream_count {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "dream_count";
    double eps = 1e-3;

    static std::size_t count(std::size_t masked, std::uint32_t j, std::uint32_t steps, double eps) {
        if (j + 1 >= steps) return masked;
        const double t = 1.0 - (1.0 - eps) * j / steps, s = 1.0 - (1.0 - eps) * (j + 1) / steps;
        return static_cast<std::size_t>(std::floor(static_cast<double>(masked) * (1.0 - s / t)));
    }
    void step(step_context& c) const {
        c.commit_top(count(c.candidates.size(), c.step_in_block, c.steps_in_block, eps));
    }
};

// dllm schedule-driven counts: n = round(M (1 - (1 - alpha_s) / (1 - alpha_t))) of the M still
// masked (all at the last step), or, with stochastic = true, n ~ Binomial(M, same probability).
struct schedule_count {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "schedule_count";
    bool stochastic = false;

    void step(step_context& c) const {
        const std::size_t M = c.candidates.size();
        if (c.last_step() || c.alpha_s >= 1.0) return c.commit_all();
        const double p = c.alpha_t >= 1.0 ? 0.0 : 1.0 - (1.0 - c.alpha_s) / (1.0 - c.alpha_t);
        std::size_t n = 0;
        if (stochastic) {
            for (std::size_t i = 0; i < M; ++i) n += c.uniform(streams::transfer, i, 1) < p;
        } else {
            n = static_cast<std::size_t>(std::llround(static_cast<double>(M) * p));
        }
        c.commit_top(n);
    }
};

}  // namespace ddiff::sampler
