// Tests for simd/quant/qgemm.hpp: the integer GEMM on every arch this build can run equals the
// exact-integer scalar reference bit for bit (random blocks of every quantized type, odd shapes,
// accumulation, 1 / 2 / 3 threads), and the reference is within the bound that activation
// quantization allows of the float64 product with gguf-py-exact dequantized weights.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "ddiff/simd/quant/qgemm.hpp"

using namespace ddiff;
using namespace ddiff::simd::quant;

namespace {

// n rows of k elements of type t: random bytes, with every f16 scale field set to a random
// finite value (so any decoded value is finite), deterministic per seed.
std::vector<std::byte> random_rows(ggml_type t, std::size_t n, std::size_t k, unsigned seed) {
    const auto tr = *traits(std::uint32_t(t));
    const std::size_t blocks = n * k / tr.block;
    std::vector<std::byte> b(blocks * tr.bytes);
    std::mt19937 g(seed);
    for (auto& x : b) x = static_cast<std::byte>(g() & 0xff);
    std::uniform_real_distribution<float> u(-0.05f, 0.05f);
    auto set_half = [&](std::byte* p, float v) {
        // f32 -> f16 for |v| in a normal f16 range: round by truncation is fine (any finite value).
        const std::uint32_t x = std::bit_cast<std::uint32_t>(v);
        const std::uint16_t h = static_cast<std::uint16_t>(((x >> 16) & 0x8000) | ((((x >> 23) & 0xff) - 112) << 10) |
                                                           ((x >> 13) & 0x3ff));
        std::memcpy(p, &h, 2);
    };
    for (std::size_t i = 0; i < blocks; ++i) {
        std::byte* blk = b.data() + i * tr.bytes;
        auto v = [&] { float f = u(g); return std::abs(f) < 1e-4f ? 1e-3f : f; };
        switch (t) {
            case ggml_type::q8_0: case ggml_type::q4_0: set_half(blk, v()); break;
            case ggml_type::q4_k: case ggml_type::q5_k: set_half(blk, std::abs(v())); set_half(blk + 2, std::abs(v())); break;
            case ggml_type::q6_k: set_half(blk + 208, v()); break;
            default: break;
        }
    }
    return b;
}

struct problem {
    ggml_type t;
    std::size_t m, n, k;
    std::vector<std::byte> w;
    std::vector<float> a;
    std::size_t row_bytes() const { return k / traits(std::uint32_t(t))->block * traits(std::uint32_t(t))->bytes; }
    const std::byte* row(std::size_t j) const { return w.data() + j * row_bytes(); }
};

problem make(ggml_type t, std::size_t m, std::size_t n, std::size_t k, unsigned seed) {
    problem p{t, m, n, k, random_rows(t, n, k, seed), std::vector<float>(m * k)};
    std::mt19937 g(seed + 1);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (auto& x : p.a) x = d(g);
    if (m > 2) std::fill(p.a.begin() + std::ptrdiff_t(k), p.a.begin() + std::ptrdiff_t(2 * k), 0.0f);  // a zero row
    return p;
}

// The reference on the same quantized activations.
std::vector<float> reference(const problem& p, bool accumulate, float init) {
    std::vector<std::byte> buf(qactivations::bytes(p.m, p.k, format_of(p.t)));
    qactivations qa{p.m, p.k, format_of(p.t), nullptr, nullptr, nullptr};
    qa.a = reinterpret_cast<std::int8_t*>(buf.data());
    qa.da = reinterpret_cast<float*>(buf.data() + (p.m * p.k + 63) / 64 * 64);
    qa.aux = reinterpret_cast<std::int32_t*>(reinterpret_cast<std::byte*>(qa.da) + p.m * (p.k / qa.fmt.act) * 4);
    quantize_activation_rows(p.a.data(), p.k, 0, p.m, qa);
    std::vector<float> c(p.m * p.n, init);
    qgemm_reference(p.t, [&](std::size_t j) { return p.row(j); }, p.n, qa, c.data(), p.n, accumulate);
    return c;
}

template <class Arch>
std::vector<float> run(const problem& p, thread_pool& pool, bool accumulate, float init) {
    const auto w = qpacked_weights<Arch>::from_rows(p.t, [&](std::size_t j) { return p.row(j); }, p.n, p.k);
    std::vector<float> c(p.m * p.n, init);
    qgemm<Arch>(p.a.data(), p.k, p.m, w.view(), c.data(), p.n, accumulate, pool);
    return c;
}

std::size_t differ(const std::vector<float>& a, const std::vector<float>& b) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]);
    return n;
}

const ggml_type all_types[] = {ggml_type::q8_0, ggml_type::q4_0, ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k};

template <class Arch>
void check_arch(const char* name) {
    thread_pool one(1), two(2), three(3);
    for (ggml_type t : all_types) {
        const bool k_quant = geometry(t).block == qk_k;
        for (auto [m, n, k] : {std::array<std::size_t, 3>{1, 1, 256}, {5, 17, 256}, {13, 40, 512}, {37, 33, 768},
                               {100, 300, 256}, {9, 1, 1024}}) {
            CAPTURE(name);
            CAPTURE(traits(std::uint32_t(t))->name);
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            const problem p = make(t, m, n, k, unsigned(m * 7 + n * 13 + k + std::uint32_t(t)));
            const auto ref = reference(p, false, 0.0f);
            CHECK(differ(run<Arch>(p, one, false, 0.0f), ref) == 0);
            CHECK(differ(run<Arch>(p, two, false, 0.0f), ref) == 0);
            CHECK(differ(run<Arch>(p, three, false, 0.0f), ref) == 0);
            CHECK(differ(run<Arch>(p, two, true, 0.5f), reference(p, true, 0.5f)) == 0);
            (void)k_quant;
        }
        if (!k_quant) {  // 32-blocks: k need not be a multiple of 256
            const problem p = make(t, 7, 19, 96, 99);
            CHECK(differ(run<Arch>(p, two, false, 0.0f), reference(p, false, 0.0f)) == 0);
        }
    }
}

}  // namespace

TEST_CASE("qgemm equals the exact-integer reference bit for bit on every arch, shape and thread count") {
    check_arch<simd::default_arch>(simd::default_arch::name());
#if XSIMD_WITH_AVX512BW
    check_arch<simd::avx512_vnni>("avx512_vnni");
    check_arch<xsimd::avx512bw>("avx512bw (plain kernel)");
#endif
#if XSIMD_WITH_FMA3_AVX2
    if (__builtin_cpu_supports("avxvnni")) check_arch<simd::avx2_vnni>("avx2_vnni");
    else MESSAGE("this CPU has no AVX-VNNI: the avx2_vnni kernel was compiled but not run");
#endif
    check_arch<simd::scalar_arch>("scalar");
}

TEST_CASE("qgemm reference is within the activation-quantization bound of the float64 product") {
    // |C - A W| <= sum_k |w_jk| |a_ik - da q_ik| + rounding, and |a - da q| <= da / 2 per element
    // (round to nearest of a / da; da = max|a| / 127 over the activation block); the float
    // combination adds at most (number of sub-blocks + 2) roundings of sum |w| |a| (eps each).
    for (ggml_type t : all_types) {
        CAPTURE(traits(std::uint32_t(t))->name);
        const problem p = make(t, 6, 23, 512, 7);
        const auto c = reference(p, false, 0.0f);
        const auto f = format_of(t);
        std::vector<float> w(p.n * p.k);
        for (std::size_t j = 0; j < p.n; ++j) dequantize_row(t, p.row(j), p.k, w.data() + j * p.k);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < p.m; ++i)
            for (std::size_t j = 0; j < p.n; ++j) {
                double exact = 0, bound = 0, mag = 0;
                for (std::size_t b = 0; b < p.k / f.act; ++b) {
                    double amax = 0;
                    for (std::size_t e = 0; e < f.act; ++e) amax = std::max(amax, double(std::abs(p.a[i * p.k + b * f.act + e])));
                    // d = fl(amax / 127) and q = round(fl(x * fl(1 / d))): |x / d - x * (1 / d)| <= 127 * 2 eps,
                    // so |x - d q| <= d (1/2 + 254 eps).
                    const double eps = std::ldexp(1.0, -24);
                    const double half_step = amax / 127.0 * (1 + eps) * (0.5 + 254 * eps * 1.01);
                    for (std::size_t e = 0; e < f.act; ++e) {
                        const std::size_t kk = b * f.act + e;
                        exact += double(p.a[i * p.k + kk]) * double(w[j * p.k + kk]);
                        bound += std::abs(double(w[j * p.k + kk])) * half_step;
                        mag += std::abs(double(w[j * p.k + kk])) * (std::abs(double(p.a[i * p.k + kk])) + half_step);
                    }
                }
                bound += double(p.k / f.sub + 2) * std::ldexp(1.0, -23) * mag * 2;
                bad += std::abs(double(c[i * p.n + j]) - exact) > bound;
            }
        CHECK(bad == 0);
    }
}
