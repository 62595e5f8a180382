// Normalisation policies over the feature axis: RMSNorm (LLaMA/LLaDA/Dream) and LayerNorm
// (DiT: no affine parameters except an optional weight, F.layer_norm eps 1e-5). Each is a
// policy of the blocks: apply(x, ldx, rows, y, ldy, pool).
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/nn/workspace.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

// y = x * rsqrt(mean(x^2) + eps) * weight (eps inside the root; LLaDA RMSLayerNorm, HF
// Qwen2RMSNorm). weight empty: no affine.
template <class Arch = simd::default_arch>
struct rms_norm {
    std::vector<float> weight;  // (d) or empty
    float eps = 1e-5f;

    rms_norm() = default;
    rms_norm(std::vector<float> w, float e) : weight(std::move(w)), eps(e) {
        ddiff::detail::require(e > 0.0f, "rms_norm", "eps", e, "> 0");
    }

    void row(const float* x, float* y, std::size_t d) const noexcept {
        const float ms = simd::sum_squares<Arch>(x, d) / static_cast<float>(d);
        const float r = 1.0f / std::sqrt(ms + eps);
        simd::normalize<Arch>(x, 0.0f, r, weight.empty() ? nullptr : weight.data(), nullptr, y, d);
    }
    void apply(const float* x, std::size_t ldx, std::size_t rows, float* y, std::size_t ldy, std::size_t d,
               thread_pool& pool) const {
        check(d);
        detail::parallel_rows(pool, rows, d, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r) row(x + r * ldx, y + r * ldy, d);
        });
    }
    void check(std::size_t d) const {
        if (!weight.empty() && weight.size() != d)
            ddiff::detail::fail<shape_error>("rms_norm: weight has ", weight.size(), " entries, features ", d);
    }
};

// y = (x - mean) / sqrt(var + eps) * weight + bias, biased variance (divide by d), two passes.
template <class Arch = simd::default_arch>
struct layer_norm {
    std::vector<float> weight;  // (d) or empty
    std::vector<float> bias;    // (d) or empty
    float eps = 1e-5f;

    layer_norm() = default;
    layer_norm(std::vector<float> w, std::vector<float> b, float e)
        : weight(std::move(w)), bias(std::move(b)), eps(e) {
        ddiff::detail::require(e > 0.0f, "layer_norm", "eps", e, "> 0");
    }

    void row(const float* x, float* y, std::size_t d) const noexcept {
        const float mean = simd::sum<Arch>(x, d) / static_cast<float>(d);
        // Second pass over the centred values: no cancellation (E[x^2] - mean^2 would lose it).
        simd::normalize<Arch>(x, mean, 1.0f, nullptr, nullptr, y, d);
        const float var = simd::sum_squares<Arch>(y, d) / static_cast<float>(d);
        simd::normalize<Arch>(y, 0.0f, 1.0f / std::sqrt(var + eps), weight.empty() ? nullptr : weight.data(),
                              bias.empty() ? nullptr : bias.data(), y, d);
    }
    void apply(const float* x, std::size_t ldx, std::size_t rows, float* y, std::size_t ldy, std::size_t d,
               thread_pool& pool) const {
        check(d);
        detail::parallel_rows(pool, rows, d, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r) row(x + r * ldx, y + r * ldy, d);
        });
    }
    void check(std::size_t d) const {
        if (!weight.empty() && weight.size() != d)
            ddiff::detail::fail<shape_error>("layer_norm: weight has ", weight.size(), " entries, features ", d);
        if (!bias.empty() && bias.size() != d)
            ddiff::detail::fail<shape_error>("layer_norm: bias has ", bias.size(), " entries, features ", d);
    }
};

}  // namespace ddiff::nn
