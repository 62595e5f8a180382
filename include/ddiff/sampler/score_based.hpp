// Samplers of the score-based and uniform-state families: SEDD's Euler and analytic
// (Tweedie tau-leaping) predictors, for absorbing and uniform noise, and DUO / UDLM ancestral
// sampling for uniform noise. They work from the denoiser's p(x_0^i | x_t) (for a SEDD
// checkpoint the model wrapper turns its log-scores into these), reshaped into the reverse
// transition by the reshape() hook, from which the decoder draws each proposal.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>

#include "ddiff/process/uniform.hpp"
#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

namespace detail {
// Uniform noise: the concrete score ratio s_y = p_t(.., y, ..) / p_t(.., x, ..) at one position,
// from the denoiser's posterior p over x_0 there: removing the position's own evidence
// q(x | v) gives p(x_0 = v | rest) proportional to p_v / q(x | v), then s_y = sum_v
// p(v | rest) q(y | v) / sum_v p(v | rest) q(x | v).
inline void uniform_scores(std::span<const double> p, token_id x, double alpha, std::span<double> s) {
    const std::size_t V = p.size();
    const double floor = (1.0 - alpha) / static_cast<double>(V);
    const auto xi = static_cast<std::size_t>(x);
    double total = 0.0;  // sum_v p_v / q(x | v) = 1 / p(x | rest) up to the same constant
    for (std::size_t v = 0; v < V; ++v) total += p[v] / ((v == xi ? alpha : 0.0) + floor);
    // sum_v (p_v / q(x | v)) q(y | v) = floor * total + alpha p_y / q(x | y)
    for (std::size_t y = 0; y < V; ++y) s[y] = floor * total + alpha * p[y] / ((y == xi ? alpha : 0.0) + floor);
    const double sx = s[xi];
    for (double& v : s) v /= sx;
}
}  // namespace detail

// SEDD EulerPredictor (sampling.py): one Euler step of the reverse CTMC over dt = t - s.
// Absorbing: a masked position jumps to token y at rate sigma'(t) s_y with s_y = alpha/(1-alpha) p_y,
// i.e. it is revealed w.p. min(1, dt sigma'(t) alpha_t / (1 - alpha_t)) with y ~ p.
// Uniform: off-diagonal weights dt sigma'(t) s_y / V, the stay weight what is left (negative
// weights are never drawn, as in the source's exponential race).
template <noise_kind Noise = noise_kind::absorbing>
struct sedd_euler {
    using sampler_concept = sampler_tag;
    static constexpr noise_kind noise = Noise;
    static constexpr const char* name = "sedd_euler";

    void reshape(std::span<double> p, const reshape_info& r) const {
        if constexpr (Noise == noise_kind::uniform) {
            if (r.last) return;  // final denoising step: draw from the denoiser itself
            const std::size_t V = p.size();
            std::vector<double> s(V);
            detail::uniform_scores(p, r.current, r.alpha_t, s);
            const double rate = (r.t - r.s) * r.sigma_prime_t / static_cast<double>(V);
            const auto xi = static_cast<std::size_t>(r.current);
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
            const double a = c.alpha_t;
            const double reveal = a < 1.0 ? std::min(1.0, (c.t - c.s) * c.sigma_prime_t * a / (1.0 - a)) : 0.0;
            for (const auto& cand : c.candidates)
                if (c.uniform(streams::transfer, cand.position) < reveal) c.commit(cand);
        }
    }
};

// SEDD AnalyticPredictor (Tweedie tau-leaping): the exact one-site reverse transition over
// [s, t] given the rest of the sequence. Absorbing: reveal w.p. (alpha_s - alpha_t)/(1 - alpha_t)
// with y ~ p (the same step as MDLM's exact posterior). Uniform:
// q(y) proportional to [sum_v p(v | rest) q_s(y | v)] q_{t|s}(x | y).
template <noise_kind Noise = noise_kind::absorbing>
struct sedd_analytic {
    using sampler_concept = sampler_tag;
    static constexpr noise_kind noise = Noise;
    static constexpr const char* name = "sedd_analytic";

    void reshape(std::span<double> p, const reshape_info& r) const {
        if constexpr (Noise == noise_kind::uniform) {
            if (r.last || r.alpha_s >= 1.0) return;
            const std::size_t V = p.size();
            const auto xi = static_cast<std::size_t>(r.current);
            const double Vd = static_cast<double>(V);
            const double ft = (1.0 - r.alpha_t) / Vd;
            double total = 0.0;  // sum_v p_v / q_t(x | v)
            std::vector<double> w(V);
            for (std::size_t v = 0; v < V; ++v) total += (w[v] = p[v] / ((v == xi ? r.alpha_t : 0.0) + ft));
            const double a_ts = r.alpha_t / r.alpha_s, fs = (1.0 - r.alpha_s) / Vd;
            double z = 0.0;
            for (std::size_t y = 0; y < V; ++y) {
                const double prior = r.alpha_s * w[y] + fs * total;                 // sum_v w_v q_s(y | v)
                const double like = (y == xi ? a_ts : 0.0) + (1.0 - a_ts) / Vd;    // q_{t|s}(x | y)
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
            const double reveal = c.alpha_t < 1.0 ? (c.alpha_s - c.alpha_t) / (1.0 - c.alpha_t) : 0.0;
            for (const auto& cand : c.candidates)
                if (c.uniform(streams::transfer, cand.position) < reveal) c.commit(cand);
        }
    }
};

// DUO / UDLM ancestral sampling for uniform noise (DUO trainer_base.py _ancestral_update): every
// position draws x_s from the x-parameterised posterior q(x_s | x_t, p) of process::uniform.
// The last step draws from the denoiser itself ("ancestral" with alpha_s = 1, DUO's default)
// or takes its argmax (greedy = true, DUO's greedy option).
struct duo_ancestral {
    using sampler_concept = sampler_tag;
    static constexpr noise_kind noise = noise_kind::uniform;
    static constexpr const char* name = "duo_ancestral";
    bool greedy_last = false;

    void reshape(std::span<double> p, const reshape_info& r) const {
        if (r.last) {
            if (!greedy_last) return;
            std::size_t best = 0;
            for (std::size_t v = 1; v < p.size(); ++v)
                if (p[v] > p[best]) best = v;
            std::fill(p.begin(), p.end(), 0.0);
            p[best] = 1.0;
            return;
        }
        std::vector<double> x(p.begin(), p.end());
        process::uniform(p.size()).posterior_from_probs(r.current, x, r.alpha_s, r.alpha_t, p);
    }
    void step(step_context& c) const { c.commit_all(); }
};

}  // namespace ddiff::sampler
