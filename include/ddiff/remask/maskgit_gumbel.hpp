// MaskGIT's annealed-Gumbel confidence (google-research/maskgit parallel_decode.py
// mask_by_random_topk): c = log p~(x^) + tau_c (1 - r) g, g ~ Gumbel, r = (step + 1) / T the
// progress after this step, so the noise vanishes at the last step. tau_c = 1 (4.5 in the
// class-conditional ImageNet config). Pair with sampler::maskgit and schedule::maskgit.
#pragma once

#include <algorithm>
#include <cmath>

#include "ddiff/core/concepts.hpp"

namespace ddiff::remask {

struct maskgit_gumbel {
    using remask_concept = remask_tag;
    static constexpr const char* name = "maskgit_gumbel";
    static constexpr ddiff::reads reads = reads_none;
    double choice_temperature = 1.0;

    double score(const position_view& v, const step_info& s, const counter_rng& g) const {
        const double r = static_cast<double>(s.step_in_block + 1) / std::max<std::uint32_t>(1, s.steps_in_block);
        const double u = g.uniform({streams::remask, s.step, static_cast<std::uint32_t>(v.position)}, 2);
        return std::log(v.confidence) - choice_temperature * (1.0 - r) * std::log(-std::log(u));
    }
};

}  // namespace ddiff::remask
