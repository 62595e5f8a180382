// Fast-dLLM's threshold rule (NVlabs/Fast-dLLM llada/generate.py get_transfer_index with
// threshold): commit the best-scored candidate, plus every candidate whose score is >= tau.
// The score is the remasking strategy's: with LLaDA's low_confidence (Fast-dLLM's) it is the
// untempered softmax probability of the proposal; confidence and KLASS scores are probabilities
// too; with a score that is not a probability only the best is committed. Runs until the block
// is full.
#pragma once

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct threshold {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "threshold";
    static constexpr bool adaptive = true;
    static constexpr ddiff::reads reads = reads_none;
    double tau = 0.9;

    threshold() = default;
    explicit threshold(double tau_) : tau(tau_) {
        ddiff::detail::require(tau >= 0.0 && tau <= 1.0, name, "tau", tau, "a confidence in [0, 1]");
    }

    void step(step_context& c) const {
        const auto order = c.ranked();
        if (order.empty()) return;
        c.commit(c.candidates[order[0]]);
        for (std::size_t r = 1; r < order.size(); ++r)
            if (c.candidates[order[r]].score >= tau) c.commit(c.candidates[order[r]]);
    }
};

}  // namespace ddiff::sampler
