// What a sampler (step rule) sees at one step of one sequence: the masked positions of the
// active block with their proposals and scores, and the canvas to commit into.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/core/rng.hpp"

namespace ddiff::sampler {

// One masked position of the active block.
struct candidate {
    std::size_t position = 0;  // index in the canvas
    token_id token = 0;        // x^, drawn from p~ (argmax at temperature 0)
    double score = 0.0;        // remasking score, higher = commit sooner (-inf: commit last)
    double confidence = 0.0;   // p~[x^]
    double entropy = 0.0;      // H(p~) in nats
};

// What a sampler's optional reshape(probs, info) hook sees: it may replace p~ at one position
// by the distribution the proposal must be drawn from (a posterior, a tau-leaping step).
struct reshape_info {
    std::size_t position = 0;
    token_id current = 0;           // x_t at the position (the mask for masked positions)
    double t = 1.0, s = 0.0;        // step times
    double alpha_t = 0.0, alpha_s = 1.0;
    double sigma_prime_t = 0.0;     // sigma'(t) = -alpha'(t) / alpha(t)
    bool last = false;              // the final step of its block
};

struct step_context {
    std::span<token_id> canvas;             // (len) the sequence being decoded
    std::vector<candidate>& candidates;     // positions to decide on (masked ones for absorbing noise), by position
    token_id mask = 0;
    std::uint32_t step = 0;                 // global step counter (keys the random draws)
    std::uint32_t step_in_block = 0;        // 0-based
    std::uint32_t steps_in_block = 1;       // planned steps for this block
    std::size_t masked_at_block_start = 0;  // M of the block when it started
    double t = 1.0, s = 0.0;                // step times (1 - j/S, 1 - (j+1)/S)
    double alpha_t = 0.0, alpha_s = 1.0;    // the schedule at t and s
    double* row_time = nullptr;             // adaptive samplers may move the row's clock
    const counter_rng* rng = nullptr;
    std::size_t committed = 0;              // positions committed at this step
    double alg_temp = 0.0;                  // > 0: commit_top draws positions (Dream alg_temp)
    std::span<const std::size_t> decoded = {};  // decoded (not given) positions of the block, still unmasked
    std::span<double> unmask_confidence = {};   // (len) p~[x^] when each position was decoded, -inf if masked
    std::size_t remasked = 0;               // positions re-masked at this step
    double sigma_prime_t = 0.0;             // sigma'(t) of the schedule (SEDD's Euler step)

    bool last_step() const { return step_in_block + 1 >= steps_in_block; }

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
    // topk leaves tie order unspecified). k is clamped to the number of candidates, never beyond.
    // With alg_temp > 0 the k positions are instead drawn without replacement from
    // softmax(score / alg_temp) (Dream's alg_temp), by Gumbel-top-k in float64.
    void commit_top(std::size_t k) {
        k = std::min(k, candidates.size());
        if (k == 0) return;
        std::vector<double> key(candidates.size());
        for (std::size_t i = 0; i < key.size(); ++i) {
            key[i] = candidates[i].score;
            if (alg_temp > 0.0 && std::isfinite(key[i]))
                key[i] = key[i] / alg_temp - std::log(-std::log(uniform(streams::remask, candidates[i].position, 1)));
        }
        std::vector<std::size_t> order(candidates.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
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

    // Candidate indices sorted by score, best first (ties to the lower position).
    std::vector<std::size_t> ranked() const {
        std::vector<std::size_t> order(candidates.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return candidates[a].score > candidates[b].score; });
        return order;
    }

    double uniform(std::uint32_t stream, std::size_t position, std::uint32_t index = 0) const {
        return rng->uniform({stream, step, static_cast<std::uint32_t>(position)}, index);
    }
};

}  // namespace ddiff::sampler
