// KLASS, KL-adaptive stability sampling (d2Cache src/generation/klass.py): a position is stable
// when the KL divergence between its distribution now and at the previous step stayed below
// kl_threshold for the last `history` steps (the first step compares with zeros, so two steps
// are needed). klass.py commits the stable positions whose confidence is >= tau, or, when there
// are none, the single most confident position. As a score: stable positions with
// confidence >= tau score their confidence, all others confidence - 2 (below every one of
// them, still ordered), so sampler::threshold at the same tau commits exactly klass.py's set.
// Defaults kl_threshold 0.01, history 2, tau 0.9.
// Difference from klass.py: it keeps the KL history of every generated position at every step
// (positions of later blocks are already "warm" when their block starts); ddiff keeps it for
// the current block's masked positions, from the block's first step (memory: rows x
// block_length x vocab doubles instead of the whole canvas).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"

namespace ddiff::remask {

struct klass {
    using remask_concept = remask_tag;
    static constexpr const char* name = "klass";
    static constexpr ddiff::reads reads{.probs = true, .logits = false, .entropy = false};
    double kl_threshold = 0.01;
    std::size_t history = 2;
    double tau = 0.9;

    void reset(std::size_t rows, std::size_t block_length, std::size_t vocab) {
        ddiff::detail::require(history >= 1 && history <= 16, name, "history", history, "in [1, 16]");
        ddiff::detail::require(tau >= 0.0 && tau <= 1.0, name, "tau", tau, "a confidence in [0, 1]");
        block_length_ = block_length;
        vocab_ = vocab;
        prev_.assign(rows * block_length * vocab, 0.0);
        kl_.assign(rows * block_length * history, 0.0);
        stable_.assign(rows * block_length, 0);
    }
    // Records this step's p~ at the position: KL to the previous step's, pushed into the history.
    void update(const position_view& v, const step_info& s) {
        const std::size_t slot = v.row * block_length_ + (v.position - s.block_begin);
        double* prev = prev_.data() + slot * vocab_;
        double* hist = kl_.data() + slot * history;
        if (s.step_in_block == 0) {
            std::fill(prev, prev + vocab_, 0.0);
            std::fill(hist, hist + history, 0.0);
        }
        double kl = 0.0;
        for (std::size_t u = 0; u < vocab_; ++u)
            if (v.probs[u] > 0.0) kl += v.probs[u] * (std::log(v.probs[u] + 1e-12) - std::log(prev[u] + 1e-12));
        std::rotate(hist, hist + 1, hist + history);
        hist[history - 1] = kl;
        std::copy(v.probs.begin(), v.probs.end(), prev);
        stable_[slot] = std::all_of(hist, hist + history, [&](double k) { return k < kl_threshold; });
    }
    double score(const position_view& v, const step_info& s, const counter_rng&) const {
        const bool stable = stable_[v.row * block_length_ + (v.position - s.block_begin)] != 0;
        return stable && v.confidence >= tau ? v.confidence : v.confidence - 2.0;
    }

private:
    std::vector<double> prev_;        // (rows, block_length, vocab) the previous step's p~
    std::vector<double> kl_;          // (rows, block_length, history)
    std::vector<std::uint8_t> stable_;  // (rows, block_length) after this step's update
    std::size_t block_length_ = 0, vocab_ = 0;
};

}  // namespace ddiff::remask
