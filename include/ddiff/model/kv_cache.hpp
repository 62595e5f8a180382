// The keys and values of every layer for one sequence. Two uses:
// * Fast-dLLM's approximate prefix and dual caches (pre_norm_lm::forward_cached): filled by a full
//   pass, then rows are recomputed against the possibly stale cached ones.
// * The exact block cache of block-causal models (pre_norm_lm::forward_block, dit::forward_block):
//   rows [0, committed) hold the keys and values the uncached block-causal forward of the current
//   canvas would compute, so later rows need only their own computation.
#pragma once

#include <cstddef>
#include <vector>

namespace ddiff::model {

struct kv_cache {
    std::size_t tokens = 0;     // positions per layer the storage holds; 0 = empty
    std::vector<float> k, v;    // per layer (tokens, n_kv_heads * head_dim), layers one after another
    std::size_t committed = 0;  // forward_block: rows [0, committed) are exact
};

}  // namespace ddiff::model
