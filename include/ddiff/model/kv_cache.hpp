// The keys and values of every layer for one sequence (Fast-dLLM's prefix and dual caches; see
// pre_norm_lm::forward_cached). Empty until a full pass fills it.
#pragma once

#include <cstddef>
#include <vector>

namespace ddiff::model {

struct kv_cache {
    std::size_t tokens = 0;   // positions held; 0 = empty
    std::vector<float> k, v;  // per layer (tokens, n_kv_heads * head_dim), layers one after another
};

}  // namespace ddiff::model
