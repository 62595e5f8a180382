// Fast-dLLM's factor rule (NVlabs/Fast-dLLM llada/generate.py get_transfer_index_dynamic): sort
// the scores descending and commit the largest prefix n with c_(n) >= 1 - f / (n + 1), at least
// one. The reference ranks x0_p, the untempered softmax probability of the proposal: LLaDA's
// low_confidence score (the default), which is what ddiff ranks (the remasking score, so
// eos_confidence_last applies too). Runs until the block is full.
#pragma once

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct factor {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "factor";
    static constexpr bool adaptive = true;
    static constexpr ddiff::reads reads = reads_none;
    double f = 1.0;

    factor() = default;
    explicit factor(double f_) : f(f_) { ddiff::detail::require(f > 0.0, name, "factor", f, "> 0"); }

    void step(step_context& c) const {
        const auto order = c.ranked();
        if (order.empty()) return;
        std::size_t n = 0;
        while (n < order.size() && c.candidates[order[n]].score >= 1.0 - f / static_cast<double>(n + 2)) ++n;
        n = std::max<std::size_t>(n, 1);
        for (std::size_t i = 0; i < n; ++i) c.commit(c.candidates[order[i]]);
    }
};

}  // namespace ddiff::sampler
