// The GEMM's register-blocked micro-kernels: C[MR, NR] (+)= A-tile x W-panel over one K block.
//   f32_tile:  A packed MR-interleaved (pack_a_f32), f32 panels, explicit FMAs; every arch
//              (AVX-512: 12 x 32, AVX2: 6 x 16, scalar: 4 x 8).
//   bf16_tile: A rows as bf16 pairs, bf16 pair panels, vdpbf16ps; only for archs with
//              has_bf16_dot (avx512_bf16), compiled with that target whatever the TU's flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ddiff/simd/backend.hpp"
#include "ddiff/simd/gemm/config.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
// GCC 12 propagates a caller's small constant m into store_tile's full-tile branch (which that m
// never reaches) and warns falsely from avx512fintrin.h.
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif

namespace ddiff::simd::kernel {

// c = a * b + c as one fused instruction where the architecture has it (xsimd 8.1's fma is a
// plain multiply-add on AVX-512 and relies on contraction).
template <class Arch>
inline xsimd::batch<float, Arch> fmadd(xsimd::batch<float, Arch> a, xsimd::batch<float, Arch> b,
                                       xsimd::batch<float, Arch> c) noexcept {
    if constexpr (is_avx512<Arch>) return _mm512_fmadd_ps(a, b, c);
    else if constexpr (is_avx2_fma<Arch> || std::is_same_v<Arch, xsimd::fma3<xsimd::avx>>) return _mm256_fmadd_ps(a, b, c);
    else return xsimd::fma(a, b, c);
}

// Stores an MR x NR register tile (rows < mr, columns < nr) into C, adding C when accumulate.
template <class Arch, std::size_t MR, class Batch>
inline void store_tile(Batch (&acc)[MR][2], float* c, std::size_t ldc, std::size_t mr,
                       std::size_t nr, bool accumulate) noexcept {
    constexpr std::size_t L = Batch::size;
    if (nr == 2 * L && mr == MR) {
#pragma GCC unroll 16
        for (std::size_t i = 0; i < MR; ++i) {
            float* ci = c + i * ldc;
            if (accumulate) {
                acc[i][0] += Batch::load_unaligned(ci);
                acc[i][1] += Batch::load_unaligned(ci + L);
            }
            acc[i][0].store_unaligned(ci);
            acc[i][1].store_unaligned(ci + L);
        }
        return;
    }
    alignas(64) float tmp[2 * L];
    for (std::size_t i = 0; i < mr; ++i) {
        float* ci = c + i * ldc;
        acc[i][0].store_aligned(tmp);
        acc[i][1].store_aligned(tmp + L);
        if (accumulate)
            for (std::size_t j = 0; j < nr; ++j) ci[j] += tmp[j];
        else
            for (std::size_t j = 0; j < nr; ++j) ci[j] = tmp[j];
    }
}

// f32 micro-kernel: C[mr, nr] (+)= Ap[kc][MR] * panel[kc][NR], with A packed MR-interleaved
// (rows past mr are zero) so the broadcasts read one stream.
template <class Arch, std::size_t MR>
void f32_tile(const float* ap, const float* w, std::size_t kc, float* c, std::size_t ldc,
              std::size_t mr, std::size_t nr, bool accumulate) noexcept {
    if constexpr (has_batch<float, Arch>) {
        using B = xsimd::batch<float, Arch>;
        constexpr std::size_t L = B::size;
        B acc[MR][2];
#pragma GCC unroll 16
        for (std::size_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = B(0.0f);
        for (std::size_t kk = 0; kk < kc; ++kk) {
            const B w0 = B::load_aligned(w + kk * 2 * L);
            const B w1 = B::load_aligned(w + kk * 2 * L + L);
#pragma GCC unroll 16
            for (std::size_t i = 0; i < MR; ++i) {
                const B x(ap[kk * MR + i]);
                acc[i][0] = fmadd<Arch>(x, w0, acc[i][0]);
                acc[i][1] = fmadd<Arch>(x, w1, acc[i][1]);
            }
        }
        store_tile<Arch, MR>(acc, c, ldc, mr, nr, accumulate);
    } else {
        constexpr std::size_t NR = gemm_config<Arch>::nr;
        float acc[MR][NR] = {};
        for (std::size_t kk = 0; kk < kc; ++kk)
            for (std::size_t i = 0; i < MR; ++i) {
                const float x = ap[kk * MR + i];
                for (std::size_t j = 0; j < NR; ++j) acc[i][j] += x * w[kk * NR + j];
            }
        for (std::size_t i = 0; i < mr; ++i)
            for (std::size_t j = 0; j < nr; ++j)
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
    }
}

#if defined(__x86_64__) || defined(__i386__)
// bf16 micro-kernel: A as bf16 pairs (rows at stride lda uint32), panel[kp][NR] pairs.
template <class Arch, std::size_t MR>
DDIFF_TARGET_AVX512_BF16 void bf16_tile(const std::uint32_t* a, std::size_t lda, const std::uint32_t* w,
                                        std::size_t kp, float* c, std::size_t ldc, std::size_t mr,
                                        std::size_t nr, bool accumulate) noexcept {
    static_assert(has_bf16_dot<Arch>, "bf16_tile needs an arch with vdpbf16ps (simd::avx512_bf16)");
    using B = xsimd::batch<float, Arch>;
    __m512 acc[MR][2];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (std::size_t q = 0; q < kp; ++q) {
        const __m512bh w0 = (__m512bh)_mm512_load_si512(w + q * 32);
        const __m512bh w1 = (__m512bh)_mm512_load_si512(w + q * 32 + 16);
#pragma GCC unroll 16
        for (std::size_t i = 0; i < MR; ++i) {
            const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[i * lda + q]));
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], x, w0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], x, w1);
        }
    }
    B out[MR][2];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < MR; ++i) {
        out[i][0] = acc[i][0];
        out[i][1] = acc[i][1];
    }
    store_tile<Arch, MR>(out, c, ldc, mr, nr, accumulate);
}

// The bf16 kernel reads A rows in place, so a tail of mr < MR rows needs its own instantiation.
template <class Arch, std::size_t MR>
void bf16_tail(std::size_t mr, const std::uint32_t* a, std::size_t lda, const std::uint32_t* w, std::size_t kp,
               float* c, std::size_t ldc, std::size_t nr, bool accumulate) noexcept {
    if constexpr (MR > 0) {
        if (mr == MR) return bf16_tile<Arch, MR>(a, lda, w, kp, c, ldc, MR, nr, accumulate);
        return bf16_tail<Arch, MR - 1>(mr, a, lda, w, kp, c, ldc, nr, accumulate);
    }
}
#endif

}  // namespace ddiff::simd::kernel

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
