// Remasking strategies that remember earlier steps: dInfer's credit fusion and KLASS's
// KL-stability test. Their state is sized by reset() before a decode, one slot per (row,
// position), so concurrent score() calls for different positions never share memory.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"

namespace ddiff::remask {

// dInfer CreditThresholdParallelDecoder._apply_credit_fusion: per position a credit C over the
// vocabulary, zero when its block starts; each later step C <- decay C; then
// C[top-1 token] += p_top1^boost with p = softmax(raw logits); the logits become
// l + alpha log(C + 1). The score is the fused distribution's probability of the proposal
// (pair with sampler::dinfer_threshold). Defaults decay 0.8, boost 0.2, alpha 0.7. Memory:
// rows x len x vocab floats.
struct credit {
    using remask_concept = remask_tag;
    static constexpr const char* name = "credit";
    double decay = 0.8, boost = 0.2, alpha = 0.7;

    void reset(std::size_t rows, std::size_t len, std::size_t vocab) const {
        ddiff::detail::require(decay >= 0.0 && decay <= 1.0, name, "decay", decay, "a value in [0, 1]");
        ddiff::detail::require(alpha >= 0.0, name, "alpha", alpha, ">= 0");
        len_ = len;
        vocab_ = vocab;
        c_.assign(rows * len * vocab, 0.0f);
    }
    void fuse_logits(std::size_t row, std::size_t position, std::span<double> logits, const step_info& s) const {
        float* c = c_.data() + (row * len_ + position) * vocab_;
        if (s.step_in_block == 0) std::fill(c, c + vocab_, 0.0f);
        else
            for (std::size_t v = 0; v < vocab_; ++v) c[v] = static_cast<float>(decay * c[v]);
        std::size_t top = 0;
        for (std::size_t v = 1; v < vocab_; ++v)
            if (logits[v] > logits[top]) top = v;
        double z = 0.0;
        for (std::size_t v = 0; v < vocab_; ++v) z += std::exp(logits[v] - logits[top]);
        c[top] += static_cast<float>(std::pow(1.0 / z, boost));  // p_top1 = 1 / sum exp(l - l_top)
        for (std::size_t v = 0; v < vocab_; ++v) logits[v] += alpha * std::log1p(static_cast<double>(c[v]));
    }
    double score(const position_view& v, const step_info&, const counter_rng&) const {
        return v.probs[static_cast<std::size_t>(v.token)];
    }

private:
    mutable std::vector<float> c_;  // (rows, len, vocab)
    mutable std::size_t len_ = 0, vocab_ = 0;
};

// KLASS (d2Cache klass.py): a position is stable when the KL divergence between its
// distribution now and at the previous step stayed below kl_threshold for the last `history`
// steps (the first step compares with zeros, so two steps are needed). Stable positions score
// p~[x^]; unstable ones p~[x^] - 2, below every stable one but still ordered, so a step rule's
// fallback (the best position) is the most confident one. Pair with sampler::threshold:
// only stable positions above tau join the best one. Defaults kl_threshold 0.01, history 2.
struct klass {
    using remask_concept = remask_tag;
    static constexpr const char* name = "klass";
    double kl_threshold = 0.01;
    std::size_t history = 2;

    void reset(std::size_t rows, std::size_t len, std::size_t vocab) const {
        ddiff::detail::require(history >= 1 && history <= 16, name, "history", history, "in [1, 16]");
        len_ = len;
        vocab_ = vocab;
        prev_.assign(rows * len * vocab, 0.0);
        kl_.assign(rows * len * history, 0.0);
    }
    double score(const position_view& v, const step_info&, const counter_rng&) const {
        const std::size_t slot = v.row * len_ + v.position;
        double* prev = prev_.data() + slot * vocab_;
        double* hist = kl_.data() + slot * history;
        double kl = 0.0;
        for (std::size_t u = 0; u < vocab_; ++u)
            if (v.probs[u] > 0.0) kl += v.probs[u] * (std::log(v.probs[u] + 1e-12) - std::log(prev[u] + 1e-12));
        std::rotate(hist, hist + 1, hist + history);
        hist[history - 1] = kl;
        std::copy(v.probs.begin(), v.probs.end(), prev);
        const bool stable = std::all_of(hist, hist + history, [&](double k) { return k < kl_threshold; });
        const double c = v.probs[static_cast<std::size_t>(v.token)];
        return stable ? c : c - 2.0;
    }

private:
    mutable std::vector<double> prev_;  // (rows, len, vocab) the previous step's p~
    mutable std::vector<double> kl_;    // (rows, len, history)
    mutable std::size_t len_ = 0, vocab_ = 0;
};

}  // namespace ddiff::remask
