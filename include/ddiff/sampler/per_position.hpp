// Step rules that decide position by position: ancestral / Bernoulli (MDLM, Dream "origin"),
// Fast-dLLM's threshold and factor rules, the EB-sampler and the first-hitting sampler.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

// MDLM ancestral sampling with the exact absorbing posterior (diffusion.py _ddpm_update): each
// masked position is revealed with probability (alpha_s - alpha_t) / (1 - alpha_t), its token
// the proposal x^ ~ p~; everything left is revealed at the last step. With the log-linear
// schedule and eps -> 0 this is Dream's "origin" rule (reveal iff U < 1 - s/t).
struct ancestral {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "ancestral";
    void step(step_context& c) const {
        if (c.last_step()) return c.commit_all();
        const double p = c.alpha_t >= 1.0 ? 0.0 : (c.alpha_s - c.alpha_t) / (1.0 - c.alpha_t);
        for (const auto& cand : c.candidates)
            if (c.uniform(streams::transfer, cand.position) < p) c.commit(cand);
    }
};

// Fast-dLLM threshold rule (llada/generate.py get_transfer_index with threshold): commit the
// best candidate, plus every candidate whose score is >= tau. The score is the remasking
// strategy's (Fast-dLLM uses LLaDA's low_confidence; confidence and klass are probabilities
// too; with a score that is not a probability only the best is committed per step).
// Runs until the block is full.
struct threshold {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "threshold";
    static constexpr bool adaptive = true;
    double tau = 0.9;

    void step(step_context& c) const {
        ddiff::detail::require(tau >= 0.0 && tau <= 1.0, name, "tau", tau, "a confidence in [0, 1]");
        const auto order = c.ranked();
        if (order.empty()) return;
        c.commit(c.candidates[order[0]]);
        for (std::size_t r = 1; r < order.size(); ++r)
            if (c.candidates[order[r]].score >= tau) c.commit(c.candidates[order[r]]);
    }
};

// Fast-dLLM factor rule (get_transfer_index_dynamic): sort confidences descending and commit
// the largest prefix n with c_(n) >= 1 - f / (n + 1), at least one. Runs until the block is full.
struct factor {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "factor";
    static constexpr bool adaptive = true;
    double f = 1.0;

    void step(step_context& c) const {
        ddiff::detail::require(f > 0.0, name, "factor", f, "> 0");
        std::vector<std::size_t> order(c.candidates.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return c.candidates[a].confidence > c.candidates[b].confidence;
        });
        std::size_t n = 0;
        while (n < order.size() && c.candidates[order[n]].confidence >= 1.0 - f / static_cast<double>(n + 2)) ++n;
        n = std::max<std::size_t>(n, 1);
        for (std::size_t i = 0; i < std::min(n, order.size()); ++i) c.commit(c.candidates[order[i]]);
    }
};

// EB-sampler (Ben-Hamu et al. 2025): sort by score, commit the largest prefix k with
// sum_{i<=k} H_i - max_{i<=k} H_i <= gamma, at least one. Runs until the block is full.
struct entropy_bounded {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "eb";
    static constexpr bool adaptive = true;
    double gamma = 1e-3;

    void step(step_context& c) const {
        ddiff::detail::require(gamma >= 0.0, name, "gamma", gamma, ">= 0");
        const auto order = c.ranked();
        double sum = 0.0, mx = 0.0;
        std::size_t k = 0;
        for (; k < order.size(); ++k) {
            const double h = c.candidates[order[k]].entropy;
            if (k > 0 && sum + h - std::max(mx, h) > gamma) break;
            sum += h;
            mx = std::max(mx, h);
        }
        for (std::size_t i = 0; i < k; ++i) c.commit(c.candidates[order[i]]);
    }
};

// First-hitting sampler (Zheng et al. 2024, arXiv 2409.02908; BD3-LM's implementation): the
// next unmasking time is t u^(1/n) for n masked positions; exactly one uniformly chosen masked
// position is revealed with its proposal x^ ~ p~. Exact at any setting (temperature 1, no
// filtering): one model call per token.
struct first_hitting {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "first_hitting";
    static constexpr bool adaptive = true;

    void step(step_context& c) const {
        const std::size_t n = c.candidates.size();
        if (n == 0) return;
        const double u = c.uniform(streams::time, 0);
        if (c.row_time) *c.row_time *= std::pow(u, 1.0 / static_cast<double>(n));
        auto pick = static_cast<std::size_t>(c.uniform(streams::transfer, 0) * static_cast<double>(n));
        c.commit(c.candidates[std::min(pick, n - 1)]);
    }
};

}  // namespace ddiff::sampler
