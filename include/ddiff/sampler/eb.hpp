// EB-sampler (Ben-Hamu et al. 2025, "Accelerated sampling from masked diffusion models via
// entropy bounded unmasking"): sort by score, commit the largest prefix k with
// sum_{i<=k} H_i - max_{i<=k} H_i <= gamma, at least one. Runs until the block is full.
#pragma once

#include <algorithm>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

struct entropy_bounded {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = "eb";
    static constexpr bool adaptive = true;
    static constexpr ddiff::reads reads{.probs = false, .logits = false, .entropy = true};
    double gamma = 1e-3;

    entropy_bounded() = default;
    explicit entropy_bounded(double gamma_) : gamma(gamma_) {
        ddiff::detail::require(gamma >= 0.0, name, "gamma", gamma, ">= 0");
    }

    void step(step_context& c) const {
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

}  // namespace ddiff::sampler
