// dInfer's ThresholdParallelDecoder (inclusionAI/dInfer): tau_eff = clamp(max_i c_i - 1e-5,
// -1000, tau); commit every candidate with c_i >= tau_eff, so the best (and anything within
// 1e-5 of it) always goes. c is the remasking score (dInfer ranks the proposal's probability:
// LLaDA's low_confidence; with remask::credit, the credit-fused one); a best scored -inf (every
// proposal an EOS under eos_confidence_last) is still committed. Runs until the block is full.
#pragma once

#include <algorithm>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct dinfer_threshold {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "dinfer_threshold";
    static constexpr bool adaptive = true;
    static constexpr ddiff::reads reads = reads_none;
    double tau = 0.9;

    dinfer_threshold() = default;
    explicit dinfer_threshold(double tau_) : tau(tau_) {
        ddiff::detail::require(tau >= 0.0 && tau <= 1.0, name, "tau", tau, "a confidence in [0, 1]");
    }

    void step(step_context& c) const {
        const auto order = c.ranked();
        if (order.empty()) return;
        const double eff = std::clamp(c.candidates[order[0]].score - 1e-5, -1000.0, tau);
        c.commit(c.candidates[order[0]]);
        for (std::size_t r = 1; r < order.size(); ++r)
            if (c.candidates[order[r]].score >= eff) c.commit(c.candidates[order[r]]);
    }
};

}  // namespace ddiff::sampler
