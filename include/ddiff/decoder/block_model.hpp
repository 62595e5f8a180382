// What the decoder's block-diffusion mode (generate_options::block_diffusion) asks of a model
// with block-causal attention, whatever the spelling of its calls:
//   block_length()                        the attention block L (0: bidirectional, no block mode)
//   block_forward(...)                    logits of selected rows of a block against the exact
//                                         block cache (forward_block: committed blocks' keys and
//                                         values kept, `commit` keeps the block's)
//   rows_forward(...)                     logits of selected rows of the uncached block-causal
//                                         forward of a canvas (forward_rows)
// The Qwen-family models (model/qwen.hpp) take an attention_layout (RoPE positions, padding);
// BD3-LM's DiT (model/dit.hpp) takes the noise level sigma; the block LLaDA (model/llada.hpp)
// neither (its layout is its config's). A model with none of these is not a block model.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/model/kv_cache.hpp"

namespace ddiff::detail {

template <class M>
constexpr bool has_block_forward() {
    return requires(M& m, std::span<const token_id> ids, const model::attention_layout& lay, model::kv_cache& c,
                    std::span<const std::size_t> rows, float* out) {
        { m.block_length() } -> std::convertible_to<std::size_t>;
    } && (requires(M& m, std::span<const token_id> ids, const model::attention_layout& lay, model::kv_cache& c,
                   std::span<const std::size_t> rows, float* out) {
        m.forward_block(ids, std::size_t{}, std::size_t{}, lay, c, true, rows, out);
        m.forward_rows(ids, lay, rows, out);
    } || requires(M& m, std::span<const token_id> ids, model::kv_cache& c, std::span<const std::size_t> rows, float* out) {
        m.forward_block(ids, std::size_t{}, std::size_t{}, 0.0, c, true, rows, out);
        m.forward_rows(ids, 0.0, rows, out);
    } || requires(M& m, std::span<const token_id> ids, model::kv_cache& c, std::span<const std::size_t> rows, float* out) {
        m.forward_block(ids, std::size_t{}, std::size_t{}, c, true, rows, out);
        m.forward_rows(ids, rows, out, nullptr);
    });
}

// The DiT's noise level for the alpha the decoder calls at (dit::denoise's conversion); only a
// time-conditioned DiT reads it.
inline double sigma_of(double alpha) { return alpha > 0.0 ? -std::log(alpha) : 0.0; }

template <class M>
void block_forward(M& m, std::span<const token_id> ids, std::size_t first, std::size_t count,
                   const model::attention_layout& lay, double alpha, model::kv_cache& cache, bool commit,
                   std::span<const std::size_t> rows, float* out) {
    if constexpr (requires { m.forward_block(ids, first, count, lay, cache, commit, rows, out); }) {
        m.forward_block(ids, first, count, lay, cache, commit, rows, out);
    } else if constexpr (requires { m.forward_block(ids, first, count, 0.0, cache, commit, rows, out); }) {
        m.forward_block(ids, first, count, sigma_of(alpha), cache, commit, rows, out);
    } else {
        if (lay.positions || lay.key_valid)
            fail("decoder: this block model takes no padding or positions (pad_id), expected pad_id = -1");
        m.forward_block(ids, first, count, cache, commit, rows, out);
    }
}

template <class M>
void rows_forward(M& m, std::span<const token_id> ids, const model::attention_layout& lay, double alpha,
                  std::span<const std::size_t> rows, float* out) {
    if constexpr (requires { m.forward_rows(ids, lay, rows, out); }) {
        m.forward_rows(ids, lay, rows, out);
    } else if constexpr (requires { m.forward_rows(ids, 0.0, rows, out); }) {
        m.forward_rows(ids, sigma_of(alpha), rows, out);
    } else {
        if (lay.positions)
            fail("decoder: this block model takes no padding or positions (pad_id), expected pad_id = -1");
        m.forward_rows(ids, rows, out, lay.key_valid);
    }
}

}  // namespace ddiff::detail
