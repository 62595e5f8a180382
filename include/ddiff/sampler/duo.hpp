// DUO / UDLM ancestral sampling for uniform noise (s-sahoo/duo trainer_base.py
// _ancestral_update): every position draws x_s from the x-parameterised posterior
// q(x_s | x_t, p) of process::uniform. The last step is DUO's noise removal: "ancestral" (its
// default) applies the same posterior with alpha_s = 1; "greedy" (duo_greedy) takes the
// denoiser's argmax.
#pragma once

#include <algorithm>
#include <span>

#include "ddiff/process/uniform.hpp"
#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

template <bool Greedy>
struct duo_ancestral {
    using sampler_concept = sampler_tag;
    static constexpr noise_kind noise = noise_kind::uniform;
    static constexpr const char* name = Greedy ? "duo_greedy" : "duo";
    static constexpr ddiff::reads reads = reads_none;

    void reshape(std::span<double> p, token_id current, const step_info& info, std::span<double> scratch) const {
        if (Greedy && info.last) {
            const auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
            std::fill(p.begin(), p.end(), 0.0);
            p[best] = 1.0;
            return;
        }
        const auto x = scratch.first(p.size());
        std::copy(p.begin(), p.end(), x.begin());
        const double alpha_s = info.last ? 1.0 : info.time.alpha_s;
        process::uniform(p.size()).posterior_from_probs(current, x, alpha_s, info.time.alpha_t, p);
    }
    void step(step_context& c) const { c.commit_all(); }
};

using duo = duo_ancestral<false>;
using duo_greedy = duo_ancestral<true>;

}  // namespace ddiff::sampler
