// The DiT of MDLM / SEDD / BD3-LM (kuleshov-group's Hugging Face layouts: model_type "mdlm" or
// "bd3lm" (block-causal: block diffusion), or a SEDD config with a "model" section) as checkpoint families of the run-time front end.
#pragma once

#include "ddiff/model/dit.hpp"
#include "ddiff/runtime/families/checkpoint_impl.hpp"

namespace ddiff::runtime::families {

inline std::unique_ptr<model_impl> open_dit(const std::filesystem::path& p, const model_options& o,
                                            const model_info& i) {
    return wrap(model::dit<>::load(p, load_options_for(o)), i);
}

inline constexpr checkpoint_family dit[] = {
    {"safetensors", "mdlm", &open_dit}, {"safetensors", "sedd", &open_dit}, {"safetensors", "bd3lm", &open_dit}};

}  // namespace ddiff::runtime::families
