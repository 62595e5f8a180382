// Run-time options of a decoder, the per-step record its observers receive, and its result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ddiff/core/types.hpp"

namespace ddiff {

// Fast-dLLM's approximate KV caches (models with forward_cached: LLaDA, Dream). Each block
// starts with a full model call that refills every layer's cache; the block's later calls
// recompute only rows [block start, end of canvas) (prefix) or the block's rows (dual; for a
// model that shifts its logits, from one row before the block) and attend to the cached keys
// and values of the others, which are not refreshed until the next block.
enum class kv_cache_mode : std::uint8_t { none, prefix, dual };

inline const char* name(kv_cache_mode m) noexcept {
    return m == kv_cache_mode::prefix ? "prefix" : m == kv_cache_mode::dual ? "dual" : "none";
}

struct generate_options {
    std::size_t gen_length = 128;   // masked positions appended after the prompt (generate)
    std::uint32_t steps = 128;      // total planned steps (a multiple of the number of blocks)
    std::size_t block_length = 0;   // semi-autoregressive block length; 0 = one block
    double temperature = 0.0;       // 0 = greedy proposals
    std::size_t top_k = 0;          // 0 = no top-k filter
    double top_p = 1.0;             // 1 = no nucleus filter
    double cfg_scale = 0.0;         // LLaDA unsupervised CFG weight w (0 = off)
    double alg_temp = 0.0;          // Dream alg_temp: > 0 draws the committed positions from softmax(score / alg_temp)
    std::uint64_t seed = 0;         // row b draws from counter_rng(seed, b) ...
    std::vector<std::uint64_t> seeds;  // ... or, when given (one per row), from counter_rng(seeds[b], 0), so a
                                       // row decoded in a batch equals the same seed decoded alone
    unsigned threads = 1;           // workers for the per-position work of a model without its own pool
    bool suppress_eos = false;      // LLaDA logits_eos_inf: EOS logits set to -inf
    bool eos_confidence_last = false;  // LLaDA confidence_eos_eot_inf: EOS/EoT proposals scored -inf
    std::vector<token_id> eos_ids;  // the EOS (and EoT) ids the two options act on
    std::size_t max_steps_per_block = 0;  // adaptive samplers: steps a block may take (0 = its length)
    kv_cache_mode cache = kv_cache_mode::none;  // Fast-dLLM prefix / dual KV cache (approximate)
};

// One decoder step of one row, as observers see it. A record may be kept; `canvas` points to
// the decoder's canvas, valid during the call only.
struct step_record {
    std::uint32_t step = 0;                    // global step index
    std::size_t block = 0;                     // block index
    std::size_t row = 0;                       // batch row
    std::vector<std::size_t> committed = {};        // positions committed at this step
    std::vector<std::size_t> remasked = {};         // positions put back to the mask (ReMDM)
    const token_batch* canvas = nullptr;       // the whole batch after the step (during the call)
    std::size_t nfe = 0;                       // model calls so far
    double forward_seconds = 0.0;              // this step's model call(s)
};

// What a decode returns.
struct generate_result {
    token_batch tokens;            // (batch, len) the final canvas, prompt included
    std::size_t nfe = 0;           // model calls (a CFG step counts two)
    std::size_t steps = 0;         // decoder steps run
    double forward_seconds = 0.0;  // wall time in model calls
    double select_seconds = 0.0;   // wall time between them: proposals, scores, commits
    std::vector<bool> cancelled;   // (batch) rows an observer stopped (their masks stay)
};

}  // namespace ddiff
