// The GEMM driver C = A W^T (+ C) on packed panels: cache blocking around the micro-kernels
// (K blocks of KC -> M blocks of MC, A packed into the thread's scratch, in L2 -> panels of W,
// KC x NR, streamed from L2 and reused by every MR-row tile -> tiles), and (row block x panel
// group) work units shared by a thread_pool's threads through a counter. Every output element
// is computed by the same instruction sequence whatever the thread count and the panel range,
// so results do not depend on the number of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ddiff/core/error.hpp"
#include "ddiff/core/thread_pool.hpp"
#include "ddiff/simd/backend.hpp"
#include "ddiff/simd/gemm/config.hpp"
#include "ddiff/simd/gemm/kernels.hpp"
#include "ddiff/simd/gemm/pack.hpp"

namespace ddiff::simd {

namespace detail {
// f32 panels: A blocks packed MR-interleaved, f32_tile.
template <class Arch>
void gemm_panels_f32(const float* a, std::size_t lda, std::size_t m, const panel_view& w, std::size_t p0,
                     std::size_t p1, float* c, std::size_t ldc, bool accumulate, std::span<std::byte> scratch) {
    using cfg = gemm_config<Arch>;
    constexpr std::size_t NR = cfg::nr, MR = cfg::mr;
    const std::size_t n = w.n, k = w.k;
    const float* wp = static_cast<const float*>(w.data);
    float* abuf = reinterpret_cast<float*>(scratch.data());
    const std::size_t stride = w.panel_stride();
    for (std::size_t pc = 0; pc < k; pc += cfg::kc) {
        const std::size_t kc = std::min(cfg::kc, k - pc);
        const bool acc = accumulate || pc > 0;
        for (std::size_t ic = 0; ic < m; ic += cfg::mc) {
            const std::size_t mc = std::min(cfg::mc, m - ic);
            kernel::pack_a_f32<Arch, MR>(a + ic * lda + pc, lda, mc, kc, abuf);
            for (std::size_t p = p0; p < p1; ++p) {
                const float* panel = wp + p * stride + pc * NR;
                const std::size_t nr = std::min(NR, n - p * NR);
                for (std::size_t ir = 0; ir < mc; ir += MR) {
                    const std::size_t mr = std::min(MR, mc - ir);
                    kernel::f32_tile<Arch, MR>(abuf + ir * kc, panel, kc, c + (ic + ir) * ldc + p * NR, ldc, mr,
                                               nr, acc);
                }
            }
        }
    }
}

// bf16 pair panels (has_bf16_dot archs): A blocks rounded to bf16 rows, bf16_tile.
template <class Arch>
void gemm_panels_bf16(const float* a, std::size_t lda, std::size_t m, const panel_view& w, std::size_t p0,
                      std::size_t p1, float* c, std::size_t ldc, bool accumulate, std::span<std::byte> scratch) {
    using cfg = gemm_config<Arch>;
    constexpr std::size_t NR = cfg::nr, MR = cfg::mr;
    const std::size_t n = w.n, k = w.k;
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
                        kernel::bf16_tail<Arch, MR - 1>(mr, ab + ir * ldb, ldb, panel, kp, ci, ldc, nr, acc);
                }
            }
        }
    }
}
}  // namespace detail

// GEMM over panels [p0, p1) of w (output columns [p0*NR, min(p1*NR, n))):
// C[m, cols] = A[m, k] W^T (+ C when accumulate). scratch: gemm_config<Arch>::scratch_bytes,
// 64-byte aligned (thread_pool::scratch), owned by the calling thread.
template <class Arch = default_arch>
void gemm_panels(const float* a, std::size_t lda, std::size_t m, const panel_view& w, std::size_t p0,
                 std::size_t p1, float* c, std::size_t ldc, bool accumulate, std::span<std::byte> scratch) {
    using cfg = gemm_config<Arch>;
    if (m == 0 || p0 >= p1) return;
    if (scratch.size() < cfg::scratch_bytes)
        ddiff::detail::fail<shape_error>("gemm: needs ", cfg::scratch_bytes, " bytes of thread scratch, got ",
                                         scratch.size());
    if (w.format == panel_format::f32)
        return detail::gemm_panels_f32<Arch>(a, lda, m, w, p0, p1, c, ldc, accumulate, scratch);
    if constexpr (has_bf16_dot<Arch>)
        return detail::gemm_panels_bf16<Arch>(a, lda, m, w, p0, p1, c, ldc, accumulate, scratch);
    ddiff::detail::fail<invalid_argument>("gemm: bf16 pair panels need an arch with vdpbf16ps (simd::avx512_bf16), "
                                          "this one is ", Arch::name(), "; pack with from_bf16_widened instead");
}

// Splits an m x (panels of w) product into work units of (a block of at most MC rows) x (a
// group of at least 256 output columns), at least 8 per thread where the shape allows, and runs
// unit(r0, r1, p0, p1, thread) for each on the pool's threads, which take units from an atomic
// counter: a thread that the host slows down or preempts takes fewer units instead of holding
// the others back at a barrier (the previous design, a static column split around one shared
// packed A block with two barriers per block, was slower on this VM: docs/performance.md). A
// unit's output is computed by the same instructions whichever thread takes it, so the result
// does not depend on the thread count or schedule. Products below ~4e5 flops stay on the
// calling thread (a fork-join costs ~10 us). mr: the row multiple of a block.
template <class Unit>
void for_each_gemm_unit(std::size_t m, std::size_t panels, std::size_t nr, std::size_t mr, std::size_t mc,
                        double flops, thread_pool& pool, Unit&& unit) {
    const std::size_t threads = flops < 4e5 ? 1 : std::min(pool.size(), panels);
    if (threads <= 1) {
        unit(std::size_t{0}, m, std::size_t{0}, panels, std::size_t{0});
        return;
    }
    const std::size_t row_blocks = (m + mc - 1) / mc;
    const std::size_t rows = ((m + row_blocks - 1) / row_blocks + mr - 1) / mr * mr;
    const std::size_t min_group = (256 + nr - 1) / nr;
    const std::size_t want_groups = (8 * threads + row_blocks - 1) / row_blocks;
    const std::size_t group = std::max(min_group, (panels + want_groups - 1) / want_groups);
    const std::size_t groups = (panels + group - 1) / group;
    const std::size_t units = row_blocks * groups;
    std::atomic<std::size_t> next{0};
    pool.run(threads, [&](std::size_t t, std::size_t) {
        for (std::size_t u; (u = next.fetch_add(1, std::memory_order_relaxed)) < units;) {
            const std::size_t r0 = std::min(m, u / groups * rows), r1 = std::min(m, r0 + rows);
            const std::size_t g = u % groups;
            unit(r0, r1, g * group, std::min(panels, (g + 1) * group), t);
        }
    });
}

// C[m, n] = A[m, k] W^T (+ C when accumulate) on the pool's threads. A: m rows at stride lda
// (>= k); C: m rows at stride ldc (>= n).
template <class Arch = default_arch>
void gemm(const float* a, std::size_t lda, std::size_t m, const panel_view& w, float* c, std::size_t ldc,
          bool accumulate, thread_pool& pool) {
    using cfg = gemm_config<Arch>;
    if (w.nr != cfg::nr)
        ddiff::detail::fail<shape_error>("gemm: weights packed with panel width ", w.nr, ", this architecture (",
                                         Arch::name(), ") uses ", cfg::nr);
    if (lda < w.k) ddiff::detail::fail<shape_error>("gemm: lda = ", lda, ", expected >= k = ", w.k);
    if (ldc < w.n) ddiff::detail::fail<shape_error>("gemm: ldc = ", ldc, ", expected >= n = ", w.n);
    const double flops = 2.0 * double(m) * double(w.n) * double(w.k);
    for_each_gemm_unit(m, w.panels(), cfg::nr, cfg::mr, cfg::mc, flops, pool,
                       [&](std::size_t r0, std::size_t r1, std::size_t p0, std::size_t p1, std::size_t t) {
                           gemm_panels<Arch>(a + r0 * lda, lda, r1 - r0, w, p0, p1, c + r0 * ldc, ldc, accumulate,
                                             pool.scratch(t));
                       });
}

}  // namespace ddiff::simd
