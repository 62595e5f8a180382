// LLaDA's "low_confidence" remasking (GSAI-ML/LLaDA generate.py): the untempered, unfiltered
// softmax of the raw logits at the proposed token, exp(l[x^] - logsumexp(l)), computed in
// float64 (LLaDA's current code uses the model dtype, bf16, which makes ties common).
#pragma once

#include "ddiff/core/concepts.hpp"

namespace ddiff::remask {

struct low_confidence {
    using remask_concept = remask_tag;
    static constexpr const char* name = "low_confidence";
    static constexpr ddiff::reads reads = reads_none;
    double score(const position_view& v, const step_info&, const counter_rng&) const { return v.raw_probability; }
};

}  // namespace ddiff::remask
