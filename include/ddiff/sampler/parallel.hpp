// Parallel-decoding step rules from MaskGIT and dInfer.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

// MaskGIT iterative decoding (parallel_decode.py decode): after step j of S (progress
// r = (j + 1) / S) keep mask_len = floor(N0 gamma(r)) positions masked, clamped to
// [1, unknown - 1] (the lower bound wins), i.e. commit the unknown - mask_len best scores.
// gamma(r) is read from the decoder's schedule as 1 - alpha(s) (s = 1 - r), so with
// schedule::maskgit this is MaskGIT exactly; the last step commits everything (MaskGIT's
// answer is the last iteration's sample before re-masking). Pair with remask::maskgit_gumbel.
struct maskgit {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "maskgit";
    void step(step_context& c) const {
        const std::size_t unknown = c.candidates.size();
        if (c.last_step()) return c.commit_all();
        const double n0 = static_cast<double>(c.masked_at_block_start);
        std::size_t mask_len = static_cast<std::size_t>(std::floor(n0 * (1.0 - c.alpha_s)));
        mask_len = std::max<std::size_t>(1, std::min(unknown > 0 ? unknown - 1 : 0, mask_len));
        if (mask_len >= unknown) return;
        c.commit_top(unknown - mask_len);
    }
};

// dInfer ThresholdParallelDecoder: tau_eff = clamp(max_i c_i - 1e-5, -1000, tau); commit every
// candidate with c_i >= tau_eff, so the best (and anything within 1e-5 of it) always goes.
// c is the proposal's confidence. Runs until the block is full.
struct dinfer_threshold {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "dinfer_threshold";
    static constexpr bool adaptive = true;
    double tau = 0.9;

    void step(step_context& c) const {
        double cmax = -std::numeric_limits<double>::infinity();
        for (const auto& k : c.candidates) cmax = std::max(cmax, k.confidence);
        const double eff = std::clamp(cmax - 1e-5, -1000.0, tau);
        for (const auto& k : c.candidates)
            if (k.confidence >= eff) c.commit(k);
    }
};

// dInfer HierarchyDecoder: split the block's masked positions into maximal contiguous runs; in
// each run commit the positions at the run's maximum confidence if it exceeds `low`; also
// every position with confidence > tau, and always the global best (lowest position on ties).
// Defaults tau 0.9, low 0.4 (the class default; the CLI uses 0.3). Runs until the block is full.
struct dinfer_hierarchical {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "dinfer_hierarchical";
    static constexpr bool adaptive = true;
    double tau = 0.9;
    double low = 0.4;

    void step(step_context& c) const {
        const auto& cs = c.candidates;  // sorted by position
        if (cs.empty()) return;
        std::vector<bool> take(cs.size(), false);
        std::size_t best = 0;
        for (std::size_t i = 0; i < cs.size(); ++i) {
            if (cs[i].confidence > cs[best].confidence) best = i;
            if (cs[i].confidence > tau) take[i] = true;
        }
        take[best] = true;
        for (std::size_t lo = 0; lo < cs.size();) {
            std::size_t hi = lo + 1;
            while (hi < cs.size() && cs[hi].position == cs[hi - 1].position + 1) ++hi;
            double run_max = -std::numeric_limits<double>::infinity();
            for (std::size_t i = lo; i < hi; ++i) run_max = std::max(run_max, cs[i].confidence);
            if (run_max > low)
                for (std::size_t i = lo; i < hi; ++i)
                    if (cs[i].confidence == run_max) take[i] = true;
            lo = hi;
        }
        for (std::size_t i = 0; i < cs.size(); ++i)
            if (take[i]) c.commit(cs[i]);
    }
};

}  // namespace ddiff::sampler
