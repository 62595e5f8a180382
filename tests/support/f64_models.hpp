// The weights of a Hugging Face LLaDA or Dream checkpoint (tests/data) as the float64 network of
// error_bound.hpp, read by their Hugging Face names (modeling_llada.py / modeling_dream.py), with
// no perturbation; the tests add the |dW| of the path they check.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ddiff/io/checkpoint.hpp"
#include "ddiff/model/dream.hpp"
#include "ddiff/model/llada.hpp"
#include "error_bound.hpp"

namespace ddiff::test {

inline std::vector<double> f64_tensor(const io::checkpoint& ck, const std::string& name) {
    const auto v = ck.tensor(name).to_f32();
    return std::vector<double>(v.begin(), v.end());
}

inline f64_matrix f64_weights(const io::checkpoint& ck, const std::string& name, std::size_t rows, std::size_t cols) {
    f64_matrix m;
    m.rows = rows, m.cols = cols, m.w = f64_tensor(ck, name);
    REQUIRE(m.w.size() == rows * cols);
    return m;
}

inline f64_model llada_f64(const model::llada_config& c, const io::checkpoint& ck) {
    const std::size_t D = c.d_model, hd = c.head_dim();
    f64_model m;
    m.d = D, m.heads = c.n_heads, m.kv_heads = c.n_kv_heads, m.head_dim = hd, m.ffn = c.mlp_hidden;
    m.vocab = c.embedding_size, m.norm_eps = c.rms_norm_eps, m.rope_theta = c.rope_theta;
    const std::string p = "model.transformer.";
    m.embedding = f64_weights(ck, p + "wte.weight", c.embedding_size, D);
    for (std::size_t i = 0; i < c.n_layers; ++i) {
        const std::string b = p + "blocks." + std::to_string(i) + ".";
        f64_layer L;
        L.attn_norm = f64_tensor(ck, b + "attn_norm.weight");
        L.ffn_norm = f64_tensor(ck, b + "ff_norm.weight");
        L.q = f64_weights(ck, b + "q_proj.weight", c.n_heads * hd, D);
        L.k = f64_weights(ck, b + "k_proj.weight", c.n_kv_heads * hd, D);
        L.v = f64_weights(ck, b + "v_proj.weight", c.n_kv_heads * hd, D);
        L.o = f64_weights(ck, b + "attn_out.weight", D, c.n_heads * hd);
        L.gate = f64_weights(ck, b + "ff_proj.weight", c.mlp_hidden, D);
        L.up = f64_weights(ck, b + "up_proj.weight", c.mlp_hidden, D);
        L.down = f64_weights(ck, b + "ff_out.weight", D, c.mlp_hidden);
        m.layers.push_back(std::move(L));
    }
    m.out_norm = f64_tensor(ck, p + "ln_f.weight");
    m.head = c.weight_tying ? m.embedding : f64_weights(ck, p + "ff_out.weight", c.embedding_size, D);
    return m;
}

inline f64_model dream_f64(const model::dream_config& c, const io::checkpoint& ck) {
    const std::size_t D = c.hidden_size, hd = c.head_dim();
    f64_model m;
    m.d = D, m.heads = c.n_heads, m.kv_heads = c.n_kv_heads, m.head_dim = hd, m.ffn = c.intermediate_size;
    m.vocab = c.vocab_size, m.norm_eps = c.rms_norm_eps, m.rope_theta = c.rope_theta;
    m.embedding = f64_weights(ck, "model.embed_tokens.weight", c.vocab_size, D);
    for (std::size_t i = 0; i < c.n_layers; ++i) {
        const std::string b = "model.layers." + std::to_string(i) + ".";
        f64_layer L;
        L.attn_norm = f64_tensor(ck, b + "input_layernorm.weight");
        L.ffn_norm = f64_tensor(ck, b + "post_attention_layernorm.weight");
        L.q = f64_weights(ck, b + "self_attn.q_proj.weight", c.n_heads * hd, D);
        L.k = f64_weights(ck, b + "self_attn.k_proj.weight", c.n_kv_heads * hd, D);
        L.v = f64_weights(ck, b + "self_attn.v_proj.weight", c.n_kv_heads * hd, D);
        L.q_bias = f64_tensor(ck, b + "self_attn.q_proj.bias");
        L.k_bias = f64_tensor(ck, b + "self_attn.k_proj.bias");
        L.v_bias = f64_tensor(ck, b + "self_attn.v_proj.bias");
        L.o = f64_weights(ck, b + "self_attn.o_proj.weight", D, c.n_heads * hd);
        L.gate = f64_weights(ck, b + "mlp.gate_proj.weight", c.intermediate_size, D);
        L.up = f64_weights(ck, b + "mlp.up_proj.weight", c.intermediate_size, D);
        L.down = f64_weights(ck, b + "mlp.down_proj.weight", D, c.intermediate_size);
        m.layers.push_back(std::move(L));
    }
    m.out_norm = f64_tensor(ck, "model.norm.weight");
    m.head = c.tie_word_embeddings ? m.embedding : f64_weights(ck, "lm_head.weight", c.vocab_size, D);
    return m;
}

}  // namespace ddiff::test
