// Remasking scores (which masked position to commit first; higher = sooner) from LLaDA and
// Dream. Each is a policy satisfying ddiff::remasking_strategy.
#pragma once

#include <cmath>
#include <limits>

#include "ddiff/core/concepts.hpp"

namespace ddiff::remask {

// LLaDA generate.py "low_confidence": the untempered, unfiltered softmax of the raw logits at
// the proposed token, exp(l[x^] - logsumexp(l)) (computed in float64; LLaDA's current code
// uses the model dtype, bf16, which makes ties common).
struct low_confidence {
    using remask_concept = remask_tag;
    static constexpr const char* name = "low_confidence";
    double score(const position_view& v, const step_info&, const counter_rng&) const {
        return std::exp(v.logits[static_cast<std::size_t>(v.token)] - v.log_z);
    }
};

// LLaDA "random": U(0, 1), independent of the proposal.
struct random {
    using remask_concept = remask_tag;
    static constexpr const char* name = "random";
    double score(const position_view& v, const step_info& s, const counter_rng& g) const {
        return g.uniform({streams::remask, s.step, static_cast<std::uint32_t>(v.position)});
    }
};

// Dream generation_utils.py "maskgit_plus": the probability of the proposal under the
// distribution it was drawn from (after temperature, top-k, top-p).
struct confidence {
    using remask_concept = remask_tag;
    static constexpr const char* name = "confidence";
    double score(const position_view& v, const step_info&, const counter_rng&) const {
        return v.probs[static_cast<std::size_t>(v.token)];
    }
};

// Dream "topk_margin": top-1 minus top-2 probability of the sampling distribution.
struct margin {
    using remask_concept = remask_tag;
    static constexpr const char* name = "margin";
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

// Dream "entropy": sum_v p_v log(p_v + 1e-10) = -H (higher = more certain). llama.cpp's
// diffusion example returns +H and still commits the largest, the opposite order (a suspected
// sign bug there); ddiff follows Dream.
struct entropy {
    using remask_concept = remask_tag;
    static constexpr const char* name = "entropy";
    double score(const position_view& v, const step_info&, const counter_rng&) const {
        double s = 0.0;
        for (double p : v.probs) s += p * std::log(p + 1e-10);
        return s;
    }
};

}  // namespace ddiff::remask
