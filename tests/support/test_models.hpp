// Tiny denoisers and a step context for the decoder, sampler and remask tests: models whose
// logits are fixed by hand, so every expectation is hand-computed.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/sampler/context.hpp"

namespace ddiff::test {

// A canvas and its candidates for calling a sampler's step() directly.
struct context_fixture {
    std::vector<token_id> canvas;
    std::vector<sampler::candidate> candidates;
    sampler::step_scratch scratch;
    counter_rng rng{0};
    token_id mask = 9;

    context_fixture(std::size_t len, std::vector<sampler::candidate> cs, std::uint64_t seed = 0)
        : canvas(len, 9), candidates(std::move(cs)), rng(seed) {}

    sampler::step_context make(const step_info& info = {}, std::size_t masked_at_start = 0) {
        std::fill(canvas.begin(), canvas.end(), mask);
        return {.canvas = canvas,
                .candidates = candidates,
                .mask = mask,
                .info = info,
                .masked_at_block_start = masked_at_start ? masked_at_start : candidates.size(),
                .rng = &rng,
                .scratch = &scratch};
    }
};

// Log-probabilities putting `confidence` on token k and the rest evenly on the other real
// tokens of a vocabulary of `real` tokens plus a mask (the last id).
inline std::vector<float> peaked(std::size_t real, std::size_t k, double confidence) {
    std::vector<float> l(real + 1);
    for (std::size_t v = 0; v < real; ++v)
        l[v] = static_cast<float>(std::log(v == k ? confidence : (1.0 - confidence) / double(real - 1)));
    l[real] = -std::numeric_limits<float>::infinity();  // the mask is never proposed
    return l;
}

// A masked denoiser whose logits for position i (every row) are rows(i, call); call counts the
// model calls, so a test can make a position's distribution change from step to step.
struct scripted_model {
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;
    static constexpr bool time_conditioned = true;  // never reuse: every step is a call
    std::size_t vocab = 4;
    std::function<std::vector<float>(std::size_t position, std::size_t call)> rows;
    std::size_t calls = 0;

    std::size_t vocab_size() const { return vocab; }
    token_id mask_id() const { return token_id(vocab - 1); }
    void denoise(const token_batch& x, std::span<const double>, xt::xtensor<float, 3>& out) {
        out = xt::xtensor<float, 3>::from_shape({x.shape(0), x.shape(1), vocab});
        for (std::size_t b = 0; b < x.shape(0); ++b)
            for (std::size_t i = 0; i < x.shape(1); ++i) {
                const auto r = rows(i, calls);
                std::copy(r.begin(), r.end(), out.data() + (b * x.shape(1) + i) * vocab);
            }
        ++calls;
    }
};

}  // namespace ddiff::test
