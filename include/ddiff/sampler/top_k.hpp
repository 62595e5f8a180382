// LLaDA's step rule (GSAI-ML/LLaDA generate.py): a fixed number of best-scored positions per
// step, the block's masked count split evenly over its steps.
#pragma once

#include <vector>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

// generate.py get_num_transfer_tokens: M masked positions over S steps, base = M / S, the first
// M % S steps commit one more. (10 over 4 steps: 3, 3, 2, 2.)
inline std::size_t llada_count(std::size_t masked, std::size_t steps, std::size_t j) {
    ddiff::detail::require(steps >= 1, "llada_split", "steps", steps, "at least 1");
    return masked / steps + (j < masked % steps ? 1 : 0);
}

inline std::vector<std::size_t> llada_split(std::size_t masked, std::size_t steps) {
    ddiff::detail::require(steps >= 1, "llada_split", "steps", steps, "at least 1");
    std::vector<std::size_t> n(steps);
    for (std::size_t j = 0; j < steps; ++j) n[j] = llada_count(masked, steps, j);
    return n;
}

struct top_k {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "top_k";
    static constexpr ddiff::reads reads = reads_none;
    void step(step_context& c) const {
        c.commit_top(llada_count(c.masked_at_block_start, c.info.steps_in_block, c.info.step_in_block));
    }
};

}  // namespace ddiff::sampler
