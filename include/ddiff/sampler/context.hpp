// What a sampler (step rule) sees at one step of one sequence: the positions of the active
// block still to decide on, with their proposals and scores, and the canvas to commit into.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/core/rng.hpp"

namespace ddiff::sampler {

// One position to decide on (a masked one for absorbing noise) of the active block.
struct candidate {
    std::size_t position = 0;  // index in the canvas
    token_id token = 0;        // x^, drawn from p~ (argmax at temperature 0)
    double score = 0.0;        // remasking score, higher = commit sooner (-inf: commit last)
    double confidence = 0.0;   // p~[x^]
    double entropy = 0.0;      // H(p~) in nats, when the sampler reads it (reads::entropy)
};

// Buffers a step reuses (the decoder owns one; nothing is allocated per step once warm).
struct step_scratch {
    std::vector<double> key, values;
    std::vector<std::size_t> order;
};

struct step_context {
    std::span<token_id> canvas;                     // (len) the sequence being decoded
    std::span<candidate> candidates;                // positions to decide on, by position
    std::span<const std::size_t> decoded = {};      // decoded (not given) positions of the block, unmasked
    std::span<double> unmask_confidence = {};       // (len) p~[x^] when each position was decoded, -inf if masked
    token_id mask = 0;
    step_info info;                                 // step counters and times (info.time)
    std::size_t masked_at_block_start = 0;          // M of the block when it started
    double* row_time = nullptr;                     // adaptive samplers may move the row's clock
    const counter_rng* rng = nullptr;
    double alg_temp = 0.0;                          // > 0: commit_top draws positions (Dream alg_temp)
    step_scratch* scratch = nullptr;
    std::size_t committed = 0;                      // positions committed at this step
    std::size_t remasked = 0;                       // positions re-masked at this step

    bool last_step() const { return info.last; }
    const step_times& time() const { return info.time; }

    void commit(const candidate& c) {
        canvas[c.position] = c.token;
        if (!unmask_confidence.empty()) unmask_confidence[c.position] = c.confidence;
        ++committed;
    }

    // Puts a decoded position back to the mask (ReMDM).
    void remask(std::size_t position) {
        canvas[position] = mask;
        if (!unmask_confidence.empty()) unmask_confidence[position] = -std::numeric_limits<double>::infinity();
        ++remasked;
    }

    // Commits the k best-scored candidates; ties go to the lower position (as llama.cpp; torch's
    // topk leaves tie order unspecified). k is at most the number of candidates.
    // With alg_temp > 0 the k positions are instead drawn without replacement from
    // softmax(score / alg_temp) (Dream's alg_temp), by Gumbel-top-k in float64.
    void commit_top(std::size_t k) {
        k = std::min(k, candidates.size());
        if (k == 0) return;
        auto& key = scratch->key;
        key.resize(candidates.size());
        for (std::size_t i = 0; i < key.size(); ++i) {
            key[i] = candidates[i].score;
            if (alg_temp > 0.0 && std::isfinite(key[i]))
                key[i] = key[i] / alg_temp - std::log(-std::log(uniform(streams::remask, candidates[i].position, 1)));
        }
        auto& order = identity(candidates.size());
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                          [&](std::size_t a, std::size_t b) {
                              if (key[a] != key[b]) return key[a] > key[b];
                              return candidates[a].position < candidates[b].position;
                          });
        for (std::size_t i = 0; i < k; ++i) commit(candidates[order[i]]);
    }

    void commit_all() {
        for (const auto& c : candidates) commit(c);
    }

    // Candidate indices sorted by `field` (score by default), best first, ties to the lower
    // position. The span lives in the scratch until the next call.
    std::span<const std::size_t> ranked(double candidate::*field = &candidate::score) {
        auto& order = identity(candidates.size());
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return candidates[a].*field > candidates[b].*field; });
        return order;
    }

    double uniform(std::uint32_t stream, std::size_t position, std::uint32_t index = 0) const {
        return rng->uniform({stream, info.step, static_cast<std::uint32_t>(position)}, index);
    }

private:
    std::vector<std::size_t>& identity(std::size_t n) {
        auto& order = scratch->order;
        order.resize(n);
        std::iota(order.begin(), order.end(), std::size_t{0});
        return order;
    }
};

}  // namespace ddiff::sampler
