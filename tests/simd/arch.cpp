// The GEMM kernel is chosen by the arch *type*, not by the translation unit's flags. This file is
// compiled with -march=native minus the BF16 / VNNI extensions (tests/CMakeLists.txt), so here
// the default arch is plain xsimd::avx512bw, while simd::avx512_bf16 still instantiates its
// vdpbf16ps kernel (compiled with __attribute__((target))) and gives the same products as the
// native translation units.
#include <doctest/doctest.h>

#include <random>
#include <type_traits>
#include <vector>

#include "ddiff/simd/gemm.hpp"

using namespace ddiff;

#if defined(__AVX512BF16__) || defined(__AVX512VNNI__) || defined(__AVXVNNI__)
#error "tests/simd/arch.cpp must be compiled without -mavx512bf16, -mavx512vnni and -mavxvnni"
#endif

TEST_CASE("the default arch follows the flags; the kernel follows the arch type") {
#if XSIMD_WITH_AVX512BW
    static_assert(std::is_same_v<simd::default_arch, xsimd::avx512bw>);
    static_assert(!simd::has_bf16_dot<xsimd::avx512bw> && simd::has_bf16_dot<simd::avx512_bf16>);
    static_assert(simd::has_avx512_vnni<simd::avx512_bf16> && !simd::has_avx_vnni<simd::avx512_bf16>);
    const std::size_t m = 29, n = 70, k = 67;
    std::mt19937 g(11);
    std::uniform_int_distribution<int> d(-4, 4);
    std::vector<float> a(m * k);
    std::vector<simd::bf16> w(n * k);
    for (auto& x : a) x = float(d(g));
    for (auto& x : w) x = simd::to_bf16(float(d(g)));
    // Small integers: every product and partial sum is exact in bf16 x bf16 -> f32, so both
    // paths must give the exact integer product.
    std::vector<double> ref(m * n, 0.0);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t kk = 0; kk < k; ++kk) ref[i * n + j] += double(a[i * k + kk]) * double(simd::to_float(w[j * k + kk]));
    thread_pool pool(2);
    auto plain = simd::packed_weights<xsimd::avx512bw>::from_bf16(w.data(), n, k);
    CHECK(plain.format() == simd::panel_format::f32);  // no vdpbf16ps for this type: widened
    std::vector<float> c(m * n);
    simd::gemm<xsimd::avx512bw>(a.data(), k, m, plain.view(), c.data(), n, false, pool);
    for (std::size_t i = 0; i < m * n; ++i) REQUIRE(double(c[i]) == ref[i]);

    auto dot = simd::packed_weights<simd::avx512_bf16>::from_bf16(w.data(), n, k);
    CHECK(dot.format() == simd::panel_format::bf16_pairs);
    if (__builtin_cpu_supports("avx512bf16")) {
        std::fill(c.begin(), c.end(), 0.0f);
        simd::gemm<simd::avx512_bf16>(a.data(), k, m, dot.view(), c.data(), n, false, pool);
        for (std::size_t i = 0; i < m * n; ++i) REQUIRE(double(c[i]) == ref[i]);
    } else {
        MESSAGE("this CPU has no AVX512-BF16: the vdpbf16ps product was compiled but not run");
    }
    // bf16 pair panels on an arch without vdpbf16ps: a typed error, not a silent fallback.
    CHECK_THROWS_AS(simd::gemm<xsimd::avx512bw>(a.data(), k, m, dot.view(), c.data(), n, false, pool), invalid_argument);
#else
    MESSAGE("built without AVX-512: nothing to compare");
#endif
}
