// LLaDA and Dream from GGUF files as llama.cpp's converter writes them (architectures "llada"
// and "dream"; convert_hf_to_gguf.py LLaDAModel / DreamModel, gguf-py tensor_mapping.py), and a
// summary of any GGUF file for `ddiff inspect`.
//
// What the converter does that a loader must undo or check:
//   - names: token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
//     ffn_gate, ffn_up, ffn_down}, output_norm, output (absent when tied: token_embd is used);
//     Dream adds blk.N.attn_{q,k,v}.bias. LLaDA's ff_proj is ffn_gate, up_proj ffn_up, ff_out
//     ffn_down.
//   - LLaDA's q and k rows are permuted to ggml's interleaved RoPE order (LLaDAModel.permute with
//     undo_permute = True); Dream's are not (Qwen2 uses NEOX = rotate-half RoPE). The loader
//     permutes LLaDA's rows back, so both run ddiff's rotate-half attention.
//   - hyperparameters under the architecture's prefix: context_length, embedding_length,
//     feed_forward_length, block_count, attention.head_count(_kv), rope.freq_base,
//     attention.layer_norm_rms_epsilon; the mask id in tokenizer.ggml.mask_token_id.
//   - the logit shift: diffusion.shift_logits (LLaDA writes false; absent means shifted, as
//     llama.cpp's diffusion CLI reads it). LLaDA with true, or Dream with false, is a config_error.
// Every dimension is checked against the tensors' shapes (shape_error naming the tensor).
// Weights: F32 and BF16 are packed as stored (BF16 by load_options::compute), F16 widened exactly;
// the quantized types (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) stay quantized: repacked into the integer
// GEMM's panels (simd/quant/qgemm.hpp), never expanded to f32; the token embedding table stays in
// its stored type too (nn::embedding::from_stored decodes the rows it gathers).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/io/gguf.hpp"
#include "ddiff/model/dream.hpp"
#include "ddiff/model/llada.hpp"
#include "ddiff/nn/linear.hpp"

namespace ddiff::model {

// What `ddiff inspect FILE.gguf` prints.
struct gguf_summary {
    std::string architecture, name;
    std::uint32_t version = 0;
    std::size_t tensors = 0, file_bytes = 0;
    std::map<std::string, std::size_t> tensor_types;     // type name -> tensor count
    std::map<std::string, std::string> hyperparameters;  // "<arch>.*" and diffusion.* keys, as text
    std::string tokenizer_model;                          // tokenizer.ggml.model ("gpt2", "llama"), or empty
    std::size_t vocab_tokens = 0;
};

inline gguf_summary inspect_gguf(const io::gguf_file& f) {
    gguf_summary s;
    s.architecture = f.get<std::string>("general.architecture", "");
    s.name = f.get<std::string>("general.name", "");
    s.version = f.version();
    s.tensors = f.size();
    s.file_bytes = f.file_size();
    for (const auto& t : f.tensors()) ++s.tensor_types[std::string(t.type_name())];
    for (const auto& kv : f.metadata()) {
        const bool hp = (!s.architecture.empty() && kv.key.starts_with(s.architecture + ".")) ||
                        kv.key.starts_with("diffusion.");
        if (!hp || kv.value.type == io::gguf_value_type::array) continue;
        std::string v;
        switch (kv.value.type) {
            case io::gguf_value_type::string: v = std::string(kv.value.text); break;
            case io::gguf_value_type::boolean: v = kv.value.scalar ? "true" : "false"; break;
            case io::gguf_value_type::f32: case io::gguf_value_type::f64: v = std::to_string(f.get<double>(kv.key)); break;
            case io::gguf_value_type::i8: case io::gguf_value_type::i16: case io::gguf_value_type::i32:
            case io::gguf_value_type::i64: v = std::to_string(f.get<std::int64_t>(kv.key)); break;
            default: v = std::to_string(f.get<std::uint64_t>(kv.key)); break;
        }
        s.hyperparameters[std::string(kv.key)] = v;
    }
    s.tokenizer_model = f.get<std::string>("tokenizer.ggml.model", "");
    if (const auto* v = f.find("tokenizer.ggml.tokens"); v && v->type == io::gguf_value_type::array) s.vocab_tokens = v->count;
    return s;
}

namespace detail {

inline void expect_architecture(const io::gguf_file& f, const char* want) {
    const auto arch = f.get<std::string>("general.architecture");
    if (arch != want)
        ddiff::detail::fail<config_error>(f.source(), ": general.architecture = '", arch, "', expected '", want,
                                          "' (ddiff reads GGUF architectures llada and dream)");
}

inline std::size_t gguf_dim(const io::gguf_file& f, const std::string& key, std::size_t lo, std::size_t hi) {
    const auto v = f.get<std::uint64_t>(key);
    if (v < lo || v > hi)
        ddiff::detail::fail<config_error>(f.source(), ": ", key, " = ", v, ", expected a value in [", lo, ", ", hi, "]");
    return static_cast<std::size_t>(v);
}

inline void expect_shift(const io::gguf_file& f, bool want) {
    // llama.cpp's diffusion CLI: diffusion.shift_logits, absent = shifted.
    const bool shift = f.get<bool>("diffusion.shift_logits", true);
    if (shift != want)
        ddiff::detail::fail<config_error>(f.source(), ": diffusion.shift_logits = ", shift ? "true" : "false",
                                          (f.contains("diffusion.shift_logits") ? "" : " (absent)"), ", but architecture '",
                                          f.get<std::string>("general.architecture"), "' ", want ? "shifts" : "does not shift",
                                          " its logits");
}

// A [rows, cols] weight matrix of a GGUF file, read by row (r -> the file's row map(r)).
class gguf_matrix {
public:
    static gguf_matrix read(const io::gguf_file& f, const std::string& name, std::size_t rows, std::size_t cols) {
        auto t = f.tensor(name);
        t.expect_shape({rows, cols});
        t.expect_supported();
        return gguf_matrix(f, t, rows, cols);
    }
    bool quantized() const noexcept { return simd::quant::is_quantized(t_.type()); }
    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    // Rows come from the file in the order perm(r) (LLaDA's q / k: interleaved -> rotate-half).
    template <class Perm>
    gguf_matrix& permute_rows(Perm p) {
        perm_.resize(rows_);
        for (std::size_t r = 0; r < rows_; ++r) perm_[r] = p(r);
        return *this;
    }
    std::vector<float> to_f32() const {
        const auto all = t_.to_f32();
        if (perm_.empty()) return all;
        std::vector<float> out(all.size());
        for (std::size_t r = 0; r < rows_; ++r)
            std::copy_n(all.begin() + perm_[r] * cols_, cols_, out.begin() + r * cols_);
        return out;
    }

    // The rows of each part in turn as one linear layer (q, k, v -> qkv), packed from the file:
    // all F32 in place, all BF16 as bf16 (o.compute decides the path), F16 or a float mix widened to
    // f32; quantized parts stay quantized (one packed matrix when every part has the same type,
    // else one per part side by side: a Q4_K_M file mixes Q4_K and Q6_K projections), or with
    // compute_type::exact are dequantised to f32 panels.
    template <class Arch>
    static nn::linear<Arch> fuse(std::initializer_list<const gguf_matrix*> parts, const load_options& o,
                                 const float* bias = nullptr) {
        std::vector<const gguf_matrix*> ps(parts);
        bool any_q = false, same_q = true;
        for (const auto* p : ps) {
            any_q = any_q || p->quantized();
            same_q = same_q && p->quantized() && p->t_.type() == ps.front()->t_.type();
        }
        nn::linear<Arch> out;
        if (!any_q || o.compute == compute_type::exact) {  // exact: quantized parts dequantised to f32 panels
            out = dense<Arch>(ps, o, bias);
        } else if (same_q) {
            out = quantized<Arch>(ps, bias);
        } else {
            std::vector<nn::linear<Arch>> each;
            for (const auto* p : ps) each.push_back(p->quantized() ? quantized<Arch>({p}, nullptr) : dense<Arch>({p}, o, nullptr));
            out = nn::linear<Arch>::concat(std::move(each), bias);
        }
        for (const auto* p : ps) p->f_->release(p->t_);
        return out;
    }

    template <class Arch>
    nn::linear<Arch> to_linear(const load_options& o, const float* bias = nullptr) const {
        return fuse<Arch>({this}, o, bias);
    }

private:
    std::size_t file_row(std::size_t r) const noexcept { return perm_.empty() ? r : perm_[r]; }

    template <class Arch>
    static nn::linear<Arch> quantized(const std::vector<const gguf_matrix*>& ps, const float* bias) {
        const std::size_t cols = ps.front()->cols_;
        std::size_t rows = 0;
        for (const auto* p : ps) rows += p->rows_;
        auto row = [&](std::size_t r) {
            std::size_t i = 0;
            while (r >= ps[i]->rows_) r -= ps[i++]->rows_;
            return ps[i]->t_.bytes().data() + ps[i]->file_row(r) * ps[i]->t_.row_bytes();
        };
        return nn::linear<Arch>::from_quantized(ps.front()->t_.type(), row, rows, cols, bias);
    }

    template <class Arch>
    static nn::linear<Arch> dense(const std::vector<const gguf_matrix*>& ps, const load_options& o, const float* bias) {
        const std::size_t cols = ps.front()->cols_;
        std::size_t rows = 0;
        bool all_f32 = true, all_bf16 = true;
        for (const auto* p : ps) {
            rows += p->rows_;
            all_f32 = all_f32 && p->t_.type() == io::ggml_type::f32;
            all_bf16 = all_bf16 && p->t_.type() == io::ggml_type::bf16;
        }
        auto locate = [&](std::size_t r) {
            std::size_t i = 0;
            while (r >= ps[i]->rows_) r -= ps[i++]->rows_;
            return std::pair{i, ps[i]->file_row(r)};
        };
        if (all_bf16) {
            auto row = [&](std::size_t r) {
                const auto [i, fr] = locate(r);
                return reinterpret_cast<const simd::bf16*>(ps[i]->t_.bytes().data()) + fr * cols;
            };
            return nn::linear<Arch>::from_rows(row, rows, cols, bias, o.bf16());
        }
        std::vector<std::vector<float>> owned;  // f32 in place when aligned, else a converted copy
        owned.reserve(ps.size());
        std::vector<const float*> base;
        for (const auto* p : ps) {
            const auto* d = p->t_.bytes().data();
            if (all_f32 && reinterpret_cast<std::uintptr_t>(d) % alignof(float) == 0) {
                base.push_back(reinterpret_cast<const float*>(d));
            } else {
                owned.push_back(p->t_.to_f32());
                base.push_back(owned.back().data());
            }
        }
        auto row = [&](std::size_t r) {
            const auto [i, fr] = locate(r);
            return base[i] + fr * cols;
        };
        return nn::linear<Arch>::from_rows(row, rows, cols, bias, o.bf16());
    }

    gguf_matrix(const io::gguf_file& f, io::gguf_tensor_ref t, std::size_t rows, std::size_t cols)
        : f_(&f), t_(t), rows_(rows), cols_(cols) {}
    const io::gguf_file* f_;
    io::gguf_tensor_ref t_;
    std::size_t rows_, cols_;
    std::vector<std::size_t> perm_;
};

// The token embedding table as the file stores it (F32 as f32 rows; any other type kept in its
// stored form, rows decoded as they are gathered: the same floats as to_f32).
inline nn::embedding gguf_embedding(const io::gguf_file& f, const std::string& name, std::size_t rows, std::size_t d) {
    const auto t = f.tensor(name);
    t.expect_shape({rows, d});
    t.expect_supported();
    auto e = t.type() == io::ggml_type::f32 ? nn::embedding(t.to_f32(), rows, d)
                                            : nn::embedding::from_stored(t.type(), t.bytes(), rows, d);
    f.release(t);
    return e;
}

inline std::vector<float> gguf_vector(const io::gguf_file& f, const std::string& name, std::size_t n) {
    const auto t = f.tensor(name);
    t.expect_shape({n});
    return t.to_f32();
}

// GGUF row of the rotate-half (Hugging Face) row r of a q or k projection whose rows were
// permuted by convert_hf_to_gguf.py LLaDAModel.permute: within each head of hd rows, HF row
// i * hd/2 + j is GGUF row 2 j + i.
inline std::size_t llada_unpermute(std::size_t r, std::size_t hd) {
    const std::size_t h = r / hd, w = r % hd, half = hd / 2;
    return h * hd + 2 * (w % half) + w / half;
}

}  // namespace detail

// LLaDA's hyperparameters from a GGUF file of architecture "llada".
inline llada_config llada_config_from_gguf(const io::gguf_file& f) {
    detail::expect_architecture(f, "llada");
    detail::expect_shift(f, false);
    llada_config k;
    k.d_model = detail::gguf_dim(f, "llada.embedding_length", 1, 1 << 20);
    k.n_heads = detail::gguf_dim(f, "llada.attention.head_count", 1, k.d_model);
    k.n_kv_heads = f.contains("llada.attention.head_count_kv") ? detail::gguf_dim(f, "llada.attention.head_count_kv", 1, k.n_heads)
                                                               : k.n_heads;
    if (k.d_model % k.n_heads != 0 || k.n_heads % k.n_kv_heads != 0 || k.head_dim() % 2 != 0)
        ddiff::detail::fail<config_error>(f.source(), ": embedding_length ", k.d_model, ", head_count ", k.n_heads,
                                          ", head_count_kv ", k.n_kv_heads,
                                          ": expected an even head_dim and head_count_kv dividing head_count");
    if (f.contains("llada.rope.dimension_count") && detail::gguf_dim(f, "llada.rope.dimension_count", 1, 1 << 20) != k.head_dim())
        ddiff::detail::fail<config_error>(f.source(), ": llada.rope.dimension_count differs from the head dimension ",
                                          k.head_dim(), " (partial RoPE is not LLaDA's)");
    k.n_layers = detail::gguf_dim(f, "llada.block_count", 1, 1 << 12);
    k.mlp_hidden = detail::gguf_dim(f, "llada.feed_forward_length", 1, 1 << 24);
    const auto embd = f.tensor("token_embd.weight").shape();
    if (embd.size() != 2)
        ddiff::detail::fail<shape_error>(f.source(), ": token_embd.weight has rank ", embd.size(), ", expected 2");
    k.embedding_size = embd[0];
    k.vocab_size = f.contains("llada.vocab_size") ? detail::gguf_dim(f, "llada.vocab_size", 1, k.embedding_size)
                                                  : k.embedding_size;
    k.max_sequence_length = detail::gguf_dim(f, "llada.context_length", 1, std::size_t{1} << 24);
    k.rope_theta = f.get<double>("llada.rope.freq_base", 10000.0);
    k.rms_norm_eps = f.get<double>("llada.attention.layer_norm_rms_epsilon", 1e-5);
    k.mask_id = f.get<token_id>("tokenizer.ggml.mask_token_id");
    k.eos_id = f.get<token_id>("tokenizer.ggml.eos_token_id", -1);
    k.pad_id = f.get<token_id>("tokenizer.ggml.padding_token_id", -1);
    if (k.mask_id < 0 || std::size_t(k.mask_id) >= k.embedding_size)
        ddiff::detail::fail<config_error>(f.source(), ": tokenizer.ggml.mask_token_id = ", k.mask_id, ", expected an id below ",
                                          k.embedding_size);
    k.weight_tying = !f.contains_tensor("output.weight");
    return k;
}

inline dream_config dream_config_from_gguf(const io::gguf_file& f) {
    detail::expect_architecture(f, "dream");
    detail::expect_shift(f, true);
    dream_config k;
    k.hidden_size = detail::gguf_dim(f, "dream.embedding_length", 1, 1 << 20);
    k.n_heads = detail::gguf_dim(f, "dream.attention.head_count", 1, k.hidden_size);
    k.n_kv_heads = f.contains("dream.attention.head_count_kv") ? detail::gguf_dim(f, "dream.attention.head_count_kv", 1, k.n_heads)
                                                               : k.n_heads;
    if (k.hidden_size % k.n_heads != 0 || k.n_heads % k.n_kv_heads != 0 || k.head_dim() % 2 != 0)
        ddiff::detail::fail<config_error>(f.source(), ": embedding_length ", k.hidden_size, ", head_count ", k.n_heads,
                                          ", head_count_kv ", k.n_kv_heads,
                                          ": expected an even head_dim and head_count_kv dividing head_count");
    k.n_layers = detail::gguf_dim(f, "dream.block_count", 1, 1 << 12);
    k.intermediate_size = detail::gguf_dim(f, "dream.feed_forward_length", 1, 1 << 24);
    const auto embd = f.tensor("token_embd.weight").shape();
    if (embd.size() != 2)
        ddiff::detail::fail<shape_error>(f.source(), ": token_embd.weight has rank ", embd.size(), ", expected 2");
    k.vocab_size = embd[0];
    k.max_position_embeddings = detail::gguf_dim(f, "dream.context_length", 1, std::size_t{1} << 24);
    k.max_positions = std::min(k.max_position_embeddings, dream_config::default_max_positions);
    k.rope_theta = f.get<double>("dream.rope.freq_base", 10000.0);
    k.rms_norm_eps = f.get<double>("dream.attention.layer_norm_rms_epsilon", 1e-6);
    k.mask_id = f.get<token_id>("tokenizer.ggml.mask_token_id");
    k.eos_id = f.get<token_id>("tokenizer.ggml.eos_token_id", -1);
    k.pad_id = f.get<token_id>("tokenizer.ggml.padding_token_id", -1);
    k.bos_id = f.get<token_id>("tokenizer.ggml.bos_token_id", -1);
    if (k.mask_id < 0 || std::size_t(k.mask_id) >= k.vocab_size)
        ddiff::detail::fail<config_error>(f.source(), ": tokenizer.ggml.mask_token_id = ", k.mask_id, ", expected an id below ",
                                          k.vocab_size);
    k.tie_word_embeddings = !f.contains_tensor("output.weight");
    return k;
}

// The network of a LLaDA GGUF file (the same pre_norm_lm as from safetensors).
template <class Arch>
void build_llada_from_gguf(const llada_config& cfg, const io::gguf_file& f, const load_options& o, pre_norm_lm<Arch>& net) {
    using detail::gguf_matrix;
    const std::size_t D = cfg.d_model, H = cfg.n_heads, G = cfg.n_kv_heads, hd = cfg.head_dim();
    const std::size_t F = cfg.mlp_hidden, Vr = cfg.embedding_size;
    net.embedding = detail::gguf_embedding(f, "token_embd.weight", Vr, D);
    const nn::attention_dims dims{D, H, G, hd};
    const nn::rope_table rope(hd, cfg.max_sequence_length, cfg.rope_theta);
    const auto eps = static_cast<float>(cfg.rms_norm_eps);
    auto unpermute = [hd](std::size_t r) { return detail::llada_unpermute(r, hd); };
    for (std::size_t i = 0; i < cfg.n_layers; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".";
        auto q = gguf_matrix::read(f, b + "attn_q.weight", H * hd, D);
        auto k = gguf_matrix::read(f, b + "attn_k.weight", G * hd, D);
        q.permute_rows(unpermute);
        k.permute_rows(unpermute);
        const auto v = gguf_matrix::read(f, b + "attn_v.weight", G * hd, D);
        const auto gate = gguf_matrix::read(f, b + "ffn_gate.weight", F, D);
        const auto up = gguf_matrix::read(f, b + "ffn_up.weight", F, D);
        net.blocks.emplace_back(
            nn::rms_norm<Arch>(detail::gguf_vector(f, b + "attn_norm.weight", D), eps),
            nn::attention<Arch>(dims, gguf_matrix::fuse<Arch>({&q, &k, &v}, o),
                                gguf_matrix::read(f, b + "attn_output.weight", D, H * hd).template to_linear<Arch>(o), rope),
            nn::rms_norm<Arch>(detail::gguf_vector(f, b + "ffn_norm.weight", D), eps),
            nn::swiglu_mlp<Arch>(gguf_matrix::fuse<Arch>({&gate, &up}, o),
                                 gguf_matrix::read(f, b + "ffn_down.weight", D, F).template to_linear<Arch>(o)));
    }
    const auto head_w = gguf_matrix::read(f, cfg.weight_tying ? "token_embd.weight" : "output.weight", Vr, D);
    net.head = nn::lm_head<nn::rms_norm<Arch>, Arch>(nn::rms_norm<Arch>(detail::gguf_vector(f, "output_norm.weight", D), eps),
                                                     head_w.template to_linear<Arch>(o));
}

template <class Arch>
void build_dream_from_gguf(const dream_config& cfg, const io::gguf_file& f, const load_options& o, pre_norm_lm<Arch>& net) {
    using detail::gguf_matrix;
    const std::size_t D = cfg.hidden_size, H = cfg.n_heads, G = cfg.n_kv_heads, hd = cfg.head_dim();
    const std::size_t F = cfg.intermediate_size, V = cfg.vocab_size;
    net.embedding = detail::gguf_embedding(f, "token_embd.weight", V, D);
    const nn::attention_dims dims{D, H, G, hd};
    const nn::rope_table rope(hd, cfg.max_positions, cfg.rope_theta);
    const auto eps = static_cast<float>(cfg.rms_norm_eps);
    for (std::size_t i = 0; i < cfg.n_layers; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".";
        const auto q = gguf_matrix::read(f, b + "attn_q.weight", H * hd, D);
        const auto k = gguf_matrix::read(f, b + "attn_k.weight", G * hd, D);
        const auto v = gguf_matrix::read(f, b + "attn_v.weight", G * hd, D);
        std::vector<float> qkv_bias = detail::gguf_vector(f, b + "attn_q.bias", H * hd);
        for (const char* name : {"attn_k.bias", "attn_v.bias"}) {
            const auto part = detail::gguf_vector(f, b + name, G * hd);
            qkv_bias.insert(qkv_bias.end(), part.begin(), part.end());
        }
        const auto gate = gguf_matrix::read(f, b + "ffn_gate.weight", F, D);
        const auto up = gguf_matrix::read(f, b + "ffn_up.weight", F, D);
        net.blocks.emplace_back(
            nn::rms_norm<Arch>(detail::gguf_vector(f, b + "attn_norm.weight", D), eps),
            nn::attention<Arch>(dims, gguf_matrix::fuse<Arch>({&q, &k, &v}, o, qkv_bias.data()),
                                gguf_matrix::read(f, b + "attn_output.weight", D, H * hd).template to_linear<Arch>(o), rope),
            nn::rms_norm<Arch>(detail::gguf_vector(f, b + "ffn_norm.weight", D), eps),
            nn::swiglu_mlp<Arch>(gguf_matrix::fuse<Arch>({&gate, &up}, o),
                                 gguf_matrix::read(f, b + "ffn_down.weight", D, F).template to_linear<Arch>(o)));
    }
    const auto head_w = gguf_matrix::read(f, cfg.tie_word_embeddings ? "token_embd.weight" : "output.weight", V, D);
    net.head = nn::lm_head<nn::rms_norm<Arch>, Arch>(nn::rms_norm<Arch>(detail::gguf_vector(f, "output_norm.weight", D), eps),
                                                     head_w.template to_linear<Arch>(o));
}

// The library entry points: a GGUF file of architecture "llada" / "dream" as a denoiser.
template <class Arch = simd::default_arch>
llada<Arch> load_llada_gguf(const std::filesystem::path& file, const load_options& o = {}) {
    const auto f = io::gguf_file::open(file);
    const auto cfg = llada_config_from_gguf(f);
    return llada<Arch>(cfg, o, [&](pre_norm_lm<Arch>& net) { build_llada_from_gguf<Arch>(cfg, f, o, net); });
}
template <class Arch = simd::default_arch>
dream<Arch> load_dream_gguf(const std::filesystem::path& file, const load_options& o = {}) {
    const auto f = io::gguf_file::open(file);
    const auto cfg = dream_config_from_gguf(f);
    return dream<Arch>(cfg, o, [&](pre_norm_lm<Arch>& net) { build_dream_from_gguf<Arch>(cfg, f, o, net); });
}

}  // namespace ddiff::model
