// dInfer's credit fusion (inclusionAI/dInfer CreditThresholdParallelDecoder._apply_credit_fusion):
// per position a credit C over the vocabulary, zero when its block starts; each later step
// C <- decay C; then C[top-1 token] += p_top1^boost with p = softmax(raw logits); the logits
// become l + alpha log(C + 1). The score is the fused distribution's probability of the
// proposal (pair with sampler::dinfer_threshold). Defaults decay 0.8, boost 0.2, alpha 0.7.
// State: one credit row per position of the current block, rows x block_length x vocab floats.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"

namespace ddiff::remask {

struct credit {
    using remask_concept = remask_tag;
    static constexpr const char* name = "credit";
    static constexpr ddiff::reads reads = reads_none;
    double decay = 0.8, boost = 0.2, alpha = 0.7;

    void reset(std::size_t rows, std::size_t block_length, std::size_t vocab) {
        ddiff::detail::require(decay >= 0.0 && decay <= 1.0, name, "decay", decay, "a value in [0, 1]");
        ddiff::detail::require(alpha >= 0.0, name, "alpha", alpha, ">= 0");
        block_length_ = block_length;
        vocab_ = vocab;
        credit_.assign(rows * block_length * vocab, 0.0f);
    }
    void fuse_logits(std::size_t row, std::size_t position, std::span<double> logits, const step_info& s) {
        float* c = credit_.data() + (row * block_length_ + (position - s.block_begin)) * vocab_;
        if (s.step_in_block == 0)
            std::fill(c, c + vocab_, 0.0f);
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
    double score(const position_view& v, const step_info&, const counter_rng&) const { return v.confidence; }

private:
    std::vector<float> credit_;  // (rows, block_length, vocab)
    std::size_t block_length_ = 0, vocab_ = 0;
};

}  // namespace ddiff::remask
