// Any absorbing-noise model the run-time front end opens, behind one denoiser type: a loaded
// checkpoint (LLaDA, Dream, MDLM, SEDD) or the exact Markov oracle. The model is reached
// through a virtual interface, so a translation unit that decodes with it compiles the decoder
// only, never the model (checkpoint.hpp instantiates the models, in the one place that opens
// them). Its facts (vocabulary, mask, logit shift, time conditioning, KV cache) are asked of
// the loaded model, never restated. Also: the text codec of a model (its tokenizer).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/model/kv_cache.hpp"
#include "ddiff/runtime/fields.hpp"
#include "ddiff/core/thread_pool.hpp"

namespace ddiff::runtime {

// What a front end shows and checks of a model.
struct model_info {
    std::string kind;        // llada, Dream, mdlm, sedd, markov
    std::string source;      // the spec it was opened from
    std::string format;      // safetensors, gguf, oracle
    noise_kind noise = noise_kind::absorbing;
    std::size_t vocab = 0;
    token_id mask = -1;      // -1: uniform noise, no mask
    std::vector<token_id> eos_ids = {};  // the checkpoint's end-of-sequence ids (generation_config.json, ...)
    bool shift_logits = false, time_conditioned = false, kv_cache = false;
    std::size_t max_length = 0;  // longest sequence the model accepts (0: any)
    std::size_t block_length = 0;  // block-causal attention with blocks of this many rows (0: bidirectional)
    token_id pad = -1;             // the config's pad_token_id where a decode needs it (dllm's left padding), else -1
};

struct chat_turn {
    std::string role, content;
};

// Text to ids and back for a model: its tokenizer (tokenizer.json, a character vocab.json, a
// GGUF file's tokenizer.ggml.*), or the oracle's alphabet.
class text_codec {
public:
    virtual ~text_codec() = default;
    // As HF's tokenizer(text): with the post-processor's special tokens when add_special_tokens.
    virtual std::vector<token_id> encode(std::string_view text, bool add_special_tokens = true) const = 0;
    // Text through the tokenizer's decoder; masked positions (id == mask) as '_' when show_masks,
    // else left out; special tokens (EOS, chat markup) left out when skip_special.
    virtual std::string decode(std::span<const token_id> ids, token_id mask, bool show_masks,
                               bool skip_special = false) const = 0;
    // The vocabulary string of one id ("Ġthe").
    virtual std::string piece(token_id id) const = 0;
    // What kind of tokenizer ("byte-level BPE tokenizer.json", ...).
    virtual std::string describe() const = 0;
    virtual bool has_chat_template() const { return false; }
    // The checkpoint's chat template rendered for the turns (transformers' apply_chat_template,
    // tokenize=False); option_error when the checkpoint has none.
    virtual std::string chat(std::span<const chat_turn>, bool /*add_generation_prompt*/) const {
        throw option_error("chat", "", "a checkpoint with a chat template (tokenizer_config.json chat_template)");
    }
    // What the tokenizer's files name: the end-of-sequence ids (generation_config.json's list, else
    // tokenizer_config.json's eos_token, ...) and the mask token; empty when they name none.
    virtual std::vector<token_id> eos_ids() const { return {}; }
    virtual std::optional<token_id> mask_id() const { return std::nullopt; }
};

// The interface a loaded model implements (checkpoint.hpp).
class model_impl {
public:
    virtual ~model_impl() = default;
    virtual const model_info& info() const = 0;
    virtual thread_pool& pool() = 0;
    virtual void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) = 0;
    virtual void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, model::kv_cache& cache,
                                float* out) = 0;
    // Block-diffusion models (info().block_length > 0): the exact block cache and rows-only
    // logits (decoder/block_model.hpp); the others throw.
    virtual void forward_block(std::span<const token_id>, std::size_t, std::size_t, const model::attention_layout&,
                               model::kv_cache&, bool, std::span<const std::size_t>, float*) {
        ddiff::detail::fail("block diffusion needs a block-causal model; this one is ", info().kind);
    }
    virtual void forward_rows(std::span<const token_id>, const model::attention_layout&, std::span<const std::size_t>,
                              float*) {
        ddiff::detail::fail("block diffusion needs a block-causal model; this one is ", info().kind);
    }
};

class any_model {
public:
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    using cache_type = model::kv_cache;
    static constexpr noise_kind noise = noise_kind::absorbing;

    explicit any_model(std::unique_ptr<model_impl> impl) : impl_(std::move(impl)) {}

    const model_info& info() const { return impl_->info(); }
    std::size_t vocab_size() const { return info().vocab; }
    token_id mask_id() const { return info().mask; }
    bool shift_logits() const { return info().shift_logits; }
    bool time_conditioned() const { return info().time_conditioned; }
    thread_pool& pool() { return impl_->pool(); }

    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) {
        impl_->denoise(x, alpha, out);
    }
    // Fast-dLLM's caches; a model without one (the DiT, the oracle) throws (the session checks
    // info().kv_cache before it decodes).
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, cache_type& cache,
                        float* out) {
        impl_->forward_cached(ids, first, count, cache, out);
    }
    // Block diffusion (the decoder's block mode): 0 for a bidirectional model.
    std::size_t block_length() const { return info().block_length; }
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count,
                       const model::attention_layout& layout, cache_type& cache, bool commit,
                       std::span<const std::size_t> rows, float* out) {
        impl_->forward_block(ids, first, count, layout, cache, commit, rows, out);
    }
    void forward_rows(std::span<const token_id> ids, const model::attention_layout& layout,
                      std::span<const std::size_t> rows, float* out) {
        impl_->forward_rows(ids, layout, rows, out);
    }

private:
    std::unique_ptr<model_impl> impl_;
};

}  // namespace ddiff::runtime
