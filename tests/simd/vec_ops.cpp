// Tests for simd/vec_ops.hpp: every row kernel against its scalar reference (double where the
// reference is a sum), for lengths around the SIMD width, on each architecture.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/simd/vec_ops.hpp"

using namespace ddiff;

namespace {
std::vector<float> wave(std::size_t n, float scale, float phase = 0.1f) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = scale * std::sin(0.37f * float(i) + phase);
    return x;
}
const std::size_t lengths[] = {1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1027};

// Relative error of exp/tanh in xsimd (1.2e-7 measured for exp) is a few eps; the expression
// around them adds a few more roundings.
constexpr double act_rel = 16 * test::eps32;

template <class Arch>
void check_all() {
    for (std::size_t n : lengths) {
        CAPTURE(n);
        const auto x = wave(n, 3.0f), y = wave(n, 2.0f, 1.3f), z = wave(n, 0.5f, 2.1f);
        // sums
        double s2 = 0, s1 = 0, a1 = 0;
        for (float v : x) s2 += double(v) * v, s1 += v, a1 += std::abs(double(v));
        CHECK(std::abs(simd::sum_squares<Arch>(x.data(), n) - s2) <= test::sum_tolerance(n, s2, test::eps32));
        CHECK(std::abs(simd::sum<Arch>(x.data(), n) - s1) <= test::sum_tolerance(n, a1, test::eps32));
        // normalize: (x - shift) * factor * w + b, three roundings per element
        std::vector<float> out(n);
        simd::normalize<Arch>(x.data(), 0.25f, 1.5f, y.data(), z.data(), out.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
            const double r = (double(x[i]) - 0.25) * 1.5 * y[i] + z[i];
            CHECK(std::abs(out[i] - r) <= 4 * test::eps32 * (std::abs((double(x[i]) - 0.25) * 1.5 * y[i]) + std::abs(z[i]) + 1e-30));
        }
        // silu * up
        simd::silu_mul<Arch>(x.data(), y.data(), out.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
            const double g = x[i], r = g / (1 + std::exp(-g)) * y[i];
            CHECK(std::abs(out[i] - r) <= act_rel * std::abs(r) + 1e-30);
        }
        // gelu tanh (relative to |u|: near u ~ -3 the value is a small difference)
        out = x;
        simd::gelu_tanh<Arch>(out.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
            const double u = x[i], r = 0.5 * u * (1 + std::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u * u * u)));
            CHECK(std::abs(out[i] - r) <= act_rel * std::abs(u) + 1e-30);
        }
        // modulate and gated residual
        out = x;
        simd::modulate<Arch>(out.data(), y.data(), z.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
            const double r = double(x[i]) * (1 + double(z[i])) + y[i];
            CHECK(std::abs(out[i] - r) <= 3 * test::eps32 * (std::abs(double(x[i]) * (1 + double(z[i]))) + std::abs(y[i])));
        }
        out = x;
        simd::add_gated<Arch>(out.data(), z.data(), y.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
            const double r = double(x[i]) + double(z[i]) * y[i];
            CHECK(std::abs(out[i] - r) <= 2 * test::eps32 * (std::abs(x[i]) + std::abs(double(z[i]) * y[i])));
        }
    }
}

template <class Arch>
void check_rope() {
    for (std::size_t h : {1u, 3u, 8u, 16u, 17u, 32u, 64u}) {
        CAPTURE(h);
        auto x = wave(2 * h, 1.0f);
        const auto x0 = x;
        std::vector<float> c(h), s(h);
        for (std::size_t j = 0; j < h; ++j) c[j] = std::cos(0.3f * j), s[j] = std::sin(0.3f * j);
        simd::rope_rotate_half<Arch>(x.data(), c.data(), s.data(), h);
        for (std::size_t j = 0; j < h; ++j) {
            const double r1 = double(x0[j]) * c[j] - double(x0[h + j]) * s[j];
            const double r2 = double(x0[h + j]) * c[j] + double(x0[j]) * s[j];
            const double tol = 3 * test::eps32 * (std::abs(x0[j]) + std::abs(x0[h + j]));
            CHECK(std::abs(x[j] - r1) <= tol);
            CHECK(std::abs(x[h + j] - r2) <= tol);
        }
    }
}

template <class Arch>
void check_softmax() {
    for (std::size_t n : lengths) {
        CAPTURE(n);
        auto x = wave(n, 40.0f);
        x[0] = 3e38f;  // huge logits: the maximum is subtracted first, nothing overflows
        std::vector<std::uint8_t> valid(n, 1);
        for (std::size_t i = 1; i < n; i += 3) valid[i] = 0;
        for (std::size_t visible : {n, (n + 1) / 2}) {
            for (bool use_mask : {false, true}) {
                auto s = x;
                const float scale = 0.125f;
                simd::masked_softmax<Arch>(s.data(), n, scale, use_mask ? valid.data() : nullptr, visible);
                // reference in long double
                long double m = -INFINITY;
                for (std::size_t j = 0; j < visible; ++j)
                    if (!use_mask || valid[j]) m = std::max<long double>(m, (long double)scale * x[j]);
                long double z = 0;
                for (std::size_t j = 0; j < visible; ++j)
                    if (!use_mask || valid[j]) z += std::exp((long double)scale * x[j] - m);
                double total = 0;
                for (std::size_t j = 0; j < n; ++j) {
                    const bool on = j < visible && (!use_mask || valid[j]);
                    const double r = on ? double(std::exp((long double)scale * x[j] - m) / z) : 0.0;
                    CHECK(std::isfinite(s[j]));
                    CHECK(std::abs(s[j] - r) <= test::sum_tolerance(n + 8, 1.0, test::eps32) * r + (on ? 0.0 : 0.0));
                    total += s[j];
                }
                CHECK(std::abs(total - 1.0) <= test::sum_tolerance(n + 8, 1.0, test::eps32));
            }
        }
        // every key masked: zeros, not NaN
        auto s = x;
        std::vector<std::uint8_t> none(n, 0);
        simd::masked_softmax<Arch>(s.data(), n, 1.0f, none.data(), n);
        for (float v : s) CHECK(v == 0.0f);
    }
}
}  // namespace

TEST_CASE("row kernels match scalar references (default arch, AVX2, scalar)") {
    check_all<simd::default_arch>();
#if XSIMD_WITH_FMA3_AVX2  // built with AVX2 + FMA (e.g. -march=native here)
    check_all<xsimd::fma3<xsimd::avx2>>();
#endif
    check_all<simd::scalar_arch>();
}

TEST_CASE("rotate-half RoPE matches the formula") {
    check_rope<simd::default_arch>();
    check_rope<simd::scalar_arch>();
}

TEST_CASE("masked softmax never overflows and honours both masks") {
    check_softmax<simd::default_arch>();
#if XSIMD_WITH_FMA3_AVX2  // built with AVX2 + FMA (e.g. -march=native here)
    check_softmax<xsimd::fma3<xsimd::avx2>>();
#endif
    check_softmax<simd::scalar_arch>();
}
