// Tests for simd/gemm.hpp against the double-accumulating reference, for every architecture
// this build can run (AVX-512, AVX2+FMA, scalar), odd sizes, strides, accumulation, bf16
// weights, and thread counts.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "../support/tolerance.hpp"
#include "ddiff/simd/gemm.hpp"

using namespace ddiff;
using simd::bf16;
using ddiff::thread_pool;

namespace {

struct problem {
    std::size_t m, n, k, lda, ldw, ldc;
    std::vector<float> a, w;
};

problem make(std::size_t m, std::size_t n, std::size_t k, bool integers, unsigned seed, std::size_t pad = 0) {
    problem p{m, n, k, k + pad, k + pad, n + pad, {}, {}};
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> di(-4, 4);
    std::normal_distribution<float> dn(0.0f, 1.0f);
    p.a.resize(m * p.lda);
    p.w.resize(n * p.ldw);
    for (auto& x : p.a) x = integers ? float(di(g)) : dn(g);
    for (auto& x : p.w) x = integers ? float(di(g)) : dn(g);
    return p;
}

// Reference C and the per-element bound sum_k |a_ik| |w_jk| (what the rounding error scales with).
void reference(const problem& p, std::vector<double>& c, std::vector<double>& absdot, bool round_a_bf16 = false,
               bool round_w_bf16 = false) {
    c.assign(p.m * p.n, 0.0);
    absdot.assign(p.m * p.n, 0.0);
    for (std::size_t i = 0; i < p.m; ++i)
        for (std::size_t j = 0; j < p.n; ++j) {
            double s = 0, t = 0;
            for (std::size_t k = 0; k < p.k; ++k) {
                float a = p.a[i * p.lda + k], w = p.w[j * p.ldw + k];
                if (round_a_bf16) a = simd::round_to_bf16(a);
                if (round_w_bf16) w = simd::round_to_bf16(w);
                s += double(a) * double(w);
                t += std::abs(double(a) * double(w));
            }
            c[i * p.n + j] = s;
            absdot[i * p.n + j] = t;
        }
}

template <class Arch>
std::vector<float> run(const problem& p, const simd::packed_weights<Arch>& pw, thread_pool& pool, bool accumulate = false,
                       float init = 0.0f) {
    std::vector<float> c(p.m * p.ldc, init);
    simd::gemm<Arch>(p.a.data(), p.lda, p.m, pw.view(), c.data(), p.ldc, accumulate, pool);
    return c;
}

const std::array<std::size_t, 3> sizes[] = {{1, 1, 1},   {1, 1, 7},    {3, 1, 5},     {1, 5, 1},    {13, 33, 1},
                                {7, 31, 17}, {12, 32, 16}, {25, 65, 129}, {37, 45, 67}, {241, 97, 300},
                                {5, 200, 513}, {250, 40, 1030}, {3, 40, 2100}, {13, 70, 4200},
                                // several row blocks x column groups: the threaded GEMM's work units
                                {100, 1100, 33}, {200, 600, 70}};

template <class Arch>
void check_f32(const char* name) {
    thread_pool one(1), two(2), three(3);
    for (auto [m, n, k] : sizes)
        for (std::size_t pad : {0u, 3u}) {
            CAPTURE(name);
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(pad);
            const problem p = make(m, n, k, false, unsigned(m * 131 + n * 7 + k + pad));
            auto pw = simd::packed_weights<Arch>::from_f32(p.w.data(), n, k, p.ldw);
            std::vector<double> ref, absdot;
            reference(p, ref, absdot);
            const auto c1 = run<Arch>(p, pw, one);
            const auto c2 = run<Arch>(p, pw, two);
            const auto c3 = run<Arch>(p, pw, three);  // more threads than cores: uneven split
            std::size_t bad = 0;
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < n; ++j) {
                    const double tol = test::sum_tolerance(k + 1, absdot[i * n + j], test::eps32);
                    bad += std::abs(c1[i * p.ldc + j] - ref[i * n + j]) > tol;
                    bad += c1[i * p.ldc + j] != c2[i * p.ldc + j];  // thread count never changes a bit
                    bad += c1[i * p.ldc + j] != c3[i * p.ldc + j];
                }
            CHECK(bad == 0);
        }
}

template <class Arch>
void check_integers_exact(const char* name) {
    thread_pool two(2);
    for (auto [m, n, k] : sizes) {
        CAPTURE(name);
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        // |a|, |w| <= 4 and k <= 1030: every partial sum is an integer below 2^24, exact in f32.
        const problem p = make(m, n, k, true, unsigned(m + n + k), 1);
        auto pw = simd::packed_weights<Arch>::from_f32(p.w.data(), n, k, p.ldw);
        std::vector<double> ref, absdot;
        reference(p, ref, absdot);
        const auto c = run<Arch>(p, pw, two);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) bad += double(c[i * p.ldc + j]) != ref[i * n + j];
        CHECK(bad == 0);
        // Accumulate mode adds to what C holds (integers again: exact).
        const auto c_acc = run<Arch>(p, pw, two, true, 3.0f);
        bad = 0;
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) bad += double(c_acc[i * p.ldc + j]) != ref[i * n + j] + 3.0;
        CHECK(bad == 0);
    }
}

}  // namespace

TEST_CASE("gemm f32 matches the reference within k eps sum|a||w| on every architecture") {
    check_f32<simd::default_arch>(simd::default_arch::name());
#if XSIMD_WITH_FMA3_AVX2  // built with AVX2 + FMA (e.g. -march=native here)
    check_f32<xsimd::fma3<xsimd::avx2>>("fma3+avx2");
    check_f32<xsimd::avx2>("avx2 (no fma)");
#endif
    check_f32<simd::scalar_arch>("scalar");
}

TEST_CASE("gemm is exact on integer-valued inputs, with and without accumulation") {
    check_integers_exact<simd::default_arch>(simd::default_arch::name());
#if XSIMD_WITH_FMA3_AVX2  // built with AVX2 + FMA (e.g. -march=native here)
    check_integers_exact<xsimd::fma3<xsimd::avx2>>("fma3+avx2");
#endif
    check_integers_exact<simd::scalar_arch>("scalar");
}

TEST_CASE("gemm with bf16 weights") {
    using A = simd::default_arch;
    thread_pool one(1), two(2);
    for (auto [m, n, k] : sizes) {
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        const problem p = make(m, n, k, false, unsigned(3 * m + n + k));
        std::vector<bf16> wb(p.w.size());
        for (std::size_t i = 0; i < wb.size(); ++i) wb[i] = simd::to_bf16(p.w[i]);
        std::vector<double> ref, absdot;
        // Widened path: exact bf16 weights, f32 arithmetic.
        reference(p, ref, absdot, false, true);
        auto widened = simd::packed_weights<A>::from_bf16_widened(wb.data(), n, k, p.ldw);
        CHECK(widened.format() == simd::panel_format::f32);
        const auto cw = run<A>(p, widened, two);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j)
                bad += std::abs(cw[i * p.ldc + j] - ref[i * n + j]) > test::sum_tolerance(k + 1, absdot[i * n + j], test::eps32);
        CHECK(bad == 0);
        // vdpbf16ps path: A is rounded to bf16 too; against that reference the error is f32
        // accumulation (2 k eps: the pair sums round once more).
        auto dot = simd::packed_weights<A>::from_bf16(wb.data(), n, k, p.ldw);
        reference(p, ref, absdot, simd::has_bf16_dot<A>, true);
        const auto c1 = run<A>(p, dot, one);
        const auto c2 = run<A>(p, dot, two);
        bad = 0;
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                bad += std::abs(c1[i * p.ldc + j] - ref[i * n + j]) >
                       test::sum_tolerance(2 * k + 2, absdot[i * n + j], test::eps32);
                bad += c1[i * p.ldc + j] != c2[i * p.ldc + j];
            }
        CHECK(bad == 0);
        // Against the unrounded f32 product the bf16 rounding of A (unit roundoff 2^-8) dominates.
        reference(p, ref, absdot, false, true);
        bad = 0;
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j)
                bad += std::abs(c1[i * p.ldc + j] - ref[i * n + j]) >
                       (std::ldexp(1.0, -8) + test::sum_tolerance(2 * k + 2, 1.0, test::eps32)) * absdot[i * n + j];
        CHECK(bad == 0);
    }
}

TEST_CASE("gemm with bf16 weights is exact on small integers") {
    using A = simd::default_arch;
    thread_pool two(2);
    for (auto [m, n, k] : sizes) {
        const problem p = make(m, n, k, true, unsigned(m * n + k));
        std::vector<bf16> wb(p.w.size());
        for (std::size_t i = 0; i < wb.size(); ++i) wb[i] = simd::to_bf16(p.w[i]);
        auto pw = simd::packed_weights<A>::from_bf16(wb.data(), n, k, p.ldw);
        std::vector<double> ref, absdot;
        reference(p, ref, absdot);
        const auto c = run<A>(p, pw, two);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) bad += double(c[i * p.ldc + j]) != ref[i * n + j];
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        CHECK(bad == 0);
    }
}

TEST_CASE("packed_weights::from_rows packs a matrix from separately stored parts") {
    // The fused q/k/v and gate/up projections of the model loaders: rows split into parts held
    // in separate buffers (cut inside a panel of nr rows, too) must multiply exactly like the
    // whole matrix; integer inputs make the reference exact.
    using A = simd::default_arch;
    thread_pool two(2);
    for (auto [m, n, k] : sizes) {
        if (n < 3) continue;
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        const problem p = make(m, n, k, true, unsigned(7 * m + 3 * n + k));
        const std::size_t cut[4] = {0, n / 3, n / 3 + (n + 2) / 3, n};
        std::vector<float> parts[3];
        std::vector<bf16> parts_bf16[3];
        for (int i = 0; i < 3; ++i)
            for (std::size_t r = cut[i]; r < cut[i + 1]; ++r)
                for (std::size_t c = 0; c < k; ++c) {
                    parts[i].push_back(p.w[r * p.ldw + c]);
                    parts_bf16[i].push_back(simd::to_bf16(p.w[r * p.ldw + c]));
                }
        auto part_of = [&](std::size_t r) { return r < cut[1] ? 0 : r < cut[2] ? 1 : 2; };
        auto row_f32 = [&](std::size_t r) -> const float* {
            const int i = part_of(r);
            return parts[i].data() + (r - cut[i]) * k;
        };
        auto row_bf16 = [&](std::size_t r) -> const bf16* {
            const int i = part_of(r);
            return parts_bf16[i].data() + (r - cut[i]) * k;
        };
        std::vector<double> ref, absdot;
        reference(p, ref, absdot);
        const auto f = simd::packed_weights<A>::from_rows(row_f32, n, k, true);
        const auto dot = simd::packed_weights<A>::from_rows(row_bf16, n, k, true);
        const auto wide = simd::packed_weights<A>::from_rows(row_bf16, n, k, false);
        CHECK(f.format() == simd::panel_format::f32);
        CHECK(wide.format() == simd::panel_format::f32);
        CHECK(dot.format() == (simd::has_bf16_dot<A> ? simd::panel_format::bf16_pairs : simd::panel_format::f32));
        for (const auto* pw : {&f, &dot, &wide}) {
            const auto c = run<A>(p, *pw, two);
            std::size_t bad = 0;
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < n; ++j) bad += double(c[i * p.ldc + j]) != ref[i * n + j];
            CHECK(bad == 0);
        }
    }
}

TEST_CASE("pack_columns_f32 packs B [k, n] for C = A B") {
    using A = simd::default_arch;
    const std::size_t m = 9, k = 23, n = 37;
    const problem p = make(m, n, k, true, 5);
    // B = W^T, stored [k, n].
    std::vector<float> b(k * n);
    for (std::size_t j = 0; j < n; ++j)
        for (std::size_t kk = 0; kk < k; ++kk) b[kk * n + j] = p.w[j * p.ldw + kk];
    std::vector<float> packed(simd::packed_elements<A>(n, k, simd::panel_format::f32) + 16);
    float* aligned = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(packed.data()) + 63) & ~std::uintptr_t(63));
    simd::pack_columns_f32<A>(b.data(), n, k, n, aligned);
    const simd::panel_view v{simd::panel_format::f32, n, k, simd::gemm_config<A>::nr, aligned};
    thread_pool one(1);
    std::vector<float> c(m * n);
    simd::gemm<A>(p.a.data(), p.lda, m, v, c.data(), n, false, one);
    std::vector<double> ref, absdot;
    reference(p, ref, absdot);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < m * n; ++i) bad += double(c[i]) != ref[i];
    CHECK(bad == 0);
}

TEST_CASE("gemm rejects mismatched shapes with typed errors") {
    using A = simd::default_arch;
    thread_pool one(1);
    std::vector<float> w(6 * 4, 1.0f), a(3 * 4, 1.0f), c(3 * 6);
    auto pw = simd::packed_weights<A>::from_f32(w.data(), 6, 4);
    CHECK_THROWS_AS(simd::gemm<A>(a.data(), 3, 3, pw.view(), c.data(), 6, false, one), shape_error);  // lda < k
    CHECK_THROWS_AS(simd::gemm<A>(a.data(), 4, 3, pw.view(), c.data(), 5, false, one), shape_error);  // ldc < n
    auto wrong_width = pw.view();  // packed for another architecture's panel width
    wrong_width.nr *= 2;
    CHECK_THROWS_AS(simd::gemm<A>(a.data(), 4, 3, wrong_width, c.data(), 6, false, one), shape_error);
    CHECK_THROWS_AS(simd::packed_weights<A>::from_f32(w.data(), 0, 4), invalid_argument);
    CHECK_THROWS_AS(thread_pool(0), invalid_argument);
}

TEST_CASE("bf16 conversion rounds to nearest even") {
    CHECK(simd::to_bf16(1.0f).bits == 0x3f80);
    CHECK(simd::round_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 1.0f);                       // tie -> even
    CHECK(simd::round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 1.0f + std::ldexp(1.0f, -6));  // tie -> even (up)
    CHECK(simd::round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -12)) == 1.0f + std::ldexp(1.0f, -7));
    CHECK(std::isnan(simd::to_float(simd::to_bf16(NAN))));
    CHECK(simd::to_float(simd::to_bf16(-INFINITY)) == -INFINITY);
}

TEST_CASE("thread_pool runs every task once and propagates exceptions") {
    thread_pool pool(2);
    std::vector<int> hits(101, 0);
    pool.run(hits.size(), [&](std::size_t i, std::size_t) { hits[i] += 1; });
    for (int h : hits) CHECK(h == 1);
    CHECK_THROWS_AS(pool.run(4, [](std::size_t i, std::size_t) {
        if (i == 3) throw invalid_argument("task 3");
    }),
                    invalid_argument);
    pool.run(2, [&](std::size_t i, std::size_t) { hits[i] = 7; });  // still usable
    CHECK(hits[0] == 7);
    CHECK(hits[1] == 7);
}
