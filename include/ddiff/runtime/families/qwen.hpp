// The Qwen-family diffusion checkpoints (model/qwen.hpp) as checkpoint families of the run-time
// front end: a2d-qwen3 (dllm; bidirectional MDLM unless a block size is set), SDAR and Fast-dLLM
// v2 (block-causal with their config's block size: block diffusion).
#pragma once

#include "ddiff/model/qwen.hpp"
#include "ddiff/runtime/families/checkpoint_impl.hpp"

namespace ddiff::runtime::families {

template <class M>
std::unique_ptr<model_impl> open_qwen(const std::filesystem::path& p, const model_options& o, const model_info& i) {
    auto m = M::load(p, load_options_for(o));
    // dllm's BD3LM checkpoint of a2d-qwen3 is block-causal with the sampler's block size (the
    // config names none); checkpoint.hpp refuses --attention-block for the other families.
    if constexpr (M::family == model::qwen_family::a2d_qwen3)
        if (o.attention_block) m.set_block_length(o.attention_block);
    model_info info = i;
    info.eos_ids = m.config().eos_ids;  // config.json's eos_token_id (a tokenizer's, when present, wins)
    info.max_length = m.config().max_positions;
    info.pad = m.config().pad_id;
    return wrap(std::move(m), info);
}

inline constexpr checkpoint_family qwen[] = {{"safetensors", "a2d-qwen3", &open_qwen<model::a2d_qwen3<>>},
                                             {"safetensors", "sdar", &open_qwen<model::sdar<>>},
                                             {"safetensors", "Fast_dLLM_Qwen", &open_qwen<model::fast_dllm_v2<>>}};

}  // namespace ddiff::runtime::families
