// SDAR's step rules (JetAstra/SDAR generate.py block_diffusion_generate, remasking_strategy
// low_confidence_static / low_confidence_dynamic). The count of step j of a block of L positions
// over S steps is get_num_transfer_tokens(L, S)[j]: L // S, one more for the first L % S steps,
// for the whole block length even when prompt tokens fill part of it (unlike LLaDA's count of
// the block's masks, sampler::top_k).
//   sdar_static   the k = count[j] best-scored masked positions;
//   sdar_dynamic  every masked position scored > threshold if there are at least count[j] of
//                 them, else the k best.
// Upstream, a count larger than the masks left makes torch.topk pick unmasked positions (score
// -inf) and overwrite them with their proposals; here k is at most the masks left.
#pragma once

#include <algorithm>

#include "ddiff/sampler/context.hpp"
#include "ddiff/sampler/top_k.hpp"

namespace ddiff::sampler {

template <bool Dynamic>
struct sdar_count {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = Dynamic ? "sdar_dynamic" : "sdar_static";
    static constexpr ddiff::reads reads = reads_none;
    double threshold = 0.85;  // generate.py's default confidence_threshold

    sdar_count() = default;
    explicit sdar_count(double tau) : threshold(tau) {
        ddiff::detail::require(tau >= 0.0 && tau <= 1.0, name, "threshold", tau, "a confidence in [0, 1]");
    }

    void step(step_context& c) const {
        const std::size_t L = c.info.block_end - c.info.block_begin;
        const std::size_t k = std::min(llada_count(L, c.info.steps_in_block, c.info.step_in_block), c.candidates.size());
        if constexpr (Dynamic) {
            std::size_t high = 0;
            for (const auto& x : c.candidates) high += x.score > threshold;
            if (high >= k && high > 0) {
                for (const auto& x : c.candidates)
                    if (x.score > threshold) c.commit(x);
                return;
            }
        }
        c.commit_top(k);
    }
};

using sdar_static = sdar_count<false>;
using sdar_dynamic = sdar_count<true>;

}  // namespace ddiff::sampler
