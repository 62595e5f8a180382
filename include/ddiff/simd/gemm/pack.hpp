// Packing for the GEMM: W [out, in] (or B [k, n]) into the panels of gemm/config.hpp once, at
// load time; and, per block during the product, A into the micro-kernel's order (f32:
// MR-interleaved micro-panels; bf16: rows rounded to bf16, so consecutive k form the pairs).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ddiff/simd/backend.hpp"
#include "ddiff/simd/bf16.hpp"
#include "ddiff/simd/gemm/config.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ddiff::simd {

namespace detail {
template <class Src>
inline float load_as_float(const Src* p, std::size_t i) noexcept {
    if constexpr (std::is_same_v<Src, bf16>) return to_float(p[i]);
    else return static_cast<float>(p[i]);
}
}  // namespace detail

// Packs W [n, k] (row stride ldw, PyTorch [out, in]) into f32 panels at dst
// (packed_elements(n, k, f32) floats). Src is float or bf16 (bf16 is widened exactly).
// pack_rows_f32_by takes the rows one by one (row(r) -> const Src*, k elements each), so a fused
// matrix (q, k and v stacked) packs from its parts without a stacked copy.
template <class Arch = default_arch, class RowFn>
void pack_rows_f32_by(RowFn&& row, std::size_t n, std::size_t k, float* dst) noexcept {
    constexpr std::size_t nr = gemm_config<Arch>::nr;
    for (std::size_t p0 = 0; p0 < n; p0 += nr) {
        const std::size_t cols = std::min(nr, n - p0);
        float* panel = dst + (p0 / nr) * k * nr;
        // Row by row: sequential reads of W, strided writes into the (L1-sized) panel.
        for (std::size_t j = 0; j < cols; ++j) {
            const auto* src = row(p0 + j);
            for (std::size_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = detail::load_as_float(src, kk);
        }
        for (std::size_t j = cols; j < nr; ++j)
            for (std::size_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = 0.0f;
    }
}
template <class Arch = default_arch, class Src>
void pack_rows_f32(const Src* w, std::size_t ldw, std::size_t n, std::size_t k, float* dst) noexcept {
    pack_rows_f32_by<Arch>([w, ldw](std::size_t r) { return w + r * ldw; }, n, k, dst);
}

// Packs B [k, n] (row stride ldb; C = A B, e.g. attention's P V) into the same f32 panels.
template <class Arch = default_arch>
void pack_columns_f32(const float* b, std::size_t ldb, std::size_t k, std::size_t n, float* dst) noexcept {
    constexpr std::size_t nr = gemm_config<Arch>::nr;
    for (std::size_t p0 = 0; p0 < n; p0 += nr) {
        const std::size_t cols = std::min(nr, n - p0);
        float* panel = dst + (p0 / nr) * k * nr;
        for (std::size_t kk = 0; kk < k; ++kk) {
            const float* src = b + kk * ldb + p0;
            float* row = panel + kk * nr;
            std::memcpy(row, src, cols * sizeof(float));
            if (cols < nr) std::memset(row + cols, 0, (nr - cols) * sizeof(float));
        }
    }
}

// Packs W [n, k] into bf16 pair panels (packed_elements(n, k, bf16_pairs) uint32). Src float
// is rounded to nearest even.
// (pack_rows_bf16_pairs_by: rows one by one, as pack_rows_f32_by.)
template <class Arch = default_arch, class RowFn>
void pack_rows_bf16_pairs_by(RowFn&& row_of, std::size_t n, std::size_t k, std::uint32_t* dst) noexcept {
    constexpr std::size_t nr = gemm_config<Arch>::nr;
    const std::size_t kp = (k + 1) / 2;
    auto get = [&](std::size_t row, std::size_t kk) -> std::uint32_t {
        if (kk >= k) return 0u;
        const auto* w = row_of(row);
        using Src = std::remove_cvref_t<decltype(*w)>;
        if constexpr (std::is_same_v<Src, bf16>) return w[kk].bits;
        else return to_bf16(static_cast<float>(w[kk])).bits;
    };
    for (std::size_t p0 = 0; p0 < n; p0 += nr) {
        const std::size_t cols = std::min(nr, n - p0);
        std::uint32_t* panel = dst + (p0 / nr) * kp * nr;
        for (std::size_t q = 0; q < kp; ++q) {
            std::uint32_t* row = panel + q * nr;
            std::size_t j = 0;
            for (; j < cols; ++j) row[j] = get(p0 + j, 2 * q) | (get(p0 + j, 2 * q + 1) << 16);
            for (; j < nr; ++j) row[j] = 0u;
        }
    }
}
template <class Arch = default_arch, class Src>
void pack_rows_bf16_pairs(const Src* w, std::size_t ldw, std::size_t n, std::size_t k,
                          std::uint32_t* dst) noexcept {
    pack_rows_bf16_pairs_by<Arch>([w, ldw](std::size_t r) { return w + r * ldw; }, n, k, dst);
}

namespace kernel {

// Four rows x four k of A transposed with SSE into the MR-interleaved order (x86 only: declared
// everywhere, defined where SSE exists, instantiated only for x86 archs).
template <std::size_t MR>
void pack4_rows_sse(const float* s0, std::size_t lda, std::size_t kc, float* d) noexcept;
#if defined(__SSE2__)
template <std::size_t MR>
void pack4_rows_sse(const float* s0, std::size_t lda, std::size_t kc, float* d) noexcept {
    const float *s1 = s0 + lda, *s2 = s1 + lda, *s3 = s2 + lda;
    const std::size_t kc4 = kc & ~std::size_t{3};
    for (std::size_t kk = 0; kk < kc4; kk += 4) {
        __m128 r0 = _mm_loadu_ps(s0 + kk), r1 = _mm_loadu_ps(s1 + kk);
        __m128 r2 = _mm_loadu_ps(s2 + kk), r3 = _mm_loadu_ps(s3 + kk);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(d + kk * MR, r0);
        _mm_storeu_ps(d + (kk + 1) * MR, r1);
        _mm_storeu_ps(d + (kk + 2) * MR, r2);
        _mm_storeu_ps(d + (kk + 3) * MR, r3);
    }
    for (std::size_t kk = kc4; kk < kc; ++kk) {
        float* o = d + kk * MR;
        o[0] = s0[kk], o[1] = s1[kk], o[2] = s2[kk], o[3] = s3[kk];
    }
}
#endif

// Packs rows [0, m) (an MC block) x a k-range of A into MR-interleaved micro-panels:
// dst[(i / MR) * kc * MR + kk * MR + i % MR], rows past m zero-filled up to a multiple of MR.
template <class Arch, std::size_t MR>
void pack_a_f32(const float* a, std::size_t lda, std::size_t m, std::size_t kc, float* dst) noexcept {
    for (std::size_t i0 = 0; i0 < m; i0 += MR) {
        float* d = dst + (i0 / MR) * kc * MR;
        const std::size_t rows = std::min(MR, m - i0);
        std::size_t i = 0;
        // Four rows at a time: 4 x 4 transposes, so 16 elements move with 4 loads and 4 stores.
        if constexpr (MR % 4 == 0 && has_batch<float, Arch>)
            for (; i + 4 <= rows; i += 4) pack4_rows_sse<MR>(a + (i0 + i) * lda, lda, kc, d + i);
        for (; i < rows; ++i) {
            const float* src = a + (i0 + i) * lda;
            for (std::size_t kk = 0; kk < kc; ++kk) d[kk * MR + i] = src[kk];
        }
        for (std::size_t i = rows; i < MR; ++i)
            for (std::size_t kk = 0; kk < kc; ++kk) d[kk * MR + i] = 0.0f;
    }
}

#if defined(__x86_64__) || defined(__i386__)
// Converts rows [0, m) x k-range [k0, k0 + kc) of A to bf16 (round to nearest even), row-major
// with row stride ld (uint16), the odd tail padded with a zero.
DDIFF_TARGET_AVX512_BF16 inline void convert_block_bf16(const float* a, std::size_t lda, std::size_t m,
                                                        std::size_t k0, std::size_t kc, std::uint16_t* dst,
                                                        std::size_t ld) noexcept {
    for (std::size_t i = 0; i < m; ++i) {
        const float* src = a + i * lda + k0;
        std::uint16_t* d = dst + i * ld;
        std::size_t kk = 0;
        for (; kk + 32 <= kc; kk += 32)
            _mm512_storeu_si512(d + kk, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + kk + 16),
                                                                     _mm512_loadu_ps(src + kk)));
        if (kk < kc) {
            const std::size_t rest = kc - kk;
            const __mmask16 lo = rest >= 16 ? __mmask16(0xffff) : __mmask16((1u << rest) - 1);
            const __mmask16 hi = rest > 16 ? __mmask16((1u << (rest - 16)) - 1) : __mmask16(0);
            const __m512 vlo = _mm512_maskz_loadu_ps(lo, src + kk);
            const __m512 vhi = _mm512_maskz_loadu_ps(hi, src + kk + 16);
            const __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(vhi, vlo);
            const std::size_t stored = rest + (rest & 1);  // pad the odd tail with a zero
            _mm512_mask_storeu_epi16(d + kk, stored >= 32 ? __mmask32(0xffffffffu)
                                                          : __mmask32((1u << stored) - 1), packed);
        }
    }
}
#endif

}  // namespace kernel
}  // namespace ddiff::simd
