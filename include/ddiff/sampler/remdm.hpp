// ReMDM (Wang et al. 2025; kuleshov-group/remdm diffusion.py _ddpm_caching_update): MDLM's
// ancestral step plus re-masking of already decoded tokens with probability sigma.
//   decoded z_t:  keep w.p. 1 - sigma, re-mask w.p. sigma;
//   masked z_t:   reveal x^ ~ p~ w.p. (alpha_s - (1 - sigma) alpha_t) / (1 - alpha_t), else stay masked;
//   0 <= sigma <= sigma_max = (1 - alpha_s) / alpha_t.
// Because decoded tokens can be re-masked, the reference runs every planned step; so does the
// decoder (`remasks`), also when a block momentarily holds no mask (the loop phase, where
// ReMDM's gain comes from, is all steps with alpha constant).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "ddiff/sampler/context.hpp"

namespace ddiff::sampler {

enum class remdm_strategy {
    cap,      // sigma = min(eta, sigma_max), eta 0.008 (no min with 1, as the source)
    rescale,  // sigma = eta min(1, sigma_max), eta 0.015
    conf,     // sigma_i = eta_i min(1, sigma_max), eta = softmax over decoded positions of -p(token at decode time)
    loop,     // sigma = eta where the schedule holds alpha constant (schedule::remdm_loop), else 0; eta 0.02
};

// The reference's default eta of each strategy (remdm's configs).
constexpr double remdm_default_eta(remdm_strategy s) {
    switch (s) {
        case remdm_strategy::cap: return 0.008;
        case remdm_strategy::rescale: return 0.015;
        case remdm_strategy::conf: return 1.0;
        case remdm_strategy::loop: return 0.02;
    }
    return 0.0;
}

template <remdm_strategy Strategy>
struct remdm {
    using sampler_concept = sampler_tag;
    static constexpr const char* name = Strategy == remdm_strategy::cap       ? "remdm_cap"
                                        : Strategy == remdm_strategy::rescale ? "remdm_rescale"
                                        : Strategy == remdm_strategy::conf    ? "remdm_conf"
                                                                              : "remdm_loop";
    static constexpr bool remasks = true;
    static constexpr ddiff::reads reads = reads_none;
    double eta = remdm_default_eta(Strategy);

    remdm() = default;
    explicit remdm(double eta_) : eta(eta_) { ddiff::detail::require(eta >= 0.0, name, "eta", eta, ">= 0"); }

    void step(step_context& c) const {
        if (c.last_step()) return c.commit_all();  // MDLM's final noise removal
        const double a_t = c.time().alpha_t, a_s = c.time().alpha_s;
        const double sigma_max = a_t > 0.0 ? (1.0 - a_s) / a_t : 1.0;
        double sigma = 0.0;
        if constexpr (Strategy == remdm_strategy::cap) sigma = std::min(eta, sigma_max);
        if constexpr (Strategy == remdm_strategy::rescale) sigma = eta * std::min(1.0, sigma_max);
        if constexpr (Strategy == remdm_strategy::loop) sigma = a_s == a_t ? std::min(eta, 1.0) : 0.0;
        // Re-mask probabilities of the decoded positions (conf: softmax of -confidence over them).
        auto& sig = c.scratch->values;
        sig.assign(c.decoded.size(), sigma);
        if constexpr (Strategy == remdm_strategy::conf) {
            if (!c.decoded.empty()) {
                double mx = -std::numeric_limits<double>::infinity();
                for (std::size_t p : c.decoded) mx = std::max(mx, -c.unmask_confidence[p]);
                double z = 0.0;
                for (std::size_t k = 0; k < sig.size(); ++k)
                    z += (sig[k] = std::exp(-c.unmask_confidence[c.decoded[k]] - mx));
                for (double& v : sig) v = eta * v / z * std::min(1.0, sigma_max);
            }
        }
        const double reveal_base = a_t < 1.0 ? 1.0 / (1.0 - a_t) : 0.0;
        const double reveal = std::clamp((a_s - (1.0 - sigma) * a_t) * reveal_base, 0.0, 1.0);
        for (const auto& cand : c.candidates)
            if (c.uniform(streams::transfer, cand.position) < reveal) c.commit(cand);
        for (std::size_t k = 0; k < c.decoded.size(); ++k)
            if (c.uniform(streams::remask, c.decoded[k], 3) < sig[k]) c.remask(c.decoded[k]);
    }
};

using remdm_cap = remdm<remdm_strategy::cap>;
using remdm_rescale = remdm<remdm_strategy::rescale>;
using remdm_conf = remdm<remdm_strategy::conf>;
using remdm_loop = remdm<remdm_strategy::loop>;

}  // namespace ddiff::sampler
