// SEDD's EulerPredictor (louaaron/Score-Entropy-Discrete-Diffusion sampling.py): one Euler step
// of the reverse CTMC over dt = t - s. Absorbing: a masked position jumps to token y at rate
// sigma'(t) s_y with s_y = alpha/(1-alpha) p_y, i.e. it is revealed w.p.
// min(1, dt sigma'(t) alpha_t / (1 - alpha_t)) with y ~ p. Uniform: off-diagonal weights
// dt sigma'(t) s_y / V, the stay weight what is left (negative weights are never drawn, as in
// the source's exponential race); the last step draws from the denoiser itself.
#pragma once

#include <algorithm>
#include <span>

#include "ddiff/sampler/context.hpp"
#include "ddiff/sampler/uniform_scores.hpp"

namespace ddiff::sampler {

template <noise_kind Noise = noise_kind::absorbing>
struct sedd_euler {
    using sampler_concept = sampler_tag;
    static constexpr noise_kind noise = Noise;
    static constexpr const char* name = "sedd_euler";
    static constexpr ddiff::reads reads = reads_none;

    void reshape(std::span<double> p, token_id current, const step_info& info, std::span<double> scratch) const {
        if constexpr (Noise == noise_kind::uniform) {
            if (info.last) return;
            const std::size_t V = p.size();
            const auto s = scratch.first(V);
            detail::uniform_scores(p, current, info.time.alpha_t, s);
            const double rate = (info.time.t - info.time.s) * info.time.sigma_prime_t / static_cast<double>(V);
            const auto xi = static_cast<std::size_t>(current);
            double off = 0.0;
            for (std::size_t y = 0; y < V; ++y)
                if (y != xi) off += (p[y] = std::max(0.0, rate * s[y]));
            p[xi] = std::max(0.0, 1.0 - off);
            double z = 0.0;
            for (double v : p) z += v;
            for (double& v : p) v /= z;
        }
    }
    void step(step_context& c) const {
        if constexpr (Noise == noise_kind::uniform) {
            c.commit_all();
        } else {
            if (c.last_step()) return c.commit_all();
            const auto& tm = c.time();
            const double a = tm.alpha_t;
            const double reveal = a < 1.0 ? std::min(1.0, (tm.t - tm.s) * tm.sigma_prime_t * a / (1.0 - a)) : 0.0;
            for (const auto& cand : c.candidates)
                if (c.uniform(streams::transfer, cand.position) < reveal) c.commit(cand);
        }
    }
};

}  // namespace ddiff::sampler
