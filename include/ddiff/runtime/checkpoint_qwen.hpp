// The Qwen-family diffusion checkpoints behind the run-time front end (model/qwen.hpp):
// a2d-qwen3 (dllm; bidirectional MDLM unless a block size is set), SDAR and Fast-dLLM v2
// (block-causal with their config's block size). runtime/checkpoint.hpp declares the opener;
// include this header in exactly one translation unit of a program (tools/ddiff/open_qwen.cpp),
// which then holds these models' instantiations.
#pragma once

#include "ddiff/model/qwen.hpp"
#include "ddiff/runtime/checkpoint.hpp"

namespace ddiff::runtime::detail {

bool is_qwen_model_type(const std::string& type) {
    return type == "a2d-qwen3" || type == "sdar" || type == "Fast_dLLM_Qwen";
}

std::unique_ptr<model_impl> open_qwen_checkpoint(const std::filesystem::path& dir, const std::string& type,
                                                 const model_info& info, const model::load_options& o) {
    auto make = [&](auto m) -> std::unique_ptr<model_impl> {
        model_info i = info;
        i.eos_ids = m.config().eos_ids;  // config.json's eos_token_id (a tokenizer's, when present, wins)
        i.max_length = m.config().max_positions;
        return std::make_unique<checkpoint_impl<decltype(m)>>(std::move(m), std::move(i));
    };
    if (type == "a2d-qwen3") return make(model::a2d_qwen3<>::load(dir, o));
    if (type == "sdar") return make(model::sdar<>::load(dir, o));
    if (type == "Fast_dLLM_Qwen") return make(model::fast_dllm_v2<>::load(dir, o));
    ddiff::detail::fail<config_error>((dir / "config.json").string(), ": model_type \"", type,
                                      "\", expected a2d-qwen3, sdar or Fast_dLLM_Qwen");
}

}  // namespace ddiff::runtime::detail
