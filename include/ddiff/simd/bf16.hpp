// The 16-bit float storage types (bfloat16, IEEE binary16) and their exact scalar conversions
// (xsimd 8.1 has no 16-bit float batch; the vectorised conversions live beside the kernels
// that use them).
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

namespace ddiff::simd {

// The upper 16 bits of an IEEE binary32 (what safetensors' "BF16" stores).
struct bf16 {
    std::uint16_t bits = 0;
};

constexpr float to_float(bf16 h) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(h.bits) << 16);
}

// Round to nearest, ties to even (the rule of vcvtne2ps2bf16 and of torch's .to(bfloat16));
// NaN stays NaN (quiet).
constexpr bf16 to_bf16(float x) noexcept {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((u >> 16) | 0x40u)};
    const std::uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
    return bf16{static_cast<std::uint16_t>(rounded >> 16)};
}

constexpr float round_to_bf16(float x) noexcept { return to_float(to_bf16(x)); }

// IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 significand bits.
struct f16 {
    std::uint16_t bits = 0;
};

// Exact: binary16 is a subset of binary32. Subnormal halves (exponent field 0) are
// m * 2^-24 and become normal floats; exponent field 31 is inf (m = 0) or NaN, whose
// payload (including the quiet bit, significand bit 9 -> bit 22) is kept.
constexpr float to_float(f16 h) noexcept {
    const std::uint32_t sign = std::uint32_t(h.bits & 0x8000u) << 16;
    const std::uint32_t exponent = (h.bits >> 10) & 0x1fu;
    const std::uint32_t mantissa = h.bits & 0x3ffu;
    if (exponent == 0) {
        // m * 2^-24: both factors are exact in float32 and so is their product.
        const float magnitude = float(mantissa) * 0x1p-24f;
        return std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) | sign);
    }
    if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
    // Rebias the exponent from 15 to 127.
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

static_assert(sizeof(bf16) == 2 && alignof(bf16) == 2 && std::is_trivially_copyable_v<bf16>);
static_assert(sizeof(f16) == 2 && alignof(f16) == 2 && std::is_trivially_copyable_v<f16>);

}  // namespace ddiff::simd
