// Dream (model_type "Dream"; Dream-org/Dream-v0-Base-7B modeling_dream.py): the Qwen2
// transformer run bidirectionally (RMSNorm, RoPE rotate-half, GQA, biases on q/k/v only,
// SwiGLU, untied head). Loads the Hugging Face layout and satisfies the denoiser concept.
// The network returns UNSHIFTED logits (row i from hidden state i); Dream reads the prediction
// for position i at row i - 1 (it was initialised from the autoregressive Qwen2.5), which the
// decoder does because of the trait shift_logits (docs/notes/architectures.md section 2.3).
#pragma once

#include <algorithm>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/io/checkpoint.hpp"
#include "ddiff/io/config.hpp"
#include "ddiff/model/hf_decoder.hpp"
#include "ddiff/model/pre_norm_lm.hpp"
#include "ddiff/model/weights.hpp"

namespace ddiff::model {

struct dream_config {
    // The RoPE table (one, shared by every layer) is built for this many positions at most:
    // Dream's max_position_embeddings (131072) would cost 64 MB at head_dim 128. Raise max_positions before
    // constructing the model (dream(cfg, checkpoint, options)) for longer sequences.
    static constexpr std::size_t default_max_positions = 4096;

    std::size_t hidden_size = 0, n_heads = 0, n_kv_heads = 0, n_layers = 0, intermediate_size = 0;
    std::size_t vocab_size = 0, max_position_embeddings = 0, max_positions = 0;
    double rope_theta = 10000.0, rms_norm_eps = 1e-6;
    token_id mask_id = 0, pad_id = -1, eos_id = -1, bos_id = -1;
    bool tie_word_embeddings = false;

    std::size_t head_dim() const { return hidden_size / n_heads; }

    // Every key the forward pass depends on is read and checked; unsupported values (another
    // activation, RoPE scaling, sliding-window attention) are config_errors naming the key.
    static dream_config from_json(const io::json_config& c) {
        auto unsupported = [&](const char* key, const auto& found, const char* want) {
            ddiff::detail::fail<config_error>(c.source(), ": key \"", key, "\" = ", found, ", expected ", want,
                                              " (the only value ddiff's Dream supports)");
        };
        if (c.has_value("model_type") && c.get<std::string>("model_type") != "Dream")
            unsupported("model_type", "\"" + c.get<std::string>("model_type") + "\"", "\"Dream\"");
        if (c.has_value("hidden_act") && c.get<std::string>("hidden_act") != "silu")
            unsupported("hidden_act", "\"" + c.get<std::string>("hidden_act") + "\"", "\"silu\"");
        if (c.has_value("use_sliding_window") && c.get<bool>("use_sliding_window"))
            unsupported("use_sliding_window", "true", "false");
        if (c.has_value("rope_scaling")) {
            // transformers writes null for plain RoPE; {"rope_type": "default"} means the same.
            const auto rs = c.section("rope_scaling");
            const std::string type = rs.has_value("rope_type") ? rs.get<std::string>("rope_type")
                                                               : rs.get<std::string>("type", "");
            if (type != "default") unsupported("rope_scaling", c.json()["rope_scaling"].dump(), "null");
        }
        dream_config k;
        k.hidden_size = c.get_in<std::size_t>("hidden_size", 1, 1 << 20);
        k.n_heads = c.get_in<std::size_t>("num_attention_heads", 1, k.hidden_size);
        if (k.hidden_size % k.n_heads != 0 || k.head_dim() % 2 != 0)
            ddiff::detail::fail<config_error>(c.source(), ": hidden_size = ", k.hidden_size,
                                              " over num_attention_heads = ", k.n_heads,
                                              ", expected an even head_dim = hidden_size / num_attention_heads");
        if (c.has_value("head_dim") && c.get<std::size_t>("head_dim") != k.head_dim())
            ddiff::detail::fail<config_error>(c.source(), ": key \"head_dim\" = ", c.get<std::size_t>("head_dim"),
                                              ", expected hidden_size / num_attention_heads = ", k.head_dim());
        k.n_kv_heads = c.get_in<std::size_t>("num_key_value_heads", 1, k.n_heads, k.n_heads);
        if (k.n_heads % k.n_kv_heads != 0)
            ddiff::detail::fail<config_error>(c.source(), ": num_key_value_heads = ", k.n_kv_heads,
                                              ", expected a divisor of num_attention_heads = ", k.n_heads);
        k.n_layers = c.get_in<std::size_t>("num_hidden_layers", 1, 1 << 12);
        k.intermediate_size = c.get_in<std::size_t>("intermediate_size", 1, 1 << 24);
        k.vocab_size = c.get_in<std::size_t>("vocab_size", 2, std::size_t{1} << 31);
        k.max_position_embeddings = c.get_in<std::size_t>("max_position_embeddings", 1, std::size_t{1} << 24, 32768);
        k.max_positions = std::min(k.max_position_embeddings, default_max_positions);
        k.rope_theta = c.get_in<double>("rope_theta", 1.0 + 1e-9, 1e12, 10000.0);
        k.rms_norm_eps = c.get_in<double>("rms_norm_eps", 1e-30, 1.0, 1e-6);
        const auto last = token_id(k.vocab_size - 1);
        k.mask_id = c.get_in<token_id>("mask_token_id", 0, last);
        k.pad_id = c.get_in<token_id>("pad_token_id", -1, last, -1);
        k.eos_id = c.get_in<token_id>("eos_token_id", -1, last, -1);
        k.bos_id = c.get_in<token_id>("bos_token_id", -1, last, -1);
        k.tie_word_embeddings = c.get<bool>("tie_word_embeddings", false);
        return k;
    }
};

template <class Arch = simd::default_arch>
class dream {
public:
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    using cache_type = kv_cache;  // forward_cached's per-sequence KV cache (decoder: generate_options::cache)
    static constexpr noise_kind noise = noise_kind::absorbing;
    static constexpr bool time_conditioned = false;
    // The prediction for position i is row i - 1 of the network output (generation_utils.py:
    // logits = cat(logits[:, :1], logits[:, :-1])); the decoder applies it.
    static constexpr bool shift_logits = true;

    // dir: a Hugging Face checkpoint directory (config.json + model.safetensors or an index).
    static dream load(const std::filesystem::path& dir, const load_options& o = {}) {
        const auto cfg = dream_config::from_json(io::json_config::load(dir / "config.json"));
        const auto ck = io::checkpoint::open(dir);
        return dream(cfg, ck, o);
    }

    dream(const dream_config& cfg, const io::checkpoint& ck, const load_options& o)
        : cfg_(cfg), net_(o.threads) {
        // Qwen2.5 layers: q/k/v biases, no o_proj bias, no QK-norm.
        load_hf_decoder(net_,
                        hf_decoder_shape{.layers = cfg.n_layers, .hidden = cfg.hidden_size, .heads = cfg.n_heads,
                                         .kv_heads = cfg.n_kv_heads, .head_dim = cfg.head_dim(),
                                         .intermediate = cfg.intermediate_size, .vocab = cfg.vocab_size,
                                         .max_positions = cfg.max_positions, .rope_theta = cfg.rope_theta,
                                         .rms_norm_eps = cfg.rms_norm_eps, .qkv_bias = true,
                                         .tie_word_embeddings = cfg.tie_word_embeddings},
                        ck, o);
    }

    // A network built by build(pre_norm_lm<Arch>&): how model/gguf.hpp loads a GGUF file.
    template <class Build>
    dream(const dream_config& cfg, const load_options& o, Build&& build) : cfg_(cfg), net_(o.threads) {
        build(net_);
    }

    const dream_config& config() const noexcept { return cfg_; }
    std::size_t vocab_size() const noexcept { return cfg_.vocab_size; }
    token_id mask_id() const noexcept { return cfg_.mask_id; }
    std::size_t threads() const noexcept { return net_.threads(); }
    thread_pool& pool() noexcept { return net_.pool(); }  // the decoder runs its per-position work here

    // Unshifted logits of one sequence: ids (T), out (T, vocab). valid (T) or nullptr: 0 marks
    // padding. As Dream's generate(): padding keys are never attended to and positions are
    // cumsum(valid) - 1 (so a left-padded row sees the same positions as the unpadded one);
    // the logits at padded positions themselves are meaningless.
    void forward(std::span<const token_id> ids, float* out, const std::uint8_t* valid = nullptr) {
        net_.forward(ids, positions(ids.size(), valid), valid, out);
    }

    // Unshifted logits of the rows [first, first + count) only, out (count, vocab), the other
    // rows' keys and values taken from the cache (pre_norm_lm::forward_cached; a full pass
    // first 0, count T fills it). The logit that predicts position i comes from row i - 1.
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, kv_cache& cache,
                        float* out, const std::uint8_t* valid = nullptr) {
        net_.forward_cached(ids, first, count, positions(ids.size(), valid), valid, cache, out);
    }

    // Unshifted logits of the given rows only (sequence indices, strictly increasing), out
    // (rows, vocab); equal to those rows of forward() bit for bit (pre_norm_lm::forward_rows).
    // The decoder passes the rows that predict its masked positions: position i - 1 for i.
    void forward_rows(std::span<const token_id> ids, std::span<const std::size_t> rows, float* out,
                      const std::uint8_t* valid = nullptr) {
        net_.forward_rows(ids, attention_layout{positions(ids.size(), valid), valid, 0}, rows, out);
    }
    // forward_cached() with logits at the given rows of [first, first + count) only.
    void forward_cached_rows(std::span<const token_id> ids, std::size_t first, std::size_t count, kv_cache& cache,
                             std::span<const std::size_t> rows, float* out, const std::uint8_t* valid = nullptr) {
        net_.forward_cached_rows(ids, first, count, attention_layout{positions(ids.size(), valid), valid, 0}, cache,
                                 rows, out);
    }

    // Denoiser concept: x (batch, len), alpha ignored (Dream is not time-conditioned),
    // out (batch, len, vocab) unshifted logits.
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) {
        denoise_rows("dream::denoise", x, alpha, vocab_size(), out,
                     [&](std::span<const token_id> ids, float* row) { forward(ids, row); });
    }

private:
    // RoPE positions: nullptr (0..T-1) without padding, else cumsum(valid) - 1.
    const std::int64_t* positions(std::size_t T, const std::uint8_t* valid) {
        if (T > cfg_.max_positions)
            ddiff::detail::fail<invalid_argument>("dream: sequence of ", T, " tokens, expected at most max_positions = ",
                                                  cfg_.max_positions, " (min(max_position_embeddings, ",
                                                  dream_config::default_max_positions, ") unless raised)");
        if (!valid) return nullptr;
        padded_positions_.resize(T);
        std::int64_t seen = 0;
        for (std::size_t t = 0; t < T; ++t) padded_positions_[t] = valid[t] ? seen++ : 1;
        return padded_positions_.data();
    }

    dream_config cfg_;
    pre_norm_lm<Arch> net_;
    std::vector<std::int64_t> padded_positions_;  // (T) cumsum(valid) - 1, padding at 1
};

}  // namespace ddiff::model
