// The Hugging Face tensor layout of the LLaMA-family decoders that Dream (Qwen2.5) and the Qwen
// diffusion models (Qwen2.5 / Qwen3: a2d-qwen3, SDAR, Fast-dLLM v2) share, loaded into a
// pre_norm_lm: model.embed_tokens.weight; per layer model.layers.N.{input_layernorm,
// self_attn.{q,k,v,o}_proj (weights, and q/k/v / o biases where the architecture has them),
// self_attn.{q,k}_norm (Qwen3), post_attention_layernorm, mlp.{gate,up,down}_proj}; model.norm;
// lm_head.weight, or the embedding when the embeddings are tied (an lm_head.weight in the file is
// then ignored, as by transformers).
#pragma once

#include <string>
#include <vector>

#include "ddiff/io/checkpoint.hpp"
#include "ddiff/model/pre_norm_lm.hpp"
#include "ddiff/model/weights.hpp"

namespace ddiff::model {

struct hf_decoder_shape {
    std::size_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0, vocab = 0, max_positions = 0;
    double rope_theta = 10000.0, rms_norm_eps = 1e-6;
    bool qkv_bias = false;  // q_proj / k_proj / v_proj biases (Qwen2)
    bool o_bias = false;    // o_proj bias (Qwen3 with attention_bias)
    bool qk_norm = false;   // per-head RMSNorm of q and k before RoPE (Qwen3)
    bool tie_word_embeddings = false;
};

template <class Arch>
void load_hf_decoder(pre_norm_lm<Arch>& net, const hf_decoder_shape& s, const io::checkpoint& ck,
                     const load_options& o) {
    const std::size_t D = s.hidden, H = s.heads, G = s.kv_heads, hd = s.head_dim, F = s.intermediate, V = s.vocab;
    const auto embed = matrix::read(ck, "model.embed_tokens.weight", V, D);
    net.embedding = nn::embedding(embed.to_f32(), V, D);
    const nn::attention_dims dims{D, H, G, hd};
    const nn::rope_table rope(hd, s.max_positions, s.rope_theta);
    const auto eps = static_cast<float>(s.rms_norm_eps);
    for (std::size_t i = 0; i < s.layers; ++i) {
        const std::string b = "model.layers." + std::to_string(i) + ".";
        const std::string a = b + "self_attn.";
        const auto q = matrix::read(ck, a + "q_proj.weight", H * hd, D);
        const auto k = matrix::read(ck, a + "k_proj.weight", G * hd, D);
        const auto v = matrix::read(ck, a + "v_proj.weight", G * hd, D);
        // Bias of the fused projection: q heads | k heads | v heads, as the weight rows.
        std::vector<float> qkv_bias, o_bias;
        if (s.qkv_bias) {
            qkv_bias = read_vector(ck, a + "q_proj.bias", H * hd);
            for (const char* name : {"k_proj.bias", "v_proj.bias"}) {
                const auto part = read_vector(ck, a + name, G * hd);
                qkv_bias.insert(qkv_bias.end(), part.begin(), part.end());
            }
        }
        if (s.o_bias) o_bias = read_vector(ck, a + "o_proj.bias", D);
        const auto gate = matrix::read(ck, b + "mlp.gate_proj.weight", F, D);
        const auto up = matrix::read(ck, b + "mlp.up_proj.weight", F, D);
        nn::attention<Arch> attn(
            dims, matrix::fuse<Arch>({&q, &k, &v}, o, s.qkv_bias ? qkv_bias.data() : nullptr),
            matrix::read(ck, a + "o_proj.weight", D, H * hd).template to_linear<Arch>(o, s.o_bias ? o_bias.data() : nullptr),
            rope);
        if (s.qk_norm)
            attn.set_qk_norm(read_vector(ck, a + "q_norm.weight", hd), read_vector(ck, a + "k_norm.weight", hd), eps);
        net.blocks.emplace_back(nn::rms_norm<Arch>(read_vector(ck, b + "input_layernorm.weight", D), eps), std::move(attn),
                                nn::rms_norm<Arch>(read_vector(ck, b + "post_attention_layernorm.weight", D), eps),
                                nn::swiglu_mlp<Arch>(matrix::fuse<Arch>({&gate, &up}, o),
                                                     matrix::read(ck, b + "mlp.down_proj.weight", D, F)
                                                         .template to_linear<Arch>(o)));
    }
    const auto head_w = s.tie_word_embeddings ? embed : matrix::read(ck, "lm_head.weight", V, D);
    net.head = nn::lm_head<nn::rms_norm<Arch>, Arch>(nn::rms_norm<Arch>(read_vector(ck, "model.norm.weight", D), eps),
                                                     head_w.template to_linear<Arch>(o));
}

}  // namespace ddiff::model
