// GEMM C = A W^T (+ C) with W in PyTorch's [out, in] layout, packed once into the micro-kernel's
// panel layout; register-blocked micro-kernels per xsimd architecture, cache blocking, and
// (row block x panel group) work units shared by a thread_pool's threads through a counter.
// f32 weights, and bf16 weights either through vdpbf16ps (A rounded to bf16 on the fly) or
// widened to f32 panels at packing time.
//
// Layout (see docs/performance.md for the measurements behind the choices):
//   panel p holds output features [p*NR, p*NR + NR) (zero-padded past n) for every k:
//     f32:        float    panel[k][NR]            (contiguous over k; panel stride k*NR)
//     bf16_pairs: uint32_t panel[k/2][NR], lane j = W[j][2q] | W[j][2q+1] << 16 (k padded to even)
//   f32: an (MC x KC) block of A is packed MR-interleaved into the thread's scratch; bf16_pairs:
//   it is converted to bf16 (row-major, so consecutive k form the pairs) there instead.
//   Loops: K blocks of KC -> M blocks of MC (A packed into the thread's scratch, in L2) ->
//   panels of W (KC x NR, streamed from L2 and reused by every MR-row tile) -> tiles.
// Every output element is computed by the same instruction sequence whatever the thread count
// and the panel range, so results do not depend on the number of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

#include "ddiff/core/error.hpp"
#include "ddiff/simd/backend.hpp"
#include "ddiff/simd/bf16.hpp"
#include "ddiff/simd/thread_pool.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace ddiff::simd {

template <class Arch>
inline constexpr bool is_avx512 = std::is_base_of_v<xsimd::avx512f, Arch>;

template <class Arch>
inline constexpr std::size_t float_lanes = [] {
    if constexpr (has_batch<float, Arch>) return xsimd::batch<float, Arch>::size;
    else return std::size_t{4};
}();

// vdpbf16ps needs the instruction set at compile time and a 512-bit register file.
template <class Arch>
inline constexpr bool has_bf16_dot =
#if defined(__AVX512BF16__)
    is_avx512<Arch>;
#else
    false;
#endif

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

// Owning packed weights (64-byte aligned), made once at load time.
template <class Arch = default_arch>
class packed_weights {
public:
    packed_weights() = default;

    // f32 weights W [n, k] (row stride ldw, 0 = k).
    static packed_weights from_f32(const float* w, std::size_t n, std::size_t k, std::size_t ldw = 0) {
        return from_rows(strided(w, ldw ? ldw : k), n, k, false);
    }
    // bf16 weights, kept as bf16 pairs for vdpbf16ps (A is rounded to bf16 in the GEMM: error
    // ~ 2^-9 relative per product). Where vdpbf16ps is unavailable they are widened instead.
    static packed_weights from_bf16(const bf16* w, std::size_t n, std::size_t k, std::size_t ldw = 0) {
        return from_rows(strided(w, ldw ? ldw : k), n, k, true);
    }
    // bf16 weights widened exactly to f32 panels at packing time (f32 arithmetic, 2x memory).
    static packed_weights from_bf16_widened(const bf16* w, std::size_t n, std::size_t k, std::size_t ldw = 0) {
        return from_rows(strided(w, ldw ? ldw : k), n, k, false);
    }
    // Weights given row by row: row(r) -> const float* or const bf16* (k elements) for r < n.
    // bf16 rows go to bf16 pairs when `bf16_dot` (and vdpbf16ps exists), else are widened; float
    // rows always pack as f32. For fused matrices packed from their parts, with no copy.
    template <class RowFn>
    static packed_weights from_rows(RowFn&& row, std::size_t n, std::size_t k, bool bf16_dot) {
        using Src = std::remove_cvref_t<decltype(*row(std::size_t{0}))>;
        static_assert(std::is_same_v<Src, float> || std::is_same_v<Src, bf16>, "rows of float or bf16");
        (void)bf16_dot;
        if constexpr (std::is_same_v<Src, bf16> && has_bf16_dot<Arch>) {
            if (bf16_dot) {
                packed_weights p(panel_format::bf16_pairs, n, k);
                pack_rows_bf16_pairs_by<Arch>(row, n, k, p.pairs());
                return p;
            }
        }
        packed_weights p(panel_format::f32, n, k);
        pack_rows_f32_by<Arch>(row, n, k, p.floats());
        return p;
    }
    // f32 weights rounded to bf16 and packed for vdpbf16ps (for benchmarks and tests).
    static packed_weights from_f32_as_bf16(const float* w, std::size_t n, std::size_t k, std::size_t ldw = 0) {
        if constexpr (!has_bf16_dot<Arch>) {
            packed_weights p(panel_format::f32, n, k);
            float* d = p.floats();
            pack_rows_f32<Arch>(w, ldw ? ldw : k, n, k, d);
            for (std::size_t i = 0; i < p.elements_; ++i) d[i] = round_to_bf16(d[i]);
            return p;
        }
        packed_weights p(panel_format::bf16_pairs, n, k);
        pack_rows_bf16_pairs<Arch>(w, ldw ? ldw : k, n, k, p.pairs());
        return p;
    }

    panel_view view() const noexcept {
        return {format_, n_, k_, gemm_config<Arch>::nr, data_.get()};
    }
    std::size_t rows() const noexcept { return n_; }
    std::size_t cols() const noexcept { return k_; }
    panel_format format() const noexcept { return format_; }
    std::size_t bytes() const noexcept { return elements_ * 4; }

private:
    struct aligned_free {
        void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
    };
    template <class T>
    static auto strided(const T* w, std::size_t ldw) noexcept {
        return [w, ldw](std::size_t r) { return w + r * ldw; };
    }
    packed_weights(panel_format f, std::size_t n, std::size_t k) : format_(f), n_(n), k_(k) {
        ddiff::detail::require(n > 0, "packed_weights", "n (output features)", n, "> 0");
        ddiff::detail::require(k > 0, "packed_weights", "k (input features)", k, "> 0");
        elements_ = packed_elements<Arch>(n, k, f);
        data_.reset(::operator new(elements_ * 4, std::align_val_t{64}));
    }
    float* floats() noexcept { return static_cast<float*>(data_.get()); }
    std::uint32_t* pairs() noexcept { return static_cast<std::uint32_t*>(data_.get()); }

    panel_format format_ = panel_format::f32;
    std::size_t n_ = 0, k_ = 0, elements_ = 0;
    std::unique_ptr<void, aligned_free> data_;
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
// GCC 12 propagates a caller's small constant m into store_tile's full-tile branch (which that m
// never reaches) and warns falsely from avx512fintrin.h.
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
namespace kernel {

// c = a * b + c as one fused instruction where the architecture has it (xsimd 8.1's fma is a
// plain multiply-add on AVX-512 and relies on contraction).
template <class Arch>
inline xsimd::batch<float, Arch> fmadd(xsimd::batch<float, Arch> a, xsimd::batch<float, Arch> b,
                                       xsimd::batch<float, Arch> c) noexcept {
#if defined(__AVX512F__)
    if constexpr (is_avx512<Arch>) return _mm512_fmadd_ps(a, b, c);
#endif
#if defined(__FMA__)
    if constexpr (std::is_base_of_v<xsimd::fma3<xsimd::avx2>, Arch> ||
                  std::is_same_v<Arch, xsimd::fma3<xsimd::avx>>)
        return _mm256_fmadd_ps(a, b, c);
#endif
    return xsimd::fma(a, b, c);
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

// Packs rows [0, m) (an MC block) x a k-range of A into MR-interleaved micro-panels:
// dst[(i / MR) * kc * MR + kk * MR + i % MR], rows past m zero-filled up to a multiple of MR.
template <std::size_t MR>
inline void pack_a_f32(const float* a, std::size_t lda, std::size_t m, std::size_t kc, float* dst) noexcept {
    for (std::size_t i0 = 0; i0 < m; i0 += MR) {
        float* d = dst + (i0 / MR) * kc * MR;
        const std::size_t rows = std::min(MR, m - i0);
        std::size_t i = 0;
#if defined(__SSE2__)
        // Four rows at a time: 4 x 4 transposes, so 16 elements move with 4 loads and 4 stores.
        if constexpr (MR % 4 == 0) {
            for (; i + 4 <= rows; i += 4) {
                const float* s0 = a + (i0 + i) * lda;
                const float *s1 = s0 + lda, *s2 = s1 + lda, *s3 = s2 + lda;
                const std::size_t kc4 = kc & ~std::size_t{3};
                for (std::size_t kk = 0; kk < kc4; kk += 4) {
                    __m128 r0 = _mm_loadu_ps(s0 + kk), r1 = _mm_loadu_ps(s1 + kk);
                    __m128 r2 = _mm_loadu_ps(s2 + kk), r3 = _mm_loadu_ps(s3 + kk);
                    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                    _mm_storeu_ps(d + kk * MR + i, r0);
                    _mm_storeu_ps(d + (kk + 1) * MR + i, r1);
                    _mm_storeu_ps(d + (kk + 2) * MR + i, r2);
                    _mm_storeu_ps(d + (kk + 3) * MR + i, r3);
                }
                for (std::size_t kk = kc4; kk < kc; ++kk) {
                    float* o = d + kk * MR + i;
                    o[0] = s0[kk], o[1] = s1[kk], o[2] = s2[kk], o[3] = s3[kk];
                }
            }
        }
#endif
        for (; i < rows; ++i) {
            const float* src = a + (i0 + i) * lda;
            for (std::size_t kk = 0; kk < kc; ++kk) d[kk * MR + i] = src[kk];
        }
        for (std::size_t i = rows; i < MR; ++i)
            for (std::size_t kk = 0; kk < kc; ++kk) d[kk * MR + i] = 0.0f;
    }
}

#if defined(__AVX512BF16__)
// bf16 micro-kernel: A as bf16 pairs (rows at stride lda_pairs uint32), panel[kp][NR] pairs.
template <class Arch, std::size_t MR>
void bf16_tile(const std::uint32_t* a, std::size_t lda, const std::uint32_t* w, std::size_t kp,
               float* c, std::size_t ldc, std::size_t mr, std::size_t nr, bool accumulate) noexcept {
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

// Converts rows [0, m) x k-range [k0, k0 + kc) of A to bf16 (round to nearest even), row-major
// with row stride ld (uint16), the odd tail padded with a zero.
inline void convert_block_bf16(const float* a, std::size_t lda, std::size_t m, std::size_t k0,
                               std::size_t kc, std::uint16_t* dst, std::size_t ld) noexcept {
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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#if defined(__AVX512BF16__)
// The bf16 kernel reads A rows in place, so a tail of mr < MR rows needs its own instantiation.
template <class Arch, std::size_t MR>
void bf16_tail(std::size_t mr, const std::uint32_t* a, std::size_t lda, const std::uint32_t* w,
               std::size_t kp, float* c, std::size_t ldc, std::size_t nr, bool accumulate) noexcept {
    if constexpr (MR > 0) {
        if (mr == MR) return kernel::bf16_tile<Arch, MR>(a, lda, w, kp, c, ldc, MR, nr, accumulate);
        return bf16_tail<Arch, MR - 1>(mr, a, lda, w, kp, c, ldc, nr, accumulate);
    }
}
#endif

// GEMM over panels [p0, p1) of w (output columns [p0*NR, min(p1*NR, n))):
// C[m, cols] = A[m, k] W^T (+ C when accumulate). scratch: gemm_config<Arch>::scratch_bytes,
// 64-byte aligned (thread_pool::scratch), owned by the calling thread.
template <class Arch = default_arch>
void gemm_panels(const float* a, std::size_t lda, std::size_t m, const panel_view& w,
                 std::size_t p0, std::size_t p1, float* c, std::size_t ldc, bool accumulate,
                 std::span<std::byte> scratch) {
    using cfg = gemm_config<Arch>;
    constexpr std::size_t NR = cfg::nr, MR = cfg::mr;
    if (m == 0 || p0 >= p1) return;
    const std::size_t n = w.n, k = w.k;
    if (scratch.size() < cfg::scratch_bytes)
        ddiff::detail::fail<shape_error>("gemm: needs ", cfg::scratch_bytes,
                                         " bytes of thread scratch, got ", scratch.size());
    if (w.format == panel_format::f32) {
        const float* wp = static_cast<const float*>(w.data);
        float* abuf = reinterpret_cast<float*>(scratch.data());
        const std::size_t stride = w.panel_stride();
        for (std::size_t pc = 0; pc < k; pc += cfg::kc) {
            const std::size_t kc = std::min(cfg::kc, k - pc);
            const bool acc = accumulate || pc > 0;
            for (std::size_t ic = 0; ic < m; ic += cfg::mc) {
                const std::size_t mc = std::min(cfg::mc, m - ic);
                kernel::pack_a_f32<MR>(a + ic * lda + pc, lda, mc, kc, abuf);
                for (std::size_t p = p0; p < p1; ++p) {
                    const float* panel = wp + p * stride + pc * NR;
                    const std::size_t nr = std::min(NR, n - p * NR);
                    for (std::size_t ir = 0; ir < mc; ir += MR) {
                        const std::size_t mr = std::min(MR, mc - ir);
                        kernel::f32_tile<Arch, MR>(abuf + ir * kc, panel, kc,
                                                   c + (ic + ir) * ldc + p * NR, ldc, mr, nr, acc);
                    }
                }
            }
        }
        return;
    }
#if defined(__AVX512BF16__)
    if constexpr (has_bf16_dot<Arch>) {
        auto* abuf = reinterpret_cast<std::uint16_t*>(scratch.data());
        const std::uint32_t* wp = static_cast<const std::uint32_t*>(w.data);
        const std::size_t stride = w.panel_stride();
        // uint32 pairs per row of the A block, padded so rows do not alias in L1 sets.
        constexpr std::size_t ldb = cfg::kc_bf16 / 2 + 16;
        for (std::size_t pc = 0; pc < k; pc += cfg::kc_bf16) {
            const std::size_t kc = std::min(cfg::kc_bf16, k - pc);
            const std::size_t kp = (kc + 1) / 2;
            const bool acc = accumulate || pc > 0;
            for (std::size_t ic = 0; ic < m; ic += cfg::mc) {
                const std::size_t mc = std::min(cfg::mc, m - ic);
                kernel::convert_block_bf16(a + ic * lda, lda, mc, pc, kc, abuf, 2 * ldb);
                const auto* ab = reinterpret_cast<const std::uint32_t*>(abuf);
                for (std::size_t p = p0; p < p1; ++p) {
                    const std::uint32_t* panel = wp + p * stride + (pc / 2) * NR;
                    const std::size_t nr = std::min(NR, n - p * NR);
                    for (std::size_t ir = 0; ir < mc; ir += MR) {
                        const std::size_t mr = std::min(MR, mc - ir);
                        float* ci = c + (ic + ir) * ldc + p * NR;
                        if (mr == MR)
                            kernel::bf16_tile<Arch, MR>(ab + ir * ldb, ldb, panel, kp, ci, ldc, MR, nr, acc);
                        else
                            bf16_tail<Arch, MR - 1>(mr, ab + ir * ldb, ldb, panel, kp, ci, ldc, nr, acc);
                    }
                }
            }
        }
        return;
    }
#endif
    ddiff::detail::fail<invalid_argument>("gemm: bf16 pair panels need AVX512-BF16 and an AVX-512 "
                                          "architecture; pack with from_bf16_widened instead");
}

// C[m, n] = A[m, k] W^T (+ C when accumulate) on the pool's threads. A: m rows at stride lda
// (>= k); C: m rows at stride ldc (>= n).
template <class Arch = default_arch>
void gemm(const float* a, std::size_t lda, std::size_t m, const panel_view& w, float* c,
          std::size_t ldc, bool accumulate, thread_pool& pool) {
    if (w.nr != gemm_config<Arch>::nr)
        ddiff::detail::fail<shape_error>("gemm: weights packed with panel width ", w.nr,
                                         ", this architecture (", Arch::name(), ") uses ",
                                         gemm_config<Arch>::nr);
    if (lda < w.k) ddiff::detail::fail<shape_error>("gemm: lda = ", lda, ", expected >= k = ", w.k);
    if (ldc < w.n) ddiff::detail::fail<shape_error>("gemm: ldc = ", ldc, ", expected >= n = ", w.n);
    const std::size_t panels = w.panels();
    // Small products are not worth a fork-join (~10 us): keep them on the calling thread.
    const double flops = 2.0 * double(m) * double(w.n) * double(w.k);
    const std::size_t threads = flops < 4e5 ? 1 : std::min(pool.size(), panels);
    if (threads <= 1) {
        gemm_panels<Arch>(a, lda, m, w, 0, panels, c, ldc, accumulate, pool.scratch(0));
        return;
    }
    // Work units of (row block <= MC rows, group of >= 256 output columns), at least 8 per thread
    // where the shape allows, taken from a shared counter: a thread that the host slows down or
    // preempts takes fewer units instead of holding the others back at a barrier (the previous
    // design, a static column split around one shared packed A block with two barriers per
    // block, was slower on this VM: docs/performance.md). Each unit packs its own A block (one
    // copy per >= 256 multiply-adds). A unit's output is computed by the same instructions
    // whichever thread takes it, so the result does not depend on the thread count or schedule.
    using cfg = gemm_config<Arch>;
    const std::size_t row_blocks = (m + cfg::mc - 1) / cfg::mc;
    const std::size_t rows = ((m + row_blocks - 1) / row_blocks + cfg::mr - 1) / cfg::mr * cfg::mr;
    constexpr std::size_t min_group = (256 + cfg::nr - 1) / cfg::nr;
    const std::size_t want_groups = (8 * threads + row_blocks - 1) / row_blocks;
    const std::size_t group = std::max(min_group, (panels + want_groups - 1) / want_groups);
    const std::size_t groups = (panels + group - 1) / group;
    const std::size_t units = row_blocks * groups;
    std::atomic<std::size_t> next{0};
    pool.run(threads, [&](std::size_t t, std::size_t) {
        for (std::size_t u; (u = next.fetch_add(1, std::memory_order_relaxed)) < units;) {
            const std::size_t r0 = std::min(m, u / groups * rows), r1 = std::min(m, r0 + rows);
            const std::size_t g = u % groups;
            gemm_panels<Arch>(a + r0 * lda, lda, r1 - r0, w, g * group, std::min(panels, (g + 1) * group),
                              c + r0 * ldc, ldc, accumulate, pool.scratch(t));
        }
    });
}

// Plain reference: C = A W^T with W [n, k] row-major, accumulated in double (for tests).
template <class WT>
void gemm_reference(const float* a, std::size_t lda, std::size_t m, const WT* w, std::size_t ldw,
                    std::size_t n, std::size_t k, double* c, std::size_t ldc) noexcept {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (std::size_t kk = 0; kk < k; ++kk)
                s += double(a[i * lda + kk]) * double(detail::load_as_float(w + j * ldw, kk));
            c[i * ldc + j] = s;
        }
}

}  // namespace ddiff::simd
