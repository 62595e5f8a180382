// The one place that includes xsimd: the architecture tags (xsimd's, and ddiff's own for the
// dot-product extensions the GEMMs use), the default architecture, and the few horizontal
// helpers xsimd 8.1 lacks (no reduce_max / reduce_add there).
//
// A kernel is chosen by its Arch *type*, never by a macro inside a template body: the body of
// gemm_panels<avx512bw> is the same in every translation unit whatever its -m flags, and the
// vdpbf16ps / vpdpbusd bodies belong to the distinct types avx512_bf16 / avx512_vnni /
// avx2_vnni, whose intrinsics are compiled with __attribute__((target(...))) (so instantiating
// them needs only the flags of the xsimd base arch, e.g. -mavx512bw). Only the *default* arch
// alias is picked from the compile flags, as xsimd's own default is.
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
#include <type_traits>

namespace ddiff::simd {

// ---- architecture tags -----------------------------------------------------------------------
//
// ddiff's tags derive from the xsimd arch whose registers they use, so xsimd::batch<float, Arch>
// and every xsimd-based kernel work unchanged; the derived type only adds which dot-product
// instructions the GEMMs may use. Every CPU with AVX512-BF16 (Cooper Lake, Sapphire Rapids,
// Zen 4, Zen 5) also has AVX512-VNNI, hence avx512_bf16 derives from avx512_vnni.

// AVX2 + FMA + AVX-VNNI (VEX vpdpbusd on ymm; Alder Lake and later, Zen 5).
struct avx2_vnni : xsimd::fma3<xsimd::avx2> {
    static constexpr const char* name() noexcept { return "avx2+fma+avxvnni"; }
};
// AVX-512 (F, BW, VL) + AVX512-VNNI (vpdpbusd on zmm).
struct avx512_vnni : xsimd::avx512bw {
    static constexpr const char* name() noexcept { return "avx512bw+vnni"; }
};
// AVX-512 + AVX512-VNNI + AVX512-BF16 (vdpbf16ps, vcvtne2ps2bf16).
struct avx512_bf16 : avx512_vnni {
    static constexpr const char* name() noexcept { return "avx512bw+vnni+bf16"; }
};

// Tag for the portable fallback: no SIMD register at all (every kernel takes its plain loop).
struct scalar_arch {
    static constexpr const char* name() noexcept { return "scalar"; }
};

// The target attributes the extension kernels are compiled with (GCC and clang).
#define DDIFF_TARGET_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx512vnni")))
#define DDIFF_TARGET_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define DDIFF_TARGET_AVX2_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

template <class Arch>
inline constexpr bool is_avx512 = std::is_base_of_v<xsimd::avx512f, Arch>;
template <class Arch>
inline constexpr bool is_avx2_fma = std::is_base_of_v<xsimd::fma3<xsimd::avx2>, Arch>;
// vdpbf16ps (bf16 pair dot products into f32) on zmm.
template <class Arch>
inline constexpr bool has_bf16_dot = std::is_base_of_v<avx512_bf16, Arch>;
// vpdpbusd (u8 x s8 quadruple dot products into s32), on zmm / on ymm.
template <class Arch>
inline constexpr bool has_avx512_vnni = std::is_base_of_v<avx512_vnni, Arch>;
template <class Arch>
inline constexpr bool has_avx_vnni = std::is_base_of_v<avx2_vnni, Arch>;

// The architecture the translation unit was compiled for (-march decides), as xsimd's default
// plus the extensions the flags enable. Kernels take the arch as a template parameter, so
// objects built with different flags never share a symbol with a different body.
#if XSIMD_WITH_AVX512BW && defined(__AVX512VNNI__) && defined(__AVX512BF16__)
using default_arch = avx512_bf16;
#elif XSIMD_WITH_AVX512BW && defined(__AVX512VNNI__)
using default_arch = avx512_vnni;
#elif XSIMD_WITH_FMA3_AVX2 && defined(__AVXVNNI__)
using default_arch = std::conditional_t<std::is_same_v<xsimd::default_arch, xsimd::fma3<xsimd::avx2>>, avx2_vnni,
                                        xsimd::default_arch>;
#else
using default_arch = xsimd::default_arch;
#endif

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

// xsimd's registers for ddiff's tags: those of the base arch (what XSIMD_DECLARE_SIMD_REGISTER_ALIAS
// does for xsimd's own derived archs), declared where the base arch's registers exist.
namespace xsimd::types {
#if XSIMD_WITH_AVX512BW
template <class T>
struct get_bool_simd_register<T, ddiff::simd::avx512_vnni> {
    using type = simd_avx512_bool_register<T>;
};
template <class T>
struct get_bool_simd_register<T, ddiff::simd::avx512_bf16> {
    using type = simd_avx512_bool_register<T>;
};
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(ddiff::simd::avx512_vnni, avx512bw);
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(ddiff::simd::avx512_bf16, ddiff::simd::avx512_vnni);
#endif
#if XSIMD_WITH_FMA3_AVX2
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(ddiff::simd::avx2_vnni, fma3<avx2>);
#endif
}  // namespace xsimd::types
