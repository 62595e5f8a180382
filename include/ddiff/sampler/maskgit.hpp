// MaskGIT iterative decoding (google-research/maskgit parallel_decode.py decode): after step j
// of S (progress r = (j + 1) / S) keep mask_len = floor(N0 gamma(r)) positions masked, clamped
// to [1, unknown - 1] (the lower bound wins), i.e. commit the unknown - mask_len best scores.
// gamma(r) is read from the decoder's schedule as 1 - alpha(s) (s = 1 - r), so with
// schedule::maskgit this is MaskGIT exactly; the last step commits everything (MaskGIT's
// answer is the last iteration's sample before re-masking). Pair with remask::maskgit_gumbel.
#pragma once

#include <algorithm>
#include <cmath>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct maskgit {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "maskgit";
    static constexpr ddiff::reads reads = reads_none;

    void step(step_context& c) const {
        const std::size_t unknown = c.candidates.size();
        if (c.last_step()) return c.commit_all();
        const double n0 = static_cast<double>(c.masked_at_block_start);
        auto mask_len = static_cast<std::size_t>(std::floor(n0 * (1.0 - c.time().alpha_s)));
        mask_len = std::max<std::size_t>(1, std::min(unknown > 0 ? unknown - 1 : 0, mask_len));
        if (mask_len >= unknown) return;
        c.commit_top(unknown - mask_len);
    }
};

}  // namespace ddiff::sampler
