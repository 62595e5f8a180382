// LLaDA's "random" remasking (GSAI-ML/LLaDA generate.py): U(0, 1), independent of the proposal.
#pragma once

#include "ddiff/core/concepts.hpp"

namespace ddiff::remask {

struct random {
    using remask_concept = remask_tag;
    static constexpr const char* name = "random";
    static constexpr ddiff::reads reads = reads_none;
    double score(const position_view& v, const step_info& s, const counter_rng& g) const {
        return g.uniform({streams::remask, s.step, static_cast<std::uint32_t>(v.position)});
    }
};

}  // namespace ddiff::remask
