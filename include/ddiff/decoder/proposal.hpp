// The distribution a proposal is drawn from: p~ = softmax(top_k(top_p(l / T))), the order of
// Dream's sample_tokens (Dream-org/Dream generation_utils.py: temperature, then top_p_logits,
// then top_k_logits). With both filters the order matters: p = (0.5, 0.3, 0.2), top_p = 0.6,
// k = 2 keeps (0.625, 0.375, 0) here, and (1, 0, 0) the other way round.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "ddiff/math/logits.hpp"

namespace ddiff {

struct proposal_options {
    double temperature = 0.0;  // 0 = greedy (the filters still apply, argmax of what is left)
    std::size_t top_k = 0;     // 0 = off
    double top_p = 1.0;        // 1 = off

    // Temperature 0 and no filter: p~ is softmax(l), the proposal its argmax.
    bool plain() const noexcept { return temperature == 0.0 && top_k == 0 && top_p >= 1.0; }
};

// Buffers for one thread's proposals (sized once, reused for every position).
struct proposal_scratch {
    std::vector<double> logits, probs, work;
    std::vector<std::size_t> order;
    std::vector<double> filter;

    void reserve(std::size_t vocab) {
        logits.resize(vocab);
        probs.resize(vocab);
        work.resize(vocab);
    }
};

// In place: logits l -> p~ (Dream's order, see above).
inline void sampling_distribution(std::span<double> l, const proposal_options& o, proposal_scratch& w) {
    if (o.temperature > 0.0) apply_temperature(l, o.temperature);
    if (o.top_p < 1.0) top_p_filter(l, o.top_p, w.order, w.filter);
    if (o.top_k > 0) top_k_filter(l, o.top_k, w.filter);
    softmax(l);
}

// H(p) in nats.
inline double entropy_of(std::span<const double> p) {
    double h = 0.0;
    for (double q : p)
        if (q > 0.0) h -= q * std::log(q);
    return h;
}

}  // namespace ddiff
