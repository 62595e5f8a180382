// The one place that includes xsimd: architecture selection and the few horizontal helpers
// xsimd 8.1 lacks (no reduce_max / reduce_add there).
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
// GCC 12 warns falsely from avx512fintrin.h when xsimd::exp is inlined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cstddef>

namespace ddiff::simd {

// The architecture the translation unit was compiled for (-march decides); kernels take it
// as a template parameter so objects built with different flags never share symbols.
using default_arch = xsimd::default_arch;

// Tag for the portable fallback: no SIMD register at all (every kernel takes its plain loop).
struct scalar_arch {
    static constexpr const char* name() noexcept { return "scalar"; }
};

template <class T, class Arch>
inline constexpr bool has_batch = xsimd::has_simd_register<T, Arch>::value;

template <class T, class Arch>
T horizontal_max(const xsimd::batch<T, Arch>& b) noexcept {
    alignas(Arch::alignment()) T lanes[xsimd::batch<T, Arch>::size];
    b.store_aligned(lanes);
    T m = lanes[0];
    for (std::size_t i = 1; i < xsimd::batch<T, Arch>::size; ++i) m = std::max(m, lanes[i]);
    return m;
}

template <class T, class Arch>
T horizontal_sum(const xsimd::batch<T, Arch>& b) noexcept {
    return xsimd::hadd(b);
}

}  // namespace ddiff::simd
