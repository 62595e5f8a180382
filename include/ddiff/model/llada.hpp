// LLaDA (model_type "llada", block_type "llama"; GSAI-ML/LLaDA-8B-Base modeling_llada.py):
// bidirectional LLaMA blocks (RMSNorm, RoPE rotate-half, SwiGLU, no biases), untied head.
// Loads the Hugging Face layout (config.json + model.safetensors or a sharded index) and
// satisfies the denoiser concept, so every decoder composes with it.
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
#include "ddiff/model/pre_norm_lm.hpp"
#include "ddiff/model/weights.hpp"

namespace ddiff::model {

struct llada_config {
    std::size_t d_model = 0, n_heads = 0, n_kv_heads = 0, n_layers = 0, mlp_hidden = 0;
    std::size_t vocab_size = 0, embedding_size = 0, max_sequence_length = 0;
    double rope_theta = 10000.0, rms_norm_eps = 1e-5;
    token_id mask_id = 0, eos_id = -1, pad_id = -1;
    bool weight_tying = false;
    // ddiff's block-diffusion extension of the LLaDA layout (tools/train/train.py --objective
    // bd3lm): config key "block_size" = block-causal attention with blocks of that many rows;
    // absent = LLaDA's bidirectional attention.
    std::size_t block_length = 0;

    std::size_t head_dim() const { return d_model / n_heads; }

    // Every key the forward pass depends on is read and checked; values this implementation
    // does not support (another block type, biases, ALiBi, ...) are config_errors naming the key.
    static llada_config from_json(const io::json_config& c) {
        auto expect = [&](const char* key, const std::string& want) {
            if (!c.has_value(key)) return;
            const auto v = c.get<std::string>(key);
            if (v != want)
                ddiff::detail::fail<config_error>(c.source(), ": key \"", key, "\" = \"", v, "\", expected \"", want,
                                                  "\" (the only value ddiff's LLaDA supports)");
        };
        auto expect_flag = [&](const char* key, bool want) {
            if (c.has_value(key) && c.get<bool>(key) != want)
                ddiff::detail::fail<config_error>(c.source(), ": key \"", key, "\" = ", !want, ", expected ", want,
                                                  " (the only value ddiff's LLaDA supports)");
        };
        expect("model_type", "llada");
        expect("block_type", "llama");
        expect("activation_type", "silu");
        expect("layer_norm_type", "rms");
        expect_flag("include_bias", false);
        expect_flag("include_qkv_bias", false);
        expect_flag("alibi", false);
        expect_flag("rope", true);
        expect_flag("attention_layer_norm", false);
        expect_flag("input_emb_norm", false);
        expect_flag("scale_logits", false);
        llada_config k;
        k.d_model = c.get_in<std::size_t>("d_model", 1, 1 << 20);
        k.n_heads = c.get_in<std::size_t>("n_heads", 1, k.d_model);
        if (k.d_model % k.n_heads != 0)
            ddiff::detail::fail<config_error>(c.source(), ": d_model = ", k.d_model, " is not a multiple of n_heads = ",
                                              k.n_heads, ", expected head_dim = d_model / n_heads");
        k.n_kv_heads = c.get_in<std::size_t>("n_kv_heads", 1, k.n_heads, k.n_heads);
        if (k.n_heads % k.n_kv_heads != 0)
            ddiff::detail::fail<config_error>(c.source(), ": n_kv_heads = ", k.n_kv_heads,
                                              ", expected a divisor of n_heads = ", k.n_heads);
        k.n_layers = c.get_in<std::size_t>("n_layers", 1, 1 << 12);
        const auto ratio = c.get_in<std::size_t>("mlp_ratio", 1, 1 << 10, 4);
        k.mlp_hidden = c.get_in<std::size_t>("mlp_hidden_size", 1, 1 << 24, ratio * k.d_model);
        k.vocab_size = c.get_in<std::size_t>("vocab_size", 1, std::size_t{1} << 31);
        k.embedding_size = c.get_in<std::size_t>("embedding_size", k.vocab_size, std::size_t{1} << 31, k.vocab_size);
        k.max_sequence_length = c.get_in<std::size_t>("max_sequence_length", 1, std::size_t{1} << 24, 4096);
        k.rope_theta = c.get_in<double>("rope_theta", 1.0 + 1e-9, 1e12, 10000.0);
        k.rms_norm_eps = c.get_in<double>("rms_norm_eps", 1e-30, 1.0, 1e-5);
        k.mask_id = c.get_in<token_id>("mask_token_id", 0, token_id(k.embedding_size - 1), 126336);
        k.eos_id = c.get_in<token_id>("eos_token_id", -1, token_id(k.embedding_size - 1), -1);
        k.pad_id = c.get_in<token_id>("pad_token_id", -1, token_id(k.embedding_size - 1), -1);
        k.weight_tying = c.get<bool>("weight_tying", false);
        k.block_length = c.get_in<std::size_t>("block_size", 1, k.max_sequence_length, 0);
        for (const char* key : {"bd_size", "small_block_size", "block_length"})
            if (c.contains(key))
                ddiff::detail::fail<config_error>(c.source(), ": key \"", key,
                                                  "\" is not a block setting of ddiff's LLaDA, expected \"block_size\" only");
        return k;
    }
};

template <class Arch = simd::default_arch>
class llada {
public:
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    using cache_type = kv_cache;  // forward_cached's per-sequence KV cache (decoder: generate_options::cache)
    static constexpr noise_kind noise = noise_kind::absorbing;
    static constexpr bool time_conditioned = false;

    // dir: a Hugging Face checkpoint directory (config.json + model.safetensors or
    // model.safetensors.index.json with its shards).
    static llada load(const std::filesystem::path& dir, const load_options& o = {}) {
        const auto cfg = llada_config::from_json(io::json_config::load(dir / "config.json"));
        const auto ck = io::checkpoint::open(dir);
        return llada(cfg, ck, o);
    }

    llada(const llada_config& cfg, const io::checkpoint& ck, const load_options& o)
        : cfg_(cfg), net_(o.threads) {
        const std::size_t D = cfg.d_model, H = cfg.n_heads, G = cfg.n_kv_heads, hd = cfg.head_dim();
        const std::size_t F = cfg.mlp_hidden, Vr = cfg.embedding_size;
        const std::string p = "model.transformer.";
        const auto wte = matrix::read(ck, p + "wte.weight", Vr, D);
        net_.embedding = nn::embedding(wte.to_f32(), Vr, D);
        const nn::attention_dims dims{D, H, G, hd};
        const nn::rope_table rope(hd, cfg.max_sequence_length, cfg.rope_theta);
        const auto eps = static_cast<float>(cfg.rms_norm_eps);
        for (std::size_t i = 0; i < cfg.n_layers; ++i) {
            const std::string b = p + "blocks." + std::to_string(i) + ".";
            const auto q = matrix::read(ck, b + "q_proj.weight", H * hd, D);
            const auto k = matrix::read(ck, b + "k_proj.weight", G * hd, D);
            const auto v = matrix::read(ck, b + "v_proj.weight", G * hd, D);
            const auto gate = matrix::read(ck, b + "ff_proj.weight", F, D);
            const auto up = matrix::read(ck, b + "up_proj.weight", F, D);
            net_.blocks.emplace_back(
                nn::rms_norm<Arch>(read_vector(ck, b + "attn_norm.weight", D), eps),
                nn::attention<Arch>(dims, matrix::fuse<Arch>({&q, &k, &v}, o),
                                    matrix::read(ck, b + "attn_out.weight", D, H * hd).template to_linear<Arch>(o), rope),
                nn::rms_norm<Arch>(read_vector(ck, b + "ff_norm.weight", D), eps),
                nn::swiglu_mlp<Arch>(matrix::fuse<Arch>({&gate, &up}, o),
                                     matrix::read(ck, b + "ff_out.weight", D, F).template to_linear<Arch>(o)));
        }
        const auto head_w = cfg.weight_tying ? wte : matrix::read(ck, p + "ff_out.weight", Vr, D);
        net_.head = nn::lm_head<nn::rms_norm<Arch>, Arch>(nn::rms_norm<Arch>(read_vector(ck, p + "ln_f.weight", D), eps),
                                                      head_w.template to_linear<Arch>(o));
    }

    // A network built by build(pre_norm_lm<Arch>&): how model/gguf.hpp loads a GGUF file.
    template <class Build>
    llada(const llada_config& cfg, const load_options& o, Build&& build) : cfg_(cfg), net_(o.threads) {
        build(net_);
    }

    const llada_config& config() const noexcept { return cfg_; }
    std::size_t vocab_size() const noexcept { return cfg_.embedding_size; }
    token_id mask_id() const noexcept { return cfg_.mask_id; }
    std::size_t threads() const noexcept { return net_.threads(); }
    thread_pool& pool() noexcept { return net_.pool(); }  // the decoder runs its per-position work here

    // Logits of one sequence: ids (T), out (T, vocab). key_valid (T) or nullptr: 0 marks padding
    // keys that no query attends to (the updated HF file's attention_mask behaviour).
    void forward(std::span<const token_id> ids, float* out, const std::uint8_t* key_valid = nullptr) {
        check_length(ids.size());
        net_.forward(ids, layout(key_valid), out);
    }

    // Block length of the attention (config key block_size; 0 = bidirectional, LLaDA's).
    std::size_t block_length() const noexcept { return cfg_.block_length; }

    // The exact block cache of a block-diffusion checkpoint (pre_norm_lm::forward_block; typed
    // error for a bidirectional one): all rows of the range, or exactly the given rows.
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count, kv_cache& cache, bool commit,
                       float* out) {
        check_length(ids.size());
        net_.forward_block(ids, first, count, layout(nullptr), cache, commit, out);
    }
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count, kv_cache& cache, bool commit,
                       std::span<const std::size_t> rows, float* out) {
        check_length(ids.size());
        net_.forward_block(ids, first, count, layout(nullptr), cache, commit, rows, out);
    }

    // Logits of the rows [first, first + count) only, out (count, vocab), the other rows' keys
    // and values taken from the cache (Fast-dLLM's prefix cache: rows from the block start to
    // the end; dual cache: the block only). A full pass (first 0, count T) fills the cache and
    // equals forward() bit for bit; see pre_norm_lm::forward_cached.
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, kv_cache& cache,
                        float* out, const std::uint8_t* key_valid = nullptr) {
        check_length(ids.size());
        net_.forward_cached(ids, first, count, layout(key_valid), cache, out);
    }

    // Logits of the given rows only (sequence indices, strictly increasing), out (rows, vocab):
    // the last layer's MLP and the LM head run at those rows only; equal to those rows of
    // forward() bit for bit (pre_norm_lm::forward_rows).
    void forward_rows(std::span<const token_id> ids, std::span<const std::size_t> rows, float* out,
                      const std::uint8_t* key_valid = nullptr) {
        check_length(ids.size());
        net_.forward_rows(ids, layout(key_valid), rows, out);
    }
    // forward_cached() with logits at the given rows of [first, first + count) only.
    void forward_cached_rows(std::span<const token_id> ids, std::size_t first, std::size_t count, kv_cache& cache,
                             std::span<const std::size_t> rows, float* out, const std::uint8_t* key_valid = nullptr) {
        check_length(ids.size());
        net_.forward_cached_rows(ids, first, count, layout(key_valid), cache, rows, out);
    }

    // Denoiser concept: x (batch, len), alpha ignored (LLaDA is not time-conditioned),
    // out (batch, len, vocab).
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) {
        denoise_rows("llada::denoise", x, alpha, vocab_size(), out,
                     [&](std::span<const token_id> ids, float* row) { forward(ids, row); });
    }

private:
    attention_layout layout(const std::uint8_t* key_valid) const noexcept {
        return attention_layout{nullptr, key_valid, cfg_.block_length};
    }
    void check_length(std::size_t T) const {
        if (T > cfg_.max_sequence_length)
            ddiff::detail::fail<invalid_argument>("llada: sequence of ", T, " tokens, expected at most "
                                                  "max_sequence_length = ", cfg_.max_sequence_length);
    }

    llada_config cfg_;
    pre_norm_lm<Arch> net_;
};

}  // namespace ddiff::model
