// The GEMM's compile-time shape per architecture (micro-tile, cache blocks, thread scratch) and
// the packed-panel description shared by packing, kernels and driver.
//
// Layout (docs/performance.md gives the measurements behind the choices):
//   panel p holds output features [p*NR, p*NR + NR) (zero-padded past n) for every k:
//     f32:        float    panel[k][NR]            (contiguous over k; panel stride k*NR)
//     bf16_pairs: uint32_t panel[k/2][NR], lane j = W[j][2q] | W[j][2q+1] << 16 (k padded to even)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "ddiff/simd/backend.hpp"

namespace ddiff::simd {

template <class Arch>
inline constexpr std::size_t float_lanes = [] {
    if constexpr (has_batch<float, Arch>) return xsimd::batch<float, Arch>::size;
    else return std::size_t{4};
}();

// Micro-tile and cache blocks per architecture. NR = two registers of output features; MR rows
// of A: MR * 2 accumulators + 2 weight registers + 1 broadcast must fit the register file
// (AVX-512: 32 zmm -> MR 12 uses 27; AVX2: 16 ymm -> MR 6 uses 15).
template <class Arch>
struct gemm_config {
    static constexpr std::size_t lanes = float_lanes<Arch>;
    static constexpr std::size_t nr = 2 * lanes;
    static constexpr std::size_t mr = is_avx512<Arch> ? 12 : (has_batch<float, Arch> ? 6 : 4);
    // K block: the C tile is read and written once per K block, so a long block pays; the
    // KC x NR W panel (128 KiB) streams from L2, the MR x KC A tile (48 KiB) from L1/L2.
    // Measured on this VM (docs/performance.md): KC 1024 / MC 96 beat 256 / 240 by ~15%.
    static constexpr std::size_t kc = 1024;
    static constexpr std::size_t mc = 96;  // rows of A per block (a multiple of 4, 6, 8, 12)
    // bf16 pairs: KC counts k (KC/2 pairs), the same 128 KiB of panel per block.
    static constexpr std::size_t kc_bf16 = 2048;
    // Thread scratch: an MC x KC block of A, packed MR-interleaved (f32) or converted to bf16
    // rows padded by 32 elements (bf16).
    static constexpr std::size_t scratch_bytes =
        std::max(mc * kc * sizeof(float), mc * (kc_bf16 + 32) * sizeof(std::uint16_t));
};

enum class panel_format : std::uint8_t { f32, bf16_pairs };

// A non-owning view of packed weights: n output features, k inputs, in panels of nr.
struct panel_view {
    panel_format format = panel_format::f32;
    std::size_t n = 0, k = 0, nr = 0;
    const void* data = nullptr;

    std::size_t panels() const noexcept { return (n + nr - 1) / nr; }
    // Elements (floats or uint32 pairs) per panel.
    std::size_t panel_stride() const noexcept {
        return (format == panel_format::f32 ? k : (k + 1) / 2) * nr;
    }
};

// Number of 4-byte elements a packed [n, k] matrix occupies.
template <class Arch = default_arch>
constexpr std::size_t packed_elements(std::size_t n, std::size_t k, panel_format f) noexcept {
    constexpr std::size_t nr = gemm_config<Arch>::nr;
    const std::size_t panels = (n + nr - 1) / nr;
    return panels * nr * (f == panel_format::f32 ? k : (k + 1) / 2);
}

}  // namespace ddiff::simd
