// Vectorised row kernels for the transformer blocks: norms, activations, RoPE, adaLN
// modulation, gated residuals, and the attention softmax. Each has a plain scalar reference in
// namespace scalar (the tests compare against it; the tails of the SIMD loops use it too).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "ddiff/simd/backend.hpp"
#include "ddiff/simd/rows.hpp"

namespace ddiff::simd {

namespace scalar {
inline float silu(float g) noexcept { return g / (1.0f + std::exp(-g)); }
// 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), PyTorch's GELU(approximate="tanh").
inline float gelu_tanh(float u) noexcept {
    constexpr float c = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * u * (1.0f + std::tanh(c * (u + 0.044715f * u * u * u)));
}
inline double sum_squares(const float* x, std::size_t n) noexcept {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
    return s;
}
}  // namespace scalar

// sum_i x[i]^2, accumulated in float lanes (relative error <= n eps).
template <class Arch = default_arch>
float sum_squares(const float* x, std::size_t n) noexcept {
    std::size_t i = 0;
    float s = 0.0f;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        b acc(0.0f);
        for (; i + w <= n; i += w) {
            const b v = b::load_unaligned(x + i);
            acc += v * v;
        }
        s = horizontal_sum(acc);
    }
    for (; i < n; ++i) s += x[i] * x[i];
    return s;
}

template <class Arch = default_arch>
float sum(const float* x, std::size_t n) noexcept {
    std::size_t i = 0;
    float s = 0.0f;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        b acc(0.0f);
        for (; i + w <= n; i += w) acc += b::load_unaligned(x + i);
        s = horizontal_sum(acc);
    }
    for (; i < n; ++i) s += x[i];
    return s;
}

// y[i] = (x[i] - shift) * factor * (weight ? weight[i] : 1) + (bias ? bias[i] : 0).
// (RMSNorm: shift 0; LayerNorm: shift = mean.) y may alias x.
template <class Arch = default_arch>
void normalize(const float* x, float shift, float factor, const float* weight, const float* bias,
               float* y, std::size_t n) noexcept {
    std::size_t i = 0;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        const b sh(shift), f(factor);
        for (; i + w <= n; i += w) {
            b v = (b::load_unaligned(x + i) - sh) * f;
            if (weight) v *= b::load_unaligned(weight + i);
            if (bias) v += b::load_unaligned(bias + i);
            v.store_unaligned(y + i);
        }
    }
    for (; i < n; ++i) {
        float v = (x[i] - shift) * factor;
        if (weight) v *= weight[i];
        if (bias) v += bias[i];
        y[i] = v;
    }
}

// out[i] = silu(gate[i]) * up[i] (SwiGLU). out may alias gate or up.
template <class Arch = default_arch>
void silu_mul(const float* gate, const float* up, float* out, std::size_t n) noexcept {
    std::size_t i = 0;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        const b one(1.0f);
        for (; i + w <= n; i += w) {
            const b g = b::load_unaligned(gate + i);
            // g / (1 + exp(-g)): exp overflows to inf for g < -88 and the quotient is -0.
            (g / (one + xsimd::exp(-g)) * b::load_unaligned(up + i)).store_unaligned(out + i);
        }
    }
    for (; i < n; ++i) out[i] = scalar::silu(gate[i]) * up[i];
}

// x[i] = gelu_tanh(x[i]).
template <class Arch = default_arch>
void gelu_tanh(float* x, std::size_t n) noexcept {
    std::size_t i = 0;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        const b c(0.7978845608028654f), k(0.044715f), half(0.5f), one(1.0f);
        for (; i + w <= n; i += w) {
            const b u = b::load_unaligned(x + i);
            (half * u * (one + xsimd::tanh(c * (u + k * u * u * u)))).store_unaligned(x + i);
        }
    }
    for (; i < n; ++i) x[i] = scalar::gelu_tanh(x[i]);
}

// x[i] = x[i] * (1 + scale[i]) + shift[i] (adaLN modulate, DiT).
template <class Arch = default_arch>
void modulate(float* x, const float* shift, const float* scale, std::size_t n) noexcept {
    std::size_t i = 0;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        const b one(1.0f);
        for (; i + w <= n; i += w)
            (b::load_unaligned(x + i) * (one + b::load_unaligned(scale + i)) + b::load_unaligned(shift + i))
                .store_unaligned(x + i);
    }
    for (; i < n; ++i) x[i] = x[i] * (1.0f + scale[i]) + shift[i];
}

// x[i] += (gate ? gate[i] : 1) * y[i] (+ bias[i] if given): residual with an optional adaLN gate.
template <class Arch = default_arch>
void add_gated(float* x, const float* gate, const float* y, std::size_t n) noexcept {
    std::size_t i = 0;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        for (; i + w <= n; i += w) {
            b v = b::load_unaligned(y + i);
            if (gate) v *= b::load_unaligned(gate + i);
            (b::load_unaligned(x + i) + v).store_unaligned(x + i);
        }
    }
    for (; i < n; ++i) x[i] += (gate ? gate[i] : 1.0f) * y[i];
}

template <class Arch = default_arch>
void add(float* x, const float* y, std::size_t n) noexcept {
    add_gated<Arch>(x, nullptr, y, n);
}

// Rotary embedding, Hugging Face rotate-half layout, on one head vector of width 2h:
// x'_j = x_j cos_j - x_{j+h} sin_j,  x'_{j+h} = x_{j+h} cos_j + x_j sin_j  (j < h), where cos/sin
// hold the h distinct angles (the table cat(angle, angle) repeats them).
template <class Arch = default_arch>
void rope_rotate_half(float* x, const float* cos, const float* sin, std::size_t h) noexcept {
    std::size_t j = 0;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        for (; j + w <= h; j += w) {
            const b x1 = b::load_unaligned(x + j), x2 = b::load_unaligned(x + h + j);
            const b c = b::load_unaligned(cos + j), s = b::load_unaligned(sin + j);
            (x1 * c - x2 * s).store_unaligned(x + j);
            (x2 * c + x1 * s).store_unaligned(x + h + j);
        }
    }
    for (; j < h; ++j) {
        const float x1 = x[j], x2 = x[h + j];
        x[j] = x1 * cos[j] - x2 * sin[j];
        x[h + j] = x2 * cos[j] + x1 * sin[j];
    }
}

// Attention softmax over one row of scores s[0, n): keys j >= visible and keys with
// key_valid[j] == 0 get probability 0; the rest get softmax(scale * s). Never overflows (the
// maximum is subtracted first); a row with no visible key becomes all zeros (not NaN).
template <class Arch = default_arch>
void masked_softmax(float* s, std::size_t n, float scale, const std::uint8_t* key_valid,
                    std::size_t visible) noexcept {
    if (visible > n) visible = n;
    constexpr float ninf = -std::numeric_limits<float>::infinity();
    if (key_valid)
        for (std::size_t j = 0; j < visible; ++j)
            if (!key_valid[j]) s[j] = ninf;
    for (std::size_t j = visible; j < n; ++j) s[j] = 0.0f;
    const float m = row_max<Arch>(s, visible);
    if (!(m > ninf)) {
        for (std::size_t j = 0; j < visible; ++j) s[j] = 0.0f;
        return;
    }
    // exp(scale * (s - m)): scale > 0, so the argument is <= 0 and exp <= 1; the sum is kept
    // in float lanes (relative error <= visible * eps) and no horizontal add runs per batch.
    const float shift = m * scale;
    std::size_t j = 0;
    float total = 0.0f;
    if constexpr (has_batch<float, Arch>) {
        using b = xsimd::batch<float, Arch>;
        constexpr std::size_t w = b::size;
        const b sc(scale), sh(shift);
        b acc(0.0f);
        for (; j + w <= visible; j += w) {
            const b e = xsimd::exp(b::load_unaligned(s + j) * sc - sh);
            e.store_unaligned(s + j);
            acc += e;
        }
        total = horizontal_sum(acc);
    }
    for (; j < visible; ++j) total += (s[j] = std::exp(s[j] * scale - shift));
    row_scale<Arch>(s, 1.0f / total, visible);
}

}  // namespace ddiff::simd
