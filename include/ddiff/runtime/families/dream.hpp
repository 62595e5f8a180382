// Dream (Dream-org/Dream-v0-*: a Hugging Face directory with model_type "Dream", or llama.cpp's
// "dream" GGUF architecture) as checkpoint families of the run-time front end.
#pragma once

#include "ddiff/model/dream.hpp"
#include "ddiff/model/gguf.hpp"
#include "ddiff/runtime/families/checkpoint_impl.hpp"

namespace ddiff::runtime::families {

inline std::unique_ptr<model_impl> open_dream(const std::filesystem::path& p, const model_options& o,
                                              const model_info& i) {
    return wrap(model::dream<>::load(p, load_options_for(o)), i);
}

inline std::unique_ptr<model_impl> open_dream_gguf(const std::filesystem::path& p, const model_options& o,
                                                   const model_info& i) {
    return wrap(model::load_dream_gguf<>(p, load_options_for(o)), i);
}

inline constexpr checkpoint_family dream[] = {{"safetensors", "Dream", &open_dream},
                                              {"gguf", "dream", &open_dream_gguf}};

}  // namespace ddiff::runtime::families
