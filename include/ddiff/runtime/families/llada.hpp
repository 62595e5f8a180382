// LLaDA (GSAI-ML/LLaDA-8B-*: a Hugging Face directory with model_type "llada", or llama.cpp's
// "llada" GGUF architecture) as checkpoint families of the run-time front end.
#pragma once

#include "ddiff/model/gguf.hpp"
#include "ddiff/model/llada.hpp"
#include "ddiff/runtime/families/checkpoint_impl.hpp"

namespace ddiff::runtime::families {

inline std::unique_ptr<model_impl> open_llada(const std::filesystem::path& p, const model_options& o,
                                              const model_info& i) {
    return wrap(model::llada<>::load(p, load_options_for(o)), i);
}

inline std::unique_ptr<model_impl> open_llada_gguf(const std::filesystem::path& p, const model_options& o,
                                                   const model_info& i) {
    return wrap(model::load_llada_gguf<>(p, load_options_for(o)), i);
}

inline constexpr checkpoint_family llada[] = {{"safetensors", "llada", &open_llada},
                                              {"gguf", "llada", &open_llada_gguf}};

}  // namespace ddiff::runtime::families
