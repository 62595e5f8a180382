// SEDD's AnalyticPredictor (louaaron/Score-Entropy-Discrete-Diffusion sampling.py, Tweedie
// tau-leaping): the exact one-site reverse transition over [s, t] given the rest of the
// sequence. Absorbing: reveal w.p. (alpha_s - alpha_t)/(1 - alpha_t) with y ~ p (the same step as
// MDLM's exact posterior). Uniform: q(y) proportional to [sum_v p(v | rest) q_s(y | v)] q_{t|s}(x | y).
#pragma once

#include <span>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

template <noise_kind Noise = noise_kind::absorbing>
struct sedd_analytic {
    using sampler_concept = sampler_tag;
    static constexpr noise_kind noise = Noise;
    static constexpr const char* name = "sedd_analytic";
    static constexpr ddiff::reads reads = reads_none;

    void reshape(std::span<double> p, token_id current, const step_info& info, std::span<double> scratch) const {
        if constexpr (Noise == noise_kind::uniform) {
            const auto& tm = info.time;
            if (info.last || tm.alpha_s >= 1.0) return;
            const std::size_t V = p.size();
            const auto xi = static_cast<std::size_t>(current);
            const double Vd = static_cast<double>(V);
            const double ft = (1.0 - tm.alpha_t) / Vd;
            const auto w = scratch.first(V);
            double total = 0.0;  // sum_v p_v / q_t(x | v)
            for (std::size_t v = 0; v < V; ++v) total += (w[v] = p[v] / ((v == xi ? tm.alpha_t : 0.0) + ft));
            const double a_ts = tm.alpha_t / tm.alpha_s, fs = (1.0 - tm.alpha_s) / Vd;
            double z = 0.0;
            for (std::size_t y = 0; y < V; ++y) {
                const double prior = tm.alpha_s * w[y] + fs * total;             // sum_v w_v q_s(y | v)
                const double like = (y == xi ? a_ts : 0.0) + (1.0 - a_ts) / Vd;  // q_{t|s}(x | y)
                z += (p[y] = prior * like);
            }
            for (double& v : p) v /= z;
        }
    }
    void step(step_context& c) const {
        if constexpr (Noise == noise_kind::uniform) {
            c.commit_all();
        } else {
            if (c.last_step()) return c.commit_all();
            const auto& tm = c.time();
            const double reveal = tm.alpha_t < 1.0 ? (tm.alpha_s - tm.alpha_t) / (1.0 - tm.alpha_t) : 0.0;
            for (const auto& cand : c.candidates)
                if (c.uniform(streams::transfer, cand.position) < reveal) c.commit(cand);
        }
    }
};

}  // namespace ddiff::sampler
