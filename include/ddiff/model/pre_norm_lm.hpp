// The network LLaDA, Dream and the Qwen-architecture diffusion models share: token embedding,
// pre-norm LLaMA / Qwen blocks, RMSNorm and the LM head, run one sequence at a time with buffers
// sized for the longest sequence seen (the forward pass then allocates nothing); bidirectional
// or block-causal attention, logits at all rows or at selected rows, Fast-dLLM's approximate KV
// caches and the exact block cache; and the denoiser concept's batch loop around it.
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
        forward(ids, attention_layout{positions, key_valid, 0}, out);
    }
    void forward(std::span<const token_id> ids, const attention_layout& layout, float* out) {
        run(ids, layout, nullptr, out);
    }

    // Logits of the given rows only (sequence indices, strictly increasing; none is allowed),
    // out (rows, vocab): every layer but the last runs on all T rows; the last layer's attention
    // (keys and values of all rows, queries of these), its MLP and the LM head run on these rows
    // only. Equals those rows of forward() bit for bit.
    void forward_rows(std::span<const token_id> ids, const attention_layout& layout, std::span<const std::size_t> rows,
                      float* out) {
        check_rows(rows, 0, ids.size(), "forward_rows");
        run(ids, layout, &rows, out);
    }

    // Logits of the rows [first, first + count) of the sequence ids (T), out (count, vocab),
    // recomputing only those rows: every layer attends to their fresh keys and values and to
    // the cached ones of all other rows (which may be stale: the approximation of Fast-dLLM's
    // caches). A full pass (first 0, count T) fills the cache and equals forward() bit for bit;
    // any other call needs a cache filled for the same T. positions / key_valid index the
    // whole sequence, as in forward().
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count,
                        const std::int64_t* positions, const std::uint8_t* key_valid, kv_cache& cache, float* out) {
        cached(ids, first, count, attention_layout{positions, key_valid, 0}, cache, nullptr, out);
    }
    // The same with a layout and only the logits of the given rows (sequence indices inside
    // [first, first + count), strictly increasing; none is allowed), out (rows, vocab).
    void forward_cached_rows(std::span<const token_id> ids, std::size_t first, std::size_t count,
                             const attention_layout& layout, kv_cache& cache, std::span<const std::size_t> rows,
                             float* out) {
        check_rows(rows, first, first + count, "forward_cached");
        cached(ids, first, count, layout, cache, &rows, out);
    }
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count,
                        const attention_layout& layout, kv_cache& cache, float* out) {
        cached(ids, first, count, layout, cache, nullptr, out);
    }
    // Exact block cache (block-causal attention only): logits of the rows [first, first +
    // count) of the canvas ids (T), computing only those rows; the keys and values of the rows
    // [0, first) come from the cache, which must hold them exactly (first <= cache.committed).
    // With commit, the rows' keys and values are kept: cache.committed = first + count (a
    // finished block, computed once, as SDAR's store_kv / Fast-dLLM v2's update_past_key_values
    // / BD3-LM's store_kv calls do). Without, later calls may overwrite them (the denoising steps
    // of the current block). The range must end at a block boundary or at T, so no row attends
    // to a key that was not computed: the result equals those rows of the uncached block-causal
    // forward() of ids (bit for bit: the same per-row arithmetic). rows: as forward_cached_rows
    // (none: no logits, e.g. the store call of a finished block). The cache grows as the canvas
    // does (committed rows kept). Without rows: the logits of every row of the range.
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count,
                       const attention_layout& layout, kv_cache& cache, bool commit, float* out) {
        block(ids, first, count, layout, cache, commit, nullptr, out);
    }
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count,
                       const attention_layout& layout, kv_cache& cache, bool commit,
                       std::span<const std::size_t> rows, float* out) {
        check_rows(rows, first, first + count, "forward_block");
        block(ids, first, count, layout, cache, commit, &rows, out);
    }

private:
    void block(std::span<const token_id> ids, std::size_t first, std::size_t count, const attention_layout& layout,
               kv_cache& cache, bool commit, const std::span<const std::size_t>* rows, float* out) {
        const std::size_t T = ids.size(), L = layout.block_length;
        if (L == 0)
            ddiff::detail::fail<invalid_argument>(
                "forward_block: an exact KV cache needs block-causal attention (layout.block_length > 0); with "
                "bidirectional attention every row sees every other, so cached rows go stale (use forward_cached "
                "for Fast-dLLM's approximate caches)");
        check_range(first, count, T, "forward_block");
        if (first > cache.committed)
            ddiff::detail::fail<invalid_argument>("forward_block: rows from ", first, " need the keys of rows [0, ", first,
                                                  ") but the cache holds ", cache.committed,
                                                  " committed rows, expected first <= committed");
        const std::size_t end = first + count;
        if (end != T && end % L != 0)
            ddiff::detail::fail<shape_error>("forward_block: rows [", first, ", ", end, ") end inside a block of ", L,
                                             " rows (canvas of ", T, "), expected the end of a block or of the canvas");
        grow(cache, T);
        run_cached(ids, first, count, layout, cache, rows, out);
        cache.committed = commit ? end : std::min(cache.committed, first);
    }

    void cached(std::span<const token_id> ids, std::size_t first, std::size_t count, const attention_layout& layout,
                kv_cache& cache, const std::span<const std::size_t>* rows, float* out) {
        const std::size_t T = ids.size();
        check_range(first, count, T, "forward_cached");
        const bool full = first == 0 && count == T;
        if (!full && cache.tokens != T)
            ddiff::detail::fail<invalid_argument>(
                "forward_cached: the cache holds ", cache.tokens, " positions and the sequence has ", T,
                ", expected a full pass (first 0, count ", T, ") to fill it first");
        if (full) {
            cache.k.resize(kv_width() * T);
            cache.v.resize(kv_width() * T);
            cache.tokens = T;
        }
        cache.committed = 0;  // an approximate cache claims nothing
        run_cached(ids, first, count, layout, cache, rows, out);
    }

    std::size_t kv_width() const {
        std::size_t w = 0;
        for (const auto& b : blocks) w += b.attn().dims().n_kv_heads * b.attn().dims().head_dim;
        return w;
    }

    static void check_range(std::size_t first, std::size_t count, std::size_t T, const char* who) {
        if (count == 0 || first > T || count > T - first)
            ddiff::detail::fail<shape_error>(who, ": rows [", first, ", ", first + count, ") of a ", T,
                                             "-token sequence, expected a non-empty range inside it");
    }
    static void check_rows(std::span<const std::size_t> rows, std::size_t lo, std::size_t hi, const char* who) {
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (rows[i] < lo || rows[i] >= hi || (i > 0 && rows[i] <= rows[i - 1]))
                ddiff::detail::fail<invalid_argument>(who, ": row ", rows[i], " (entry ", i, ") is not inside [", lo,
                                                      ", ", hi, ") in strictly increasing order");
    }

    // Per-layer storage for at least T positions, the committed rows kept.
    void grow(kv_cache& cache, std::size_t T) const {
        if (cache.tokens >= T && cache.k.size() == kv_width() * cache.tokens) return;
        const std::size_t cap = std::max(T, 2 * cache.tokens);
        std::vector<float> k(kv_width() * cap, 0.0f), v(kv_width() * cap, 0.0f);
        std::size_t off_old = 0, off_new = 0;
        for (const auto& b : blocks) {
            const std::size_t w = b.attn().dims().n_kv_heads * b.attn().dims().head_dim;
            const std::size_t keep = std::min(cache.committed, cache.tokens) * w;
            if (!cache.k.empty()) {
                std::copy(cache.k.begin() + std::ptrdiff_t(off_old), cache.k.begin() + std::ptrdiff_t(off_old + keep),
                          k.begin() + std::ptrdiff_t(off_new));
                std::copy(cache.v.begin() + std::ptrdiff_t(off_old), cache.v.begin() + std::ptrdiff_t(off_old + keep),
                          v.begin() + std::ptrdiff_t(off_new));
            }
            off_old += cache.tokens * w;
            off_new += cap * w;
        }
        cache.k = std::move(k);
        cache.v = std::move(v);
        cache.tokens = cap;
    }

    // The uncached forward; rows nullptr = all rows.
    void run(std::span<const token_id> ids, const attention_layout& layout, const std::span<const std::size_t>* rows,
             float* out) {
        const std::size_t T = ids.size(), D = embedding.dim();
        reserve(T);
        embedding.forward(ids.data(), T, x_.data(), D);
        const nn::attention_mask mask{layout.key_valid, layout.block_length};
        const std::int64_t* pos = layout.positions ? layout.positions : positions_.data();
        const std::size_t n = rows ? rows->size() : T;
        for (std::size_t l = 0; l < blocks.size(); ++l) {
            if (!rows || l + 1 < blocks.size()) {
                blocks[l].forward(x_.data(), T, pos, mask, ws_, *pool_);
            } else {
                blocks[l].forward_select(x_.data(), T, pos, mask, nn::row_subset::of(rows->data(), rows->size()),
                                         xsel_.data(), ws_, *pool_);
            }
        }
        head.forward(rows ? xsel_.data() : x_.data(), n, out, head.vocab(), ws_, *pool_);
    }

    // Rows [first, first + count) against the cache (storage per layer: cache.tokens rows; T keys).
    void run_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, const attention_layout& layout,
                    kv_cache& cache, const std::span<const std::size_t>* rows, float* out) {
        const std::size_t T = ids.size(), D = embedding.dim();
        reserve(T);
        embedding.forward(ids.data() + first, count, x_.data(), D);
        const nn::attention_mask mask{layout.key_valid, layout.block_length};
        const std::int64_t* pos = layout.positions ? layout.positions + first : nullptr;
        const std::size_t nsel = rows ? rows->size() : count;
        sel_.resize(nsel);
        for (std::size_t i = 0; i < nsel; ++i) sel_[i] = rows ? (*rows)[i] - first : i;
        const bool all = nsel == count;  // strictly increasing inside the range: all of it
        std::size_t offset = 0;
        for (std::size_t l = 0; l < blocks.size(); ++l) {
            const auto& blk = blocks[l];
            const nn::kv_cache_view view{cache.k.data() + offset, cache.v.data() + offset, T};
            if (all || l + 1 < blocks.size()) {
                blk.forward_cached(x_.data(), count, first, pos, mask, view, ws_, *pool_);
            } else {
                blk.forward_cached_select(x_.data(), count, first, pos, mask, view,
                                          nn::row_subset::of(sel_.data(), nsel), xsel_.data(), ws_, *pool_);
            }
            offset += cache.tokens * blk.attn().dims().n_kv_heads * blk.attn().dims().head_dim;
        }
        head.forward(all ? x_.data() : xsel_.data(), nsel, out, head.vocab(), ws_, *pool_);
    }

    void reserve(std::size_t T) {
        if (T <= reserved_) return;
        const std::size_t th = pool_->size();
        std::size_t need = head.workspace_floats(T, th);
        for (const auto& b : blocks) need = std::max(need, b.workspace_floats(T, th));
        ws_ = nn::workspace(need);
        x_.assign(T * embedding.dim(), 0.0f);
        xsel_.assign(T * embedding.dim(), 0.0f);
        positions_.resize(T);
        for (std::size_t i = 0; i < T; ++i) positions_[i] = static_cast<std::int64_t>(i);
        reserved_ = T;
    }

    std::unique_ptr<thread_pool> pool_;
    nn::workspace ws_;
    std::vector<float> x_;                 // (T, d) residual stream
    std::vector<float> xsel_;              // (<= T, d) residual stream of the selected rows (last layer)
    std::vector<std::int64_t> positions_;  // (T) 0..T-1
    std::vector<std::size_t> sel_;         // selected rows relative to the first computed row
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
