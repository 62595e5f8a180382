// bfloat16 storage type and its scalar conversions (xsimd 8.1 has no bf16 batch type; the
// vectorised conversions live beside the kernels that use them, behind __AVX512BF16__).
#pragma once

#include <bit>
#include <cstdint>

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

}  // namespace ddiff::simd
