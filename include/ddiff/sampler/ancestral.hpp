// MDLM's ancestral step with the exact absorbing posterior (kuleshov-group/mdlm diffusion.py
// _ddpm_update): each masked position is revealed with probability
// (alpha_s - alpha_t) / (1 - alpha_t), its token the proposal x^ ~ p~; whatever is left is
// revealed at the last step. With the log-linear schedule and eps -> 0 this is Dream's "origin"
// rule (reveal iff U < 1 - s/t).
#pragma once

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct ancestral {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "ancestral";
    static constexpr ddiff::reads reads = reads_none;

    void step(step_context& c) const {
        if (c.last_step()) return c.commit_all();
        const auto& tm = c.time();
        const double p = tm.alpha_t >= 1.0 ? 0.0 : (tm.alpha_s - tm.alpha_t) / (1.0 - tm.alpha_t);
        for (const auto& cand : c.candidates)
            if (c.uniform(streams::transfer, cand.position) < p) c.commit(cand);
    }
};

}  // namespace ddiff::sampler
