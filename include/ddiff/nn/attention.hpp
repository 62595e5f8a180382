// Bidirectional multi-head self-attention with grouped-query heads (query head h reads kv head
// h / (H / Hkv), as repeat_interleave in LLaDA/Dream), an optional per-head RMSNorm of q and k
// before RoPE (Qwen3's q_norm / k_norm), rotate-half RoPE on q and k, an optional key-padding
// mask and an optional block-causal mask (block diffusion: with blocks of L rows counted from
// row 0, query row i sees key row j iff j / L <= i / L: bidirectional inside a block, causal
// across blocks; SDAR / Fast-dLLM v2 / BD3-LM / dllm BD3LM, docs/notes/block-diffusion.md).
// softmax(q k^T / sqrt(hd)) v per head, with the score and value products on the GEMM
// micro-kernel: K of each kv head is packed as a weight ([T, hd] is [out, in]) and V as columns,
// then per (head, chunk of query rows) S = Q K^T, masked softmax, O = P V. Queries can be a
// subset of the rows (row_subset): keys and values are still computed for every row, the
// scores, the output projection (and what follows, in the callers) only for the subset.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/nn/linear.hpp"
#include "ddiff/nn/rope.hpp"
#include "ddiff/nn/workspace.hpp"
#include "ddiff/simd/gemm.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

struct attention_mask {
    const std::uint8_t* key_valid = nullptr;  // (T): 0 = padding key (never attended); nullptr = all valid
    std::size_t block_length = 0;             // > 0: block-causal with this block length

    // Keys [0, visible(i)) are the ones query row i may see (before key_valid).
    std::size_t visible(std::size_t i, std::size_t T) const noexcept {
        return block_length ? std::min(T, (i / block_length + 1) * block_length) : T;
    }
};

// Query rows to compute: every row (the default), or exactly rows[0..count) (indices relative
// to the first computed row, strictly increasing; possibly none).
struct row_subset {
    const std::size_t* rows = nullptr;
    std::size_t count = 0;
    bool selected = false;

    static row_subset of(const std::size_t* r, std::size_t n) noexcept { return {r, n, true}; }
    bool all() const noexcept { return !selected; }
};

struct attention_dims {
    std::size_t d_model = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
};

// One layer's key/value cache for a sequence of `tokens` positions (Fast-dLLM's prefix and dual
// caches): k and v each (tokens, n_kv_heads * head_dim), keys after RoPE. Caller-owned storage.
struct kv_cache_view {
    float* k = nullptr;
    float* v = nullptr;
    std::size_t tokens = 0;
};

template <class Arch = simd::default_arch>
class attention {
public:
    // Query rows per task: an S chunk of (rows, T) floats per thread.
    static constexpr std::size_t query_chunk = 96;

    attention() = default;
    // qkv: fused projection [(H + 2 Hkv) hd, d] (q heads, then k heads, then v heads, head-major,
    // as DiT's attn_qkv); out: [d, H hd]; rope: nullptr = no rotary embedding.
    attention(attention_dims dims, linear<Arch> qkv, linear<Arch> out, rope_table rope, bool use_rope = true)
        : dims_(dims), qkv_(std::move(qkv)), out_(std::move(out)), rope_(std::move(rope)), use_rope_(use_rope) {
        const auto& d = dims_;
        ddiff::detail::require(d.n_heads > 0 && d.n_kv_heads > 0 && d.n_heads % d.n_kv_heads == 0,
                               "attention", "n_kv_heads", d.n_kv_heads, "a divisor of n_heads");
        ddiff::detail::require(d.head_dim > 0, "attention", "head_dim", d.head_dim, "> 0");
        if (qkv_.in_features() != d.d_model || qkv_.out_features() != (d.n_heads + 2 * d.n_kv_heads) * d.head_dim)
            ddiff::detail::fail<shape_error>("attention: qkv weight is [", qkv_.out_features(), ", ",
                                             qkv_.in_features(), "], expected [", (d.n_heads + 2 * d.n_kv_heads) * d.head_dim,
                                             ", ", d.d_model, "]");
        if (out_.in_features() != d.n_heads * d.head_dim || out_.out_features() != d.d_model)
            ddiff::detail::fail<shape_error>("attention: out weight is [", out_.out_features(), ", ",
                                             out_.in_features(), "], expected [", d.d_model, ", ",
                                             d.n_heads * d.head_dim, "]");
        if (use_rope_ && rope_.head_dim() != d.head_dim)
            ddiff::detail::fail<shape_error>("attention: rope table head_dim ", rope_.head_dim(), ", expected ",
                                             d.head_dim);
    }

    // Separate q/k/v weights ([H hd, d], [Hkv hd, d], [Hkv hd, d], PyTorch layout), fused here.
    static std::vector<float> fuse_qkv(const float* q, const float* k, const float* v, const attention_dims& d) {
        const std::size_t nq = d.n_heads * d.head_dim * d.d_model, nkv = d.n_kv_heads * d.head_dim * d.d_model;
        std::vector<float> w(nq + 2 * nkv);
        std::copy(q, q + nq, w.begin());
        std::copy(k, k + nkv, w.begin() + nq);
        std::copy(v, v + nkv, w.begin() + nq + nkv);
        return w;
    }

    const attention_dims& dims() const noexcept { return dims_; }

    // Qwen3's QK-norm (modeling_qwen3.py Qwen3Attention: q_norm / k_norm, an RMSNorm over
    // head_dim with one weight shared by all heads, applied to q and k before RoPE; SDAR's
    // modeling_sdar.py the same). q, k: (head_dim) weights.
    void set_qk_norm(std::vector<float> q, std::vector<float> k, float eps) {
        if (q.size() != dims_.head_dim || k.size() != dims_.head_dim)
            ddiff::detail::fail<shape_error>("attention: q_norm / k_norm weights have ", q.size(), " / ", k.size(),
                                             " entries, expected head_dim = ", dims_.head_dim);
        ddiff::detail::require(eps > 0.0f, "attention", "qk_norm eps", eps, "> 0");
        q_norm_ = std::move(q);
        k_norm_ = std::move(k);
        qk_eps_ = eps;
    }
    bool has_qk_norm() const noexcept { return !q_norm_.empty(); }

    std::size_t workspace_floats(std::size_t tokens, std::size_t threads) const noexcept {
        const auto& d = dims_;
        const std::size_t qkvw = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim;
        return workspace::round(tokens * qkvw) + 2 * workspace::round(tokens * d.n_heads * d.head_dim) +
               d.n_kv_heads * (workspace::round(simd::packed_elements<Arch>(tokens, d.head_dim, simd::panel_format::f32)) +
                               workspace::round(simd::packed_elements<Arch>(d.head_dim, tokens, simd::panel_format::f32))) +
               threads * workspace::round(query_chunk * tokens) + 64;
    }

    // y (+)= Attention(x) W_out^T for x: (tokens, d) at stride ldx, y: (tokens, d) at stride ldy.
    // positions: (tokens) RoPE positions, nullptr = 0..tokens-1. With a row subset, y has one row
    // per selected query row (keys and values still come from every row).
    void forward(const float* x, std::size_t ldx, std::size_t tokens, const std::int64_t* positions,
                 const attention_mask& mask, float* y, std::size_t ldy, bool accumulate, workspace& ws,
                 thread_pool& pool, row_subset select = {}) const {
        const auto& d = dims_;
        const std::size_t T = tokens, qkvw = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim, ow = d.n_heads * d.head_dim;
        check_subset(select, T);
        if (T == 0) return;
        workspace::scope keep(ws);
        float* qkv = ws.take(T * qkvw).data();  // (T, (H + 2 Hkv) hd): q heads | k heads | v heads
        float* o = ws.take(T * ow).data();      // (T, H hd) attention output before W_out
        qkv_.forward(x, ldx, T, qkv, qkvw, pool);
        prepare_qk(qkv, T, 0, positions, pool);
        const std::size_t n = select.all() ? T : select.count;
        attend_selected(qkv, T, 0, select, T, qkv + d.n_heads * d.head_dim,
                        qkv + (d.n_heads + d.n_kv_heads) * d.head_dim, qkvw, mask, o, ws, pool);
        out_.forward(o, ow, n, y, ldy, pool, accumulate);
    }

    // The same for the rows [first, first + rows) of a sequence of cache.tokens positions whose
    // other rows' keys and values come from the cache (Fast-dLLM's prefix / dual cache): x holds
    // only those rows; their keys and values are computed, written into the cache and attended
    // together with the cached ones. positions: (rows) RoPE positions of these rows, nullptr =
    // first .. first + rows - 1; mask.key_valid and the block-causal mask index the whole
    // sequence. With first = 0 and rows = cache.tokens this is forward() that also fills the
    // cache, with the same result bit for bit; afterwards a call on any row range with the same
    // inputs reproduces those rows of it exactly, and a call after some rows' inputs changed
    // attends to the stale keys and values of the rows it does not recompute.
    void forward_cached(const float* x, std::size_t ldx, std::size_t first, std::size_t rows,
                        const std::int64_t* positions, const attention_mask& mask, kv_cache_view cache, float* y,
                        std::size_t ldy, bool accumulate, workspace& ws, thread_pool& pool,
                        row_subset select = {}) const {
        const auto& d = dims_;
        const std::size_t qkvw = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim, ow = d.n_heads * d.head_dim;
        if (!cache.k || !cache.v)
            ddiff::detail::fail<invalid_argument>("attention::forward_cached: the cache has no storage");
        if (first > cache.tokens || rows > cache.tokens - first)
            ddiff::detail::fail<shape_error>("attention::forward_cached: rows [", first, ", ", first + rows,
                                             ") outside the cached sequence of ", cache.tokens, " positions");
        check_subset(select, rows);
        if (rows == 0) return;
        workspace::scope keep(ws);
        float* qkv = ws.take(rows * qkvw).data();
        float* o = ws.take(rows * ow).data();
        qkv_.forward(x, ldx, rows, qkv, qkvw, pool);
        prepare_qk(qkv, rows, first, positions, pool);
        const std::size_t kvw = d.n_kv_heads * d.head_dim;
        for (std::size_t t = 0; t < rows; ++t) {
            const float* src = qkv + t * qkvw + d.n_heads * d.head_dim;
            std::copy(src, src + kvw, cache.k + (first + t) * kvw);
            std::copy(src + kvw, src + 2 * kvw, cache.v + (first + t) * kvw);
        }
        const std::size_t n = select.all() ? rows : select.count;
        attend_selected(qkv, rows, first, select, cache.tokens, cache.k, cache.v, kvw, mask, o, ws, pool);
        out_.forward(o, ow, n, y, ldy, pool, accumulate);
    }

    // The attention core on projected heads: QK-norm and RoPE on q and k of qkv (T, (H + 2 Hkv) hd)
    // in place, then o (T, H hd) = softmax(q k^T / sqrt(hd)) v per head.
    void attend(float* qkv, std::size_t T, const std::int64_t* positions, const attention_mask& mask, float* o,
                workspace& ws, thread_pool& pool) const {
        const auto& d = dims_;
        const std::size_t qkvw = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim;
        if (T == 0) return;
        prepare_qk(qkv, T, 0, positions, pool);
        attend_rows(qkv, qkvw, T, 0, nullptr, T, qkv + d.n_heads * d.head_dim,
                    qkv + (d.n_heads + d.n_kv_heads) * d.head_dim, qkvw, mask, o, ws, pool);
    }

private:
    static void check_subset(const row_subset& s, std::size_t rows) {
        if (s.all()) return;
        for (std::size_t i = 0; i < s.count; ++i)
            if (s.rows[i] >= rows || (i > 0 && s.rows[i] <= s.rows[i - 1]))
                ddiff::detail::fail<invalid_argument>("attention: selected row ", s.rows[i], " (entry ", i,
                                                      ") is not inside [0, ", rows,
                                                      ") in strictly increasing order");
    }

    // QK-norm (if set) and RoPE on the q and k heads of rows (rows, (H + 2 Hkv) hd) in place;
    // positions (rows) or nullptr = first + row.
    void prepare_qk(float* qkv, std::size_t rows, std::size_t first, const std::int64_t* positions,
                    thread_pool& pool) const {
        if (!use_rope_ && q_norm_.empty()) return;
        const auto& d = dims_;
        const std::size_t hd = d.head_dim, H = d.n_heads, HG = d.n_heads + d.n_kv_heads, qkvw = (HG + d.n_kv_heads) * hd;
        if (use_rope_) {
            if (positions) {
                for (std::size_t t = 0; t < rows; ++t) rope_.check_position(positions[t]);
            } else {
                rope_.check_position(static_cast<std::int64_t>(first + rows - 1));
            }
        }
        detail::parallel_rows(pool, rows, HG * hd, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t t = r0; t < r1; ++t) {
                const std::size_t p = positions ? static_cast<std::size_t>(positions[t]) : first + t;
                float* row = qkv + t * qkvw;
                for (std::size_t h = 0; h < HG; ++h) {
                    if (!q_norm_.empty()) rms_row(row + h * hd, h < H ? q_norm_ : k_norm_);
                    if (use_rope_) rope_.template apply<Arch>(row + h * hd, p);
                }
            }
        });
    }

    // x (hd) = x * rsqrt(mean(x^2) + eps) * w in place (Qwen3RMSNorm over one head).
    void rms_row(float* x, const std::vector<float>& w) const noexcept {
        const std::size_t hd = dims_.head_dim;
        const float ms = simd::sum_squares<Arch>(x, hd) / static_cast<float>(hd);
        simd::normalize<Arch>(x, 0.0f, 1.0f / std::sqrt(ms + qk_eps_), w.data(), nullptr, x, hd);
    }

    // The selected query rows of qkv (rows rows at sequence indices first..) against T keys.
    void attend_selected(const float* qkv, std::size_t rows, std::size_t first, const row_subset& select,
                         std::size_t T, const float* keys, const float* values, std::size_t kv_stride,
                         const attention_mask& mask, float* o, workspace& ws, thread_pool& pool) const {
        const auto& d = dims_;
        const std::size_t qkvw = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim, qw = d.n_heads * d.head_dim;
        if (select.all()) {
            attend_rows(qkv, qkvw, rows, first, nullptr, T, keys, values, kv_stride, mask, o, ws, pool);
            return;
        }
        workspace::scope keep(ws);
        float* q = ws.take(select.count * qw).data();  // (selected, H hd) gathered queries
        std::vector<std::size_t> index(select.count);  // their sequence indices
        for (std::size_t i = 0; i < select.count; ++i) {
            const float* src = qkv + select.rows[i] * qkvw;
            std::copy(src, src + qw, q + i * qw);
            index[i] = first + select.rows[i];
        }
        attend_rows(q, qw, select.count, first, index.data(), T, keys, values, kv_stride, mask, o, ws, pool);
    }

    // o (rows, H hd) = softmax(q k^T / sqrt(hd)) v for `rows` query rows (q heads at stride ldq,
    // sequence index qidx[i], or first + i when qidx is nullptr), keys and values (T rows at
    // stride kv_stride, kv head g at column g hd) already normalised and rotated.
    void attend_rows(const float* q, std::size_t ldq, std::size_t rows, std::size_t first, const std::size_t* qidx,
                     std::size_t T, const float* keys, const float* values, std::size_t kv_stride,
                     const attention_mask& mask, float* o, workspace& ws, thread_pool& pool) const {
        const auto& d = dims_;
        const std::size_t hd = d.head_dim, H = d.n_heads, G = d.n_kv_heads;
        const std::size_t ow = H * hd;
        workspace::scope keep(ws);
        const std::size_t kpack = workspace::round(simd::packed_elements<Arch>(T, hd, simd::panel_format::f32));
        const std::size_t vpack = workspace::round(simd::packed_elements<Arch>(hd, T, simd::panel_format::f32));
        float* kp = ws.take(G * kpack).data();  // per kv head: K as [T, hd] weight panels
        float* vp = ws.take(G * vpack).data();  // per kv head: V as [T, hd] column panels
        const std::size_t threads = pool.size();
        float* sbuf = ws.take(threads * workspace::round(query_chunk * T)).data();  // per thread (chunk, T)

        // Pack K and V of each kv head (one task per kv head).
        pool.run(G, [&](std::size_t g, std::size_t) {
            simd::pack_rows_f32<Arch>(keys + g * hd, kv_stride, T, hd, kp + g * kpack);
            simd::pack_columns_f32<Arch>(values + g * hd, kv_stride, T, hd, vp + g * vpack);
        });

        const std::size_t chunks = (rows + query_chunk - 1) / query_chunk;
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        const std::size_t group = H / G;
        pool.run(H * chunks, [&](std::size_t task, std::size_t thread) {
            const std::size_t h = task / chunks, c = task % chunks, g = h / group;
            const std::size_t r0 = c * query_chunk, n = std::min(query_chunk, rows - r0);
            float* s = sbuf + thread * workspace::round(query_chunk * T);  // (rows, T) scores, then probabilities
            const simd::panel_view kv{simd::panel_format::f32, T, hd, simd::gemm_config<Arch>::nr, kp + g * kpack};
            const simd::panel_view vv{simd::panel_format::f32, hd, T, simd::gemm_config<Arch>::nr, vp + g * vpack};
            auto scratch = pool.scratch(thread);
            simd::gemm_panels<Arch>(q + r0 * ldq + h * hd, ldq, n, kv, 0, kv.panels(), s, T, false, scratch);
            for (std::size_t i = 0; i < n; ++i) {
                const std::size_t qi = qidx ? qidx[r0 + i] : first + r0 + i;
                simd::masked_softmax<Arch>(s + i * T, T, scale, mask.key_valid, mask.visible(qi, T));
            }
            simd::gemm_panels<Arch>(s, T, n, vv, 0, vv.panels(), o + r0 * ow + h * hd, ow, false, scratch);
        });
    }

    attention_dims dims_;
    linear<Arch> qkv_, out_;
    rope_table rope_;
    bool use_rope_ = true;
    std::vector<float> q_norm_, k_norm_;  // (head_dim) each, or empty: no QK-norm
    float qk_eps_ = 1e-6f;
};

// Plain reference attention (double accumulation) on an already projected and rotated
// qkv buffer (T, (H + 2 Hkv) hd); writes o (T, H hd). For tests and the naive benchmark.
inline void attention_reference(const float* qkv, std::size_t T, const attention_dims& d, const attention_mask& mask,
                                float* o) {
    const std::size_t hd = d.head_dim, H = d.n_heads, G = d.n_kv_heads, qkvw = (H + 2 * G) * hd;
    std::vector<double> p(T);
    for (std::size_t h = 0; h < H; ++h) {
        const std::size_t g = h / (H / G);
        for (std::size_t i = 0; i < T; ++i) {
            const std::size_t visible = mask.visible(i, T);
            double m = -INFINITY;
            for (std::size_t j = 0; j < T; ++j) {
                const bool ok = j < visible && (!mask.key_valid || mask.key_valid[j]);
                double s = -INFINITY;
                if (ok) {
                    s = 0;
                    for (std::size_t e = 0; e < hd; ++e)
                        s += double(qkv[i * qkvw + h * hd + e]) * double(qkv[j * qkvw + H * hd + g * hd + e]);
                    s /= std::sqrt(double(hd));
                }
                p[j] = s;
                m = std::max(m, s);
            }
            double z = 0;
            for (std::size_t j = 0; j < T; ++j) z += (p[j] = (m == -INFINITY ? 0.0 : std::exp(p[j] - m)));
            for (std::size_t e = 0; e < hd; ++e) {
                double acc = 0;
                for (std::size_t j = 0; j < T; ++j) acc += p[j] * double(qkv[j * qkvw + (H + G) * hd + g * hd + e]);
                o[i * H * hd + h * hd + e] = static_cast<float>(z > 0 ? acc / z : 0.0);
            }
        }
    }
}

}  // namespace ddiff::nn
