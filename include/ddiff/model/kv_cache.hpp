// How a sequence is attended (attention_layout), and the keys and values of every layer for one
// sequence (kv_cache). Two uses of the cache:
// * Fast-dLLM's approximate prefix and dual caches (pre_norm_lm::forward_cached): filled by a full
//   pass, then rows are recomputed against the possibly stale cached ones.
// * The exact block cache of block-causal models (pre_norm_lm::forward_block, dit::forward_block):
//   rows [0, committed) hold the keys and values the uncached block-causal forward of the current
//   canvas would compute, so later rows need only their own computation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ddiff::model {

// How one sequence is attended (docs/notes/block-diffusion.md gives each reference's choice).
struct attention_layout {
    const std::int64_t* positions = nullptr;  // (T) RoPE positions; nullptr = 0..T-1
    const std::uint8_t* key_valid = nullptr;  // (T) 0 = a padding key no query attends to; nullptr = all valid
    std::size_t block_length = 0;             // > 0: block-causal, blocks of this many rows counted from row 0
};

struct kv_cache {
    std::size_t tokens = 0;     // positions per layer the storage holds; 0 = empty
    std::vector<float> k, v;    // per layer (tokens, n_kv_heads * head_dim), layers one after another
    std::size_t committed = 0;  // forward_block: rows [0, committed) are exact
};

}  // namespace ddiff::model
