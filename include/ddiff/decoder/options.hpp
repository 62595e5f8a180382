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
// `block`: the exact cache of a block-diffusion decode (block_diffusion_options): the keys and
// values of every finished block are computed once, each step computes the current block's rows.
enum class kv_cache_mode : std::uint8_t { none, prefix, dual, block };

inline const char* name(kv_cache_mode m) noexcept {
    return m == kv_cache_mode::prefix ? "prefix" : m == kv_cache_mode::dual ? "dual" : m == kv_cache_mode::block ? "block" : "none";
}

// When a finished attention block's keys and values are stored (one model call on the block):
// eager, as soon as it is finished (SDAR store_kv, BD3-LM store_kv: also after the last block),
// or lazy, when the next block needs them (dllm's BD3LM sampler recomputes its prefix at each
// block's start; Fast-dLLM v2's update call, made only when another block follows).
enum class block_commit : std::uint8_t { eager, lazy };

// Block diffusion (BD3-LM, SDAR, Fast-dLLM v2, dllm's BD3LM): the model attends block-causally
// with blocks of L rows counted from row 0 of the canvas (model.block_length()). The decoder
// decodes the blocks that hold masks in order, each in units of generate_options::block_length
// positions (0: the whole block; Fast-dLLM v2's sub-blocks: a divisor of L), calls the model on
// the current block's rows only (cache = block: against the exact cache; none: the block-causal
// forward of the canvas up to the block's end) and computes logits only at the rows it reads.
struct block_diffusion_options {
    bool enabled = false;
    block_commit commit = block_commit::eager;
    // Fast-dLLM v2: when a block's keys and values are stored, a masked first position of the
    // next block takes the argmax of the stored block's last row (the next token, as an AR model;
    // the model's logits are shifted), before the next block's steps.
    bool next_token = false;
    // dllm: tokens equal to pad_id (left padding of the prompt) are neither queries nor keys and
    // take no RoPE position (positions count the other tokens); -1 = none.
    token_id pad_id = -1;
    // Stop a row after the attention block in which an id of eos_ids first appears among the
    // generated positions (the later blocks are not decoded; generate_result::length).
    bool stop_at_eos = false;
};

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
    kv_cache_mode cache = kv_cache_mode::none;  // Fast-dLLM prefix / dual KV cache (approximate), or block (exact)
    block_diffusion_options block;  // block-diffusion decoding of a block-causal model
    // Absorbing models: keep the mask's own logit in the softmax the proposal and its confidence
    // come from (LLaDA, SDAR, Fast-dLLM v2 and dllm take argmax and softmax over the whole
    // vocabulary); false: the mask is never proposed (MDLM's SUBS, ddiff's default).
    bool keep_mask_logit = false;
    bool right_shift_logits = false;  // read position i's logits at row i - 1 even for a model that does not shift (dllm)
    // Bidirectional models: stop a row when the argmax of every masked position left in the
    // generated region is an id of eos_ids (they are filled with it); generate_result::length.
    bool stop_when_all_eos = false;
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
    // (batch) canvas positions decoded: the canvas length, or less when a row stopped at EOS
    // (block_diffusion_options::stop_at_eos, stop_when_all_eos): positions [length, len) stay masked.
    std::vector<std::size_t> length;
};

}  // namespace ddiff
