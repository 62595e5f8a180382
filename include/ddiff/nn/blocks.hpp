// Transformer blocks assembled from policies (norm, MLP) with run-time dimensions:
//   pre_norm_block<Norm, Mlp>: x += attn(norm1(x)); x += mlp(norm2(x))   (LLaMA / LLaDA / Dream)
//   dit_block: adaLN-modulated DiT block of MDLM/SEDD (docs/notes/architectures.md section 3.3)
// Every forward takes the residual stream x (tokens, d) in place, a workspace sized once with
// workspace_floats(max_tokens, threads), and a thread_pool; it allocates nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "ddiff/core/error.hpp"
#include "ddiff/nn/adaln.hpp"
#include "ddiff/nn/attention.hpp"
#include "ddiff/nn/mlp.hpp"
#include "ddiff/nn/norm.hpp"
#include "ddiff/nn/workspace.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

template <class Norm, class Mlp, class Arch = simd::default_arch>
class pre_norm_block {
public:
    pre_norm_block() = default;
    pre_norm_block(Norm attn_norm, attention<Arch> attn, Norm ff_norm, Mlp mlp)
        : attn_norm_(std::move(attn_norm)), ff_norm_(std::move(ff_norm)), attn_(std::move(attn)), mlp_(std::move(mlp)) {
        attn_norm_.check(d());
        ff_norm_.check(d());
    }
    std::size_t d() const noexcept { return attn_.dims().d_model; }
    const attention<Arch>& attn() const noexcept { return attn_; }
    attention<Arch>& attn() noexcept { return attn_; }

    std::size_t workspace_floats(std::size_t tokens, std::size_t threads) const noexcept {
        return workspace::round(tokens * d()) +
               std::max(attn_.workspace_floats(tokens, threads), mlp_.workspace_floats(tokens, threads));
    }

    // x: (tokens, d) residual stream, updated in place; positions: RoPE positions or nullptr.
    void forward(float* x, std::size_t tokens, const std::int64_t* positions, const attention_mask& mask, workspace& ws,
                 thread_pool& pool) const {
        const std::size_t D = d();
        workspace::scope keep(ws);
        float* h = ws.take(tokens * D).data();  // (tokens, d) normalised input of each half
        attn_norm_.apply(x, D, tokens, h, D, D, pool);
        attn_.forward(h, D, tokens, positions, mask, x, D, /*accumulate=*/true, ws, pool);
        ff_norm_.apply(x, D, tokens, h, D, D, pool);
        mlp_.forward(h, D, tokens, x, D, /*accumulate=*/true, ws, pool);
    }

    // The rows [first, first + rows) of a sequence whose other rows' keys and values come from
    // this layer's cache (attention::forward_cached); x: (rows, d) residual stream of these rows.
    void forward_cached(float* x, std::size_t rows, std::size_t first, const std::int64_t* positions,
                        const attention_mask& mask, kv_cache_view cache, workspace& ws, thread_pool& pool) const {
        const std::size_t D = d();
        workspace::scope keep(ws);
        float* h = ws.take(rows * D).data();
        attn_norm_.apply(x, D, rows, h, D, D, pool);
        attn_.forward_cached(h, D, first, rows, positions, mask, cache, x, D, /*accumulate=*/true, ws, pool);
        ff_norm_.apply(x, D, rows, h, D, D, pool);
        mlp_.forward(h, D, rows, x, D, /*accumulate=*/true, ws, pool);
    }

    // The block's output at the selected rows only, x_sel (count, d): keys and values come from
    // every row of x (tokens, d), which is read, not updated; the attention output, the MLP and
    // the residual are computed for the selected rows (the last layer of a model whose logits are
    // read at a few rows). Equals those rows of forward() bit for bit.
    void forward_select(const float* x, std::size_t tokens, const std::int64_t* positions,
                        const attention_mask& mask, row_subset select, float* x_sel, workspace& ws,
                        thread_pool& pool) const {
        const std::size_t D = d();
        workspace::scope keep(ws);
        float* h = ws.take(tokens * D).data();
        attn_norm_.apply(x, D, tokens, h, D, D, pool);
        gather(x, select, tokens, x_sel);
        attn_.forward(h, D, tokens, positions, mask, x_sel, D, /*accumulate=*/true, ws, pool, select);
        mlp_half(x_sel, count(select, tokens), h, ws, pool);
    }

    // forward_cached() for the selected rows only (indices relative to first): keys and values of
    // all `rows` rows are computed and written into the cache, the rest for the selection.
    void forward_cached_select(const float* x, std::size_t rows, std::size_t first, const std::int64_t* positions,
                               const attention_mask& mask, kv_cache_view cache, row_subset select, float* x_sel,
                               workspace& ws, thread_pool& pool) const {
        const std::size_t D = d();
        workspace::scope keep(ws);
        float* h = ws.take(rows * D).data();
        attn_norm_.apply(x, D, rows, h, D, D, pool);
        gather(x, select, rows, x_sel);
        attn_.forward_cached(h, D, first, rows, positions, mask, cache, x_sel, D, /*accumulate=*/true, ws, pool,
                             select);
        mlp_half(x_sel, count(select, rows), h, ws, pool);
    }

private:
    static std::size_t count(const row_subset& s, std::size_t rows) noexcept { return s.all() ? rows : s.count; }
    void gather(const float* x, const row_subset& s, std::size_t rows, float* x_sel) const {
        const std::size_t D = d();
        for (std::size_t i = 0; i < count(s, rows); ++i) {
            const std::size_t r = s.all() ? i : s.rows[i];
            if (r >= rows)
                ddiff::detail::fail<invalid_argument>("pre_norm_block: selected row ", r, " outside [0, ", rows, ")");
            std::copy(x + r * D, x + r * D + D, x_sel + i * D);
        }
    }
    // x += MLP(ff_norm(x)) for n rows, h a (>= n, d) scratch.
    void mlp_half(float* x, std::size_t n, float* h, workspace& ws, thread_pool& pool) const {
        const std::size_t D = d();
        ff_norm_.apply(x, D, n, h, D, D, pool);
        mlp_.forward(h, D, n, x, D, /*accumulate=*/true, ws, pool);
    }

    Norm attn_norm_, ff_norm_;
    attention<Arch> attn_;
    Mlp mlp_;
};

template <class Arch = simd::default_arch>
using llama_block = pre_norm_block<rms_norm<Arch>, swiglu_mlp<Arch>, Arch>;

// DDiT block: (shift1, scale1, gate1, shift2, scale2, gate2) = adaLN(c);
// x += gate1 * attn(modulate(LN(x) * w1)); x += gate2 * mlp(modulate(LN(x) * w2)).
template <class Arch = simd::default_arch>
class dit_block {
public:
    dit_block() = default;
    dit_block(layer_norm<Arch> norm1, attention<Arch> attn, layer_norm<Arch> norm2, gelu_mlp<Arch> mlp,
              adaln_modulation<Arch> ada)
        : norm1_(std::move(norm1)), norm2_(std::move(norm2)), attn_(std::move(attn)), mlp_(std::move(mlp)),
          ada_(std::move(ada)) {
        norm1_.check(d());
        norm2_.check(d());
        if (ada_.chunks() != 6 || ada_.dim() != d())
            ddiff::detail::fail<shape_error>("dit_block: adaLN gives ", ada_.chunks(), " chunks of ", ada_.dim(),
                                             ", expected 6 chunks of ", d());
    }
    std::size_t d() const noexcept { return attn_.dims().d_model; }
    std::size_t cond_dim() const noexcept { return ada_.cond_dim(); }

    std::size_t workspace_floats(std::size_t tokens, std::size_t threads) const noexcept {
        return workspace::round(6 * d()) + 2 * workspace::round(tokens * d()) +
               std::max(attn_.workspace_floats(tokens, threads), mlp_.workspace_floats(tokens, threads));
    }

    // x: (tokens, d) in place; c: (cond_dim) conditioning vector (after the SiLU).
    void forward(float* x, std::size_t tokens, const float* c, const std::int64_t* positions,
                 const attention_mask& mask, workspace& ws, thread_pool& pool) const {
        const std::size_t D = d();
        workspace::scope keep(ws);
        float* mod = ws.take(6 * D).data();     // shift1 | scale1 | gate1 | shift2 | scale2 | gate2
        float* h = ws.take(tokens * D).data();  // (tokens, d) modulated, normalised input
        float* a = ws.take(tokens * D).data();  // (tokens, d) branch output
        ada_.forward(c, mod, pool);
        half(x, tokens, mod, h, pool, norm1_);
        attn_.forward(h, D, tokens, positions, mask, a, D, false, ws, pool);
        gated_residual(x, a, mod + 2 * D, tokens, pool);
        half(x, tokens, mod + 3 * D, h, pool, norm2_);
        mlp_.forward(h, D, tokens, a, D, false, ws, pool);
        gated_residual(x, a, mod + 5 * D, tokens, pool);
    }

    // The rows [first, first + rows) of a sequence whose other rows' keys and values come from
    // this layer's cache (attention::forward_cached; BD3-LM's kv_cache sampling); x: (rows, d).
    // With a row subset, x is read and the selected rows' outputs go to x_sel (count, d).
    void forward_cached(float* x, std::size_t rows, std::size_t first, const float* c, const std::int64_t* positions,
                        const attention_mask& mask, kv_cache_view cache, workspace& ws, thread_pool& pool,
                        row_subset select = {}, float* x_sel = nullptr) const {
        const std::size_t D = d();
        workspace::scope keep(ws);
        float* mod = ws.take(6 * D).data();
        float* h = ws.take(rows * D).data();
        float* a = ws.take(rows * D).data();
        ada_.forward(c, mod, pool);
        half(x, rows, mod, h, pool, norm1_);
        attn_.forward_cached(h, D, first, rows, positions, mask, cache, a, D, false, ws, pool, select);
        float* y = x;
        std::size_t n = rows;
        if (!select.all()) {
            n = select.count;
            for (std::size_t i = 0; i < n; ++i) std::copy(x + select.rows[i] * D, x + select.rows[i] * D + D, x_sel + i * D);
            y = x_sel;
        }
        gated_residual(y, a, mod + 2 * D, n, pool);
        half(y, n, mod + 3 * D, h, pool, norm2_);
        mlp_.forward(h, D, n, a, D, false, ws, pool);
        gated_residual(y, a, mod + 5 * D, n, pool);
    }

private:
    void half(const float* x, std::size_t tokens, const float* shift_scale, float* h, thread_pool& pool,
              const layer_norm<Arch>& norm) const {
        const std::size_t D = d();
        detail::parallel_rows(pool, tokens, D, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t t = r0; t < r1; ++t) {
                norm.row(x + t * D, h + t * D, D);
                simd::modulate<Arch>(h + t * D, shift_scale, shift_scale + D, D);
            }
        });
    }
    void gated_residual(float* x, const float* a, const float* gate, std::size_t tokens, thread_pool& pool) const {
        const std::size_t D = d();
        detail::parallel_rows(pool, tokens, D, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t t = r0; t < r1; ++t) simd::add_gated<Arch>(x + t * D, gate, a + t * D, D);
        });
    }

    layer_norm<Arch> norm1_, norm2_;
    attention<Arch> attn_;
    gelu_mlp<Arch> mlp_;
    adaln_modulation<Arch> ada_;
};

}  // namespace ddiff::nn
