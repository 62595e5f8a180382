// Must not compile: a model with denoise() but no opt-in tag, used in a decoder. Its twin (built
// with DDIFF_COMPILING_TWIN) adds the tag and must compile.
#include "ddiff/ddiff.hpp"

struct looks_like_a_model {
#ifdef DDIFF_COMPILING_TWIN
    using denoiser_concept = ddiff::denoiser_tag;
#endif
    using logit_type = float;
    static constexpr ddiff::noise_kind noise = ddiff::noise_kind::absorbing;
    std::size_t vocab_size() const { return 3; }
    ddiff::token_id mask_id() const { return 2; }
    void denoise(const ddiff::token_batch&, std::span<const double>, xt::xtensor<float, 3>&) {}
};

using dec = ddiff::decoder<looks_like_a_model, ddiff::schedule::log_linear, ddiff::remask::confidence,
                           ddiff::sampler::top_k>;
static_assert(sizeof(dec) > 0);

int main() { return 0; }
