// Dream's "maskgit_plus" (Dream-org/Dream generation_utils.py): the probability of the proposal
// under the distribution it was drawn from (after temperature, top-p and top-k).
#pragma once

#include "ddiff/core/concepts.hpp"

namespace ddiff::remask {

struct confidence {
    using remask_concept = remask_tag;
    static constexpr const char* name = "confidence";
    static constexpr ddiff::reads reads = reads_none;
    double score(const position_view& v, const step_info&, const counter_rng&) const { return v.confidence; }
};

}  // namespace ddiff::remask
