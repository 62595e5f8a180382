// Dream's "entropy" remasking (Dream-org/Dream generation_utils.py): sum_v p_v log(p_v + 1e-10)
// = -H (higher = more certain). llama.cpp's diffusion example returns +H and still commits the
// largest, the opposite order (a suspected sign bug there); ddiff follows Dream.
#pragma once

#include <cmath>

#include "ddiff/core/concepts.hpp"

namespace ddiff::remask {

struct entropy {
    using remask_concept = remask_tag;
    static constexpr const char* name = "entropy";
    static constexpr ddiff::reads reads{.probs = true, .logits = false, .entropy = false};
    double score(const position_view& v, const step_info&, const counter_rng&) const {
        double s = 0.0;
        for (double p : v.probs) s += p * std::log(p + 1e-10);
        return s;
    }
};

}  // namespace ddiff::remask
