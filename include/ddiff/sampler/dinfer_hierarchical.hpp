// dInfer's HierarchyDecoder (inclusionAI/dInfer): split the block's masked positions into
// maximal contiguous runs; in each run commit the positions at the run's maximum score if it
// exceeds `low`; also every position scoring > tau, and always the global best (lowest position
// on ties). Scores as in dinfer_threshold. Defaults tau 0.9, low 0.4 (the class default; dInfer's
// CLI uses 0.3). Runs until the block is full.
#pragma once

#include <algorithm>
#include <limits>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct dinfer_hierarchical {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "dinfer_hierarchical";
    static constexpr bool adaptive = true;
    static constexpr ddiff::reads reads = reads_none;
    double tau = 0.9;
    double low = 0.4;

    dinfer_hierarchical() = default;
    dinfer_hierarchical(double tau_, double low_) : tau(tau_), low(low_) {
        ddiff::detail::require(tau >= 0.0 && tau <= 1.0, name, "tau", tau, "a confidence in [0, 1]");
        ddiff::detail::require(low >= 0.0 && low <= 1.0, name, "low", low, "a confidence in [0, 1]");
    }

    void step(step_context& c) const {
        const auto cs = c.candidates;  // sorted by position
        if (cs.empty()) return;
        auto& take = c.scratch->values;  // 1 = commit
        take.assign(cs.size(), 0.0);
        std::size_t best = 0;
        for (std::size_t i = 0; i < cs.size(); ++i) {
            if (cs[i].score > cs[best].score) best = i;
            if (cs[i].score > tau) take[i] = 1.0;
        }
        take[best] = 1.0;
        for (std::size_t lo = 0; lo < cs.size();) {
            std::size_t hi = lo + 1;
            while (hi < cs.size() && cs[hi].position == cs[hi - 1].position + 1) ++hi;
            double run_max = -std::numeric_limits<double>::infinity();
            for (std::size_t i = lo; i < hi; ++i) run_max = std::max(run_max, cs[i].score);
            if (run_max > low)
                for (std::size_t i = lo; i < hi; ++i)
                    if (cs[i].score == run_max) take[i] = 1.0;
            lo = hi;
        }
        for (std::size_t i = 0; i < cs.size(); ++i)
            if (take[i] != 0.0) c.commit(cs[i]);
    }
};

}  // namespace ddiff::sampler
