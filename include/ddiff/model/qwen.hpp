// The Qwen2 / Qwen3-architecture diffusion language models in their Hugging Face layouts
// (docs/notes/architectures.md section 4, docs/notes/block-diffusion.md):
//   a2d_qwen3     model_type "a2d-qwen3": dllm-hub Qwen3-0.6B-diffusion-mdlm / -bd3lm
//                 (ZHZisZZ/dllm dllm/pipelines/a2d/models/qwen3/modeling_qwen3.py): Qwen3 with the
//                 causal mask removed; bidirectional (MDLM) or block-causal (BD3LM: the sampler's
//                 block size, not in the config).
//   sdar          model_type "sdar": JetAstra/SDAR modeling_sdar.py, Qwen3 layers, block-causal with
//                 the config's block_size.
//   fast_dllm_v2  model_type "Fast_dLLM_Qwen": Fast-dLLM v2 (NVlabs/Fast-dLLM v2/, the checkpoint's
//                 modeling.py), Qwen2.5 layers (q/k/v biases), block-causal with the config's bd_size;
//                 its generation reads the prediction for block row i at row i - 1 (shift_logits).
// Qwen3 layers: per-head RMSNorm of q and k before RoPE (q_norm / k_norm), head_dim from the
// config (may differ from hidden / heads), biases on q/k/v/o iff attention_bias. Tied embeddings
// (tie_word_embeddings) use embed_tokens as the LM head. Network output is always UNSHIFTED.
// The mask id is config.json's mask_token_id, or the id of the added token <|mask|> (dllm),
// <|MASK|> (SDAR) or |<MASK>| in tokenizer_config.json's added_tokens_decoder.
#pragma once

#include <algorithm>
#include <filesystem>
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

enum class qwen_family { a2d_qwen3, sdar, fast_dllm_v2 };

// The family a config.json names (model_type), or config_error naming the value.
inline qwen_family qwen_family_of(const io::json_config& c) {
    const auto mt = c.get<std::string>("model_type");
    if (mt == "a2d-qwen3") return qwen_family::a2d_qwen3;
    if (mt == "sdar") return qwen_family::sdar;
    if (mt == "Fast_dLLM_Qwen") return qwen_family::fast_dllm_v2;
    ddiff::detail::fail<config_error>(c.source(), ": key \"model_type\" = \"", mt,
                                      "\", expected \"a2d-qwen3\", \"sdar\" or \"Fast_dLLM_Qwen\"");
}

inline const char* model_type_name(qwen_family f) noexcept {
    switch (f) {
    case qwen_family::a2d_qwen3: return "a2d-qwen3";
    case qwen_family::sdar: return "sdar";
    case qwen_family::fast_dllm_v2: return "Fast_dLLM_Qwen";
    }
    return "?";
}

struct qwen_config {
    // The RoPE table is built for min(max_position_embeddings, this) positions (as Dream's).
    static constexpr std::size_t default_max_positions = 4096;

    qwen_family family = qwen_family::a2d_qwen3;
    std::size_t hidden_size = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0, n_layers = 0, intermediate_size = 0;
    std::size_t vocab_size = 0, max_position_embeddings = 0, max_positions = 0;
    double rope_theta = 10000.0, rms_norm_eps = 1e-6;
    bool qk_norm = false, qkv_bias = false, o_bias = false, tie_word_embeddings = false;
    std::size_t block_length = 0;  // trained block size: SDAR block_size, Fast-dLLM v2 bd_size; 0: none in config
    token_id mask_id = -1, pad_id = -1, bos_id = -1;
    std::vector<token_id> eos_ids;

    // Every key the forward pass depends on is read and checked; unsupported values (another
    // activation, RoPE scaling, sliding-window attention) and block settings the family does not
    // have are config_errors naming the key. tokenizer_config: the checkpoint's
    // tokenizer_config.json, consulted for the mask id when config.json has no mask_token_id.
    static qwen_config from_json(const io::json_config& c, const io::json_config* tokenizer_config = nullptr) {
        qwen_config k;
        k.family = qwen_family_of(c);
        const bool qwen3 = k.family != qwen_family::fast_dllm_v2;
        auto unsupported = [&](const char* key, const std::string& found, const char* want) {
            ddiff::detail::fail<config_error>(c.source(), ": key \"", key, "\" = ", found, ", expected ", want, " (",
                                              model_type_name(k.family), ")");
        };
        if (c.has_value("hidden_act") && c.get<std::string>("hidden_act") != "silu")
            unsupported("hidden_act", "\"" + c.get<std::string>("hidden_act") + "\"", "\"silu\"");
        if (c.has_value("use_sliding_window") && c.get<bool>("use_sliding_window"))
            unsupported("use_sliding_window", "true", "false");
        if (c.has_value("layer_types"))
            for (const auto& t : c.get<std::vector<std::string>>("layer_types"))
                if (t != "full_attention") unsupported("layer_types", "[... \"" + t + "\" ...]", "\"full_attention\" only");
        if (c.has_value("rope_scaling")) {
            const auto rs = c.section("rope_scaling");
            const std::string type =
                rs.has_value("rope_type") ? rs.get<std::string>("rope_type") : rs.get<std::string>("type", "");
            if (type != "default") unsupported("rope_scaling", c.json()["rope_scaling"].dump(), "null");
        }
        k.hidden_size = c.get_in<std::size_t>("hidden_size", 1, 1 << 20);
        k.n_heads = c.get_in<std::size_t>("num_attention_heads", 1, k.hidden_size);
        k.n_kv_heads = c.get_in<std::size_t>("num_key_value_heads", 1, k.n_heads, k.n_heads);
        if (k.n_heads % k.n_kv_heads != 0)
            ddiff::detail::fail<config_error>(c.source(), ": num_key_value_heads = ", k.n_kv_heads,
                                              ", expected a divisor of num_attention_heads = ", k.n_heads);
        if (qwen3) {
            // Qwen3Attention: head_dim = config.head_dim or hidden_size // num_attention_heads.
            k.head_dim = c.get_in<std::size_t>("head_dim", 2, 1 << 14, k.hidden_size / k.n_heads);
        } else {
            k.head_dim = k.hidden_size / k.n_heads;
            if (k.hidden_size % k.n_heads != 0 || (c.has_value("head_dim") && c.get<std::size_t>("head_dim") != k.head_dim))
                ddiff::detail::fail<config_error>(c.source(), ": hidden_size = ", k.hidden_size,
                                                  " over num_attention_heads = ", k.n_heads,
                                                  ", expected head_dim = hidden_size / num_attention_heads (Qwen2)");
        }
        if (k.head_dim % 2 != 0)
            ddiff::detail::fail<config_error>(c.source(), ": head_dim = ", k.head_dim, ", expected an even number (RoPE)");
        k.n_layers = c.get_in<std::size_t>("num_hidden_layers", 1, 1 << 12);
        k.intermediate_size = c.get_in<std::size_t>("intermediate_size", 1, 1 << 24);
        k.vocab_size = c.get_in<std::size_t>("vocab_size", 2, std::size_t{1} << 31);
        k.max_position_embeddings = c.get_in<std::size_t>("max_position_embeddings", 1, std::size_t{1} << 24, 32768);
        k.max_positions = std::min(k.max_position_embeddings, default_max_positions);
        k.rope_theta = c.get_in<double>("rope_theta", 1.0 + 1e-9, 1e12, 10000.0);
        k.rms_norm_eps = c.get_in<double>("rms_norm_eps", 1e-30, 1.0, 1e-6);
        k.tie_word_embeddings = c.get<bool>("tie_word_embeddings", false);
        k.qk_norm = qwen3;
        const bool attention_bias = c.get<bool>("attention_bias", false);
        k.qkv_bias = qwen3 ? attention_bias : true;  // Fast_dLLM_QwenAttention: q/k/v bias=True, o_proj none
        k.o_bias = qwen3 ? attention_bias : false;
        if (!qwen3 && c.has_value("attention_bias"))
            unsupported("attention_bias", c.json()["attention_bias"].dump(), "no such key (Qwen2 has q/k/v biases)");
        read_block(c, k);
        const auto last = token_id(k.vocab_size - 1);
        k.pad_id = c.get_in<token_id>("pad_token_id", -1, last, -1);
        k.bos_id = c.get_in<token_id>("bos_token_id", -1, last, -1);
        if (c.has_value("eos_token_id")) {
            if (c.json()["eos_token_id"].is_array()) {
                k.eos_ids = c.get<std::vector<token_id>>("eos_token_id");
            } else {
                k.eos_ids = {c.get<token_id>("eos_token_id")};
            }
            for (auto e : k.eos_ids)
                if (e < 0 || e > last)
                    ddiff::detail::fail<config_error>(c.source(), ": key \"eos_token_id\" holds ", e, ", expected ids in [0, ",
                                                      last, "]");
        }
        k.mask_id = read_mask_id(c, tokenizer_config, last);
        return k;
    }

private:
    // SDAR: block_size (required); Fast-dLLM v2: bd_size (required); a2d-qwen3: none (the block
    // size is the BD3LM sampler's). Any other block key is a setting ddiff does not know.
    static void read_block(const io::json_config& c, qwen_config& k) {
        const char* own = k.family == qwen_family::sdar ? "block_size"
                          : k.family == qwen_family::fast_dllm_v2 ? "bd_size"
                                                                  : nullptr;
        for (const char* key : {"block_size", "bd_size", "block_length", "small_block_size"})
            if (c.contains(key) && (!own || std::string(key) != own))
                ddiff::detail::fail<config_error>(
                    c.source(), ": key \"", key, "\" is not a block setting of ", model_type_name(k.family),
                    own ? (std::string(" checkpoints, expected \"") + own + "\" only").c_str()
                        : " checkpoints, expected none (the block size of dllm's BD3LM sampler is a decoding option)");
        if (own) k.block_length = c.get_in<std::size_t>(own, 1, k.max_position_embeddings);
    }

    static token_id read_mask_id(const io::json_config& c, const io::json_config* tok, token_id last) {
        if (c.has_value("mask_token_id")) return c.get_in<token_id>("mask_token_id", 0, last);
        if (tok && tok->has_value("added_tokens_decoder")) {
            const auto added = tok->section("added_tokens_decoder");
            for (const auto& id : added.keys()) {
                const auto entry = added.section(id);
                const auto content = entry.get<std::string>("content", "");
                if (content == "<|mask|>" || content == "<|MASK|>" || content == "|<MASK>|") {
                    token_id v = -1;
                    try {
                        std::size_t used = 0;
                        v = token_id(std::stol(id, &used));
                        if (used != id.size()) v = -1;
                    } catch (const std::exception&) {
                        v = -1;
                    }
                    if (v < 0 || v > last)
                        ddiff::detail::fail<config_error>(tok->source(), ": added token \"", content, "\" has id \"", id,
                                                          "\", expected an integer in [0, ", last, "]");
                    return v;
                }
            }
        }
        ddiff::detail::fail<config_error>(c.source(), ": no mask token: expected key \"mask_token_id\", or an added "
                                          "token <|mask|> / <|MASK|> / |<MASK>| in tokenizer_config.json");
    }
};

struct a2d_qwen3_family {
    static constexpr qwen_family family = qwen_family::a2d_qwen3;
    static constexpr bool shift_logits = false;  // dllm samplers: right_shift_logits False by default
};
struct sdar_family {
    static constexpr qwen_family family = qwen_family::sdar;
    static constexpr bool shift_logits = false;  // modeling_sdar.py: labels at the same positions
};
struct fast_dllm_v2_family {
    static constexpr qwen_family family = qwen_family::fast_dllm_v2;
    static constexpr bool shift_logits = true;  // generate: logits = cat(logits[:, :1], logits[:, :-1])
};

template <class Family, class Arch = simd::default_arch>
class qwen_diffusion {
public:
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    using cache_type = kv_cache;
    static constexpr noise_kind noise = noise_kind::absorbing;
    static constexpr bool time_conditioned = false;
    static constexpr bool shift_logits = Family::shift_logits;
    static constexpr qwen_family family = Family::family;

    // dir: config.json + model.safetensors (or a sharded index) [+ tokenizer_config.json].
    static qwen_diffusion load(const std::filesystem::path& dir, const load_options& o = {}) {
        const auto c = io::json_config::load(dir / "config.json");
        std::optional<io::json_config> tok;
        if (std::filesystem::exists(dir / "tokenizer_config.json"))
            tok = io::json_config::load(dir / "tokenizer_config.json");
        const auto cfg = qwen_config::from_json(c, tok ? &*tok : nullptr);
        if (cfg.family != Family::family)
            ddiff::detail::fail<config_error>(c.source(), ": key \"model_type\" = \"", model_type_name(cfg.family),
                                              "\", expected \"", model_type_name(Family::family), "\"");
        const auto ck = io::checkpoint::open(dir);
        return qwen_diffusion(cfg, ck, o);
    }

    qwen_diffusion(const qwen_config& cfg, const io::checkpoint& ck, const load_options& o)
        : cfg_(cfg), net_(o.threads), block_length_(cfg.block_length) {
        load_hf_decoder(net_,
                        hf_decoder_shape{.layers = cfg.n_layers, .hidden = cfg.hidden_size, .heads = cfg.n_heads,
                                         .kv_heads = cfg.n_kv_heads, .head_dim = cfg.head_dim,
                                         .intermediate = cfg.intermediate_size, .vocab = cfg.vocab_size,
                                         .max_positions = cfg.max_positions, .rope_theta = cfg.rope_theta,
                                         .rms_norm_eps = cfg.rms_norm_eps, .qkv_bias = cfg.qkv_bias,
                                         .o_bias = cfg.o_bias, .qk_norm = cfg.qk_norm,
                                         .tie_word_embeddings = cfg.tie_word_embeddings},
                        ck, o);
    }

    const qwen_config& config() const noexcept { return cfg_; }
    std::size_t vocab_size() const noexcept { return cfg_.vocab_size; }
    token_id mask_id() const noexcept { return cfg_.mask_id; }
    std::size_t threads() const noexcept { return net_.threads(); }
    thread_pool& pool() noexcept { return net_.pool(); }  // the decoder runs its per-position work here

    // The block length of the model's attention in forward() / denoise() without a layout:
    // the config's (SDAR block_size, Fast-dLLM v2 bd_size) unless changed; 0 = bidirectional
    // (a2d-qwen3 by default: MDLM; its BD3LM checkpoint wants the sampler's block size, 32).
    std::size_t block_length() const noexcept { return block_length_; }
    void set_block_length(std::size_t L) { block_length_ = L; }
    attention_layout default_layout() const noexcept { return attention_layout{nullptr, nullptr, block_length_}; }

    // Unshifted logits of one sequence, out (T, vocab), attended as `layout` says.
    void forward(std::span<const token_id> ids, float* out) { forward(ids, default_layout(), out); }
    void forward(std::span<const token_id> ids, const attention_layout& layout, float* out) {
        check(ids.size(), layout);
        net_.forward(ids, layout, out);
    }
    // Logits of the given rows only (pre_norm_lm::forward_rows), out (rows, vocab).
    void forward_rows(std::span<const token_id> ids, const attention_layout& layout, std::span<const std::size_t> rows,
                      float* out) {
        check(ids.size(), layout);
        net_.forward_rows(ids, layout, rows, out);
    }
    // Fast-dLLM's approximate caches (pre_norm_lm::forward_cached / forward_cached_rows).
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count,
                        const attention_layout& layout, kv_cache& cache, float* out) {
        check(ids.size(), layout);
        net_.forward_cached(ids, first, count, layout, cache, out);
    }
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count,
                        const attention_layout& layout, kv_cache& cache, std::span<const std::size_t> rows,
                        float* out) {
        check(ids.size(), layout);
        net_.forward_cached_rows(ids, first, count, layout, cache, rows, out);
    }
    // The exact block cache (pre_norm_lm::forward_block): all rows of the range, or exactly the
    // given rows (none: a store call without logits).
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count,
                       const attention_layout& layout, kv_cache& cache, bool commit, float* out) {
        check(ids.size(), layout);
        net_.forward_block(ids, first, count, layout, cache, commit, out);
    }
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count,
                       const attention_layout& layout, kv_cache& cache, bool commit,
                       std::span<const std::size_t> rows, float* out) {
        check(ids.size(), layout);
        net_.forward_block(ids, first, count, layout, cache, commit, rows, out);
    }

    // Denoiser concept: x (batch, len), alpha ignored, out (batch, len, vocab) unshifted logits
    // with default_layout().
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) {
        denoise_rows("qwen_diffusion::denoise", x, alpha, vocab_size(), out,
                     [&](std::span<const token_id> ids, float* row) { forward(ids, row); });
    }

private:
    void check(std::size_t T, const attention_layout& layout) const {
        if (!layout.positions && T > cfg_.max_positions)
            ddiff::detail::fail<invalid_argument>(model_type_name(Family::family), ": sequence of ", T,
                                                  " tokens, expected at most max_positions = ", cfg_.max_positions);
    }

    qwen_config cfg_;
    pre_norm_lm<Arch> net_;
    std::size_t block_length_ = 0;
};

template <class Arch = simd::default_arch>
using a2d_qwen3 = qwen_diffusion<a2d_qwen3_family, Arch>;
template <class Arch = simd::default_arch>
using sdar = qwen_diffusion<sdar_family, Arch>;
template <class Arch = simd::default_arch>
using fast_dllm_v2 = qwen_diffusion<fast_dllm_v2_family, Arch>;

}  // namespace ddiff::model
