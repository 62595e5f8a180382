// Dream's "topk_margin" (Dream-org/Dream generation_utils.py): top-1 minus top-2 probability of
// the sampling distribution p~.
#pragma once

#include "ddiff/core/concepts.hpp"

namespace ddiff::remask {

struct margin {
    using remask_concept = remask_tag;
    static constexpr const char* name = "margin";
    static constexpr ddiff::reads reads{.probs = true, .logits = false, .entropy = false};
    double score(const position_view& v, const step_info&, const counter_rng&) const {
        double first = 0.0, second = 0.0;
        for (double p : v.probs) {
            if (p > first) {
                second = first;
                first = p;
            } else if (p > second) {
                second = p;
            }
        }
        return first - second;
    }
};

}  // namespace ddiff::remask
