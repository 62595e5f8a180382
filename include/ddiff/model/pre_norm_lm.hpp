// The network LLaDA and Dream share: token embedding, pre-norm LLaMA blocks, RMSNorm and the
// LM head, run one sequence at a time with buffers sized for the longest sequence seen (the
// forward pass then allocates nothing); and the denoiser concept's batch loop around it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/model/kv_cache.hpp"
#include "ddiff/nn/blocks.hpp"
#include "ddiff/nn/embedding.hpp"
#include "ddiff/nn/lm_head.hpp"

namespace ddiff::model {

template <class Arch = simd::default_arch>
class pre_norm_lm {
public:
    explicit pre_norm_lm(std::size_t threads = 1)
        : pool_(std::make_unique<thread_pool>(std::max<std::size_t>(1, threads))) {}

    nn::embedding embedding;
    std::vector<nn::llama_block<Arch>> blocks;
    nn::lm_head<nn::rms_norm<Arch>, Arch> head;

    std::size_t threads() const noexcept { return pool_->size(); }
    thread_pool& pool() noexcept { return *pool_; }

    // ids (T); positions (T) RoPE positions, or nullptr for 0..T-1; key_valid (T) or nullptr
    // (0 = a padding key no query attends to); out (T, head.vocab()).
    void forward(std::span<const token_id> ids, const std::int64_t* positions, const std::uint8_t* key_valid,
                 float* out) {
        const std::size_t T = ids.size(), D = embedding.dim();
        reserve(T);
        embedding.forward(ids.data(), T, x_.data(), D);
        const nn::attention_mask mask{key_valid, 0};
        for (const auto& blk : blocks) blk.forward(x_.data(), T, positions ? positions : positions_.data(), mask, ws_, *pool_);
        head.forward(x_.data(), T, out, head.vocab(), ws_, *pool_);
    }

    // Logits of the rows [first, first + count) of the sequence ids (T), out (count, vocab),
    // recomputing only those rows: every layer attends to their fresh keys and values and to
    // the cached ones of all other rows (which may be stale: the approximation of Fast-dLLM's
    // caches). A full pass (first 0, count T) fills the cache and equals forward() bit for bit;
    // any other call needs a cache filled for the same T. positions / key_valid index the
    // whole sequence, as in forward().
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count,
                        const std::int64_t* positions, const std::uint8_t* key_valid, kv_cache& cache, float* out) {
        const std::size_t T = ids.size(), D = embedding.dim();
        if (count == 0 || first > T || count > T - first)
            ddiff::detail::fail<shape_error>("forward_cached: rows [", first, ", ", first + count,
                                             ") of a ", T, "-token sequence, expected a non-empty range inside it");
        const bool full = first == 0 && count == T;
        if (!full && cache.tokens != T)
            ddiff::detail::fail<invalid_argument>(
                "forward_cached: the cache holds ", cache.tokens, " positions and the sequence has ", T,
                ", expected a full pass (first 0, count ", T, ") to fill it first");
        auto kv_width = [](const auto& b) { return b.attn().dims().n_kv_heads * b.attn().dims().head_dim; };
        if (full) {
            std::size_t width = 0;
            for (const auto& b : blocks) width += kv_width(b);
            cache.k.resize(width * T);
            cache.v.resize(width * T);
            cache.tokens = T;
        }
        reserve(T);
        embedding.forward(ids.data() + first, count, x_.data(), D);
        const nn::attention_mask mask{key_valid, 0};
        const std::int64_t* pos = positions ? positions + first : nullptr;
        std::size_t offset = 0;
        for (const auto& blk : blocks) {
            const nn::kv_cache_view view{cache.k.data() + offset, cache.v.data() + offset, T};
            blk.forward_cached(x_.data(), count, first, pos, mask, view, ws_, *pool_);
            offset += T * kv_width(blk);
        }
        head.forward(x_.data(), count, out, head.vocab(), ws_, *pool_);
    }

private:
    void reserve(std::size_t T) {
        if (T <= reserved_) return;
        const std::size_t th = pool_->size();
        std::size_t need = head.workspace_floats(T, th);
        for (const auto& b : blocks) need = std::max(need, b.workspace_floats(T, th));
        ws_ = nn::workspace(need);
        x_.assign(T * embedding.dim(), 0.0f);
        positions_.resize(T);
        for (std::size_t i = 0; i < T; ++i) positions_[i] = static_cast<std::int64_t>(i);
        reserved_ = T;
    }

    std::unique_ptr<thread_pool> pool_;
    nn::workspace ws_;
    std::vector<float> x_;                 // (T, d) residual stream
    std::vector<std::int64_t> positions_;  // (T) 0..T-1
    std::size_t reserved_ = 0;
};

// The denoiser concept's batch loop: x (batch, len), one alpha per row, out (batch, len, vocab)
// resized when needed; forward_row(ids (len), out_row (len, vocab)) fills each row.
template <class ForwardRow>
void denoise_rows(const char* who, const token_batch& x, std::span<const double> alpha, std::size_t vocab,
                  xt::xtensor<float, 3>& out, ForwardRow&& forward_row) {
    const std::size_t B = x.shape(0), T = x.shape(1);
    if (alpha.size() != B)
        ddiff::detail::fail<shape_error>(who, ": ", alpha.size(), " noise levels for a batch of ", B,
                                         ", expected one per row");
    if (out.shape(0) != B || out.shape(1) != T || out.shape(2) != vocab)
        out = xt::xtensor<float, 3>::from_shape({B, T, vocab});
    for (std::size_t b = 0; b < B; ++b)
        forward_row(std::span<const token_id>(x.data() + b * T, T), out.data() + b * T * vocab);
}

}  // namespace ddiff::model
