// Quantized GEMM (simd/quant/qgemm.hpp) against ddiff's bf16 GEMM (vdpbf16ps) at LLaDA-8B layer
// shapes (K, N from d_model 4096, mlp_hidden 12288; M = 32 and 288 canvas rows), 1 and 2
// threads, plus the machine's integer (vpdpbusd) and bf16 (vdpbf16ps) peaks measured the way
// bench_gemm measures the FP32 FMA peak (independent register-only chains, same run).
// Counter "flops" = 2 M N K per second for every implementation (an int8 multiply-add counts 2).
#include "common.hpp"

#include <immintrin.h>

#include <bit>
#include <cstring>

#include "ddiff/simd/quant/qgemm.hpp"

namespace {
using namespace ddiff;
using A = simd::default_arch;
using simd::quant::ggml_type;

enum impl : int { bf16_dot = 0, q8_0 = 1, q4_k = 2, q4_0 = 3, q6_k = 4, f32 = 5 };
const char* names[] = {"ddiff_bf16_dot", "ddiff_q8_0", "ddiff_q4_k", "ddiff_q4_0", "ddiff_q6_k", "ddiff_f32"};

// Random blocks with finite f16 scales (the values do not matter for speed).
std::vector<std::byte> random_blocks(ggml_type t, std::size_t n, std::size_t k) {
    const auto tr = *simd::quant::traits(std::uint32_t(t));
    std::vector<std::byte> b(n * k / tr.block * tr.bytes);
    std::mt19937 g(7);
    for (auto& x : b) x = static_cast<std::byte>(g() & 0xff);
    const std::uint16_t h = 0x1c00;  // 2^-8
    for (std::size_t i = 0; i < b.size() / tr.bytes; ++i) {
        std::byte* blk = b.data() + i * tr.bytes;
        if (t == ggml_type::q6_k) std::memcpy(blk + 208, &h, 2);
        else std::memcpy(blk, &h, 2);
        if (t == ggml_type::q4_k) std::memcpy(blk + 2, &h, 2);
    }
    return b;
}

void BM_qgemm(benchmark::State& state) {
    const std::size_t M = state.range(0), N = state.range(1), K = state.range(2);
    const std::size_t threads = state.range(3);
    const int which = int(state.range(4));
    const auto a = bench::randn(M * K, 1.0f, 1);
    std::vector<float> c(M * N);
    thread_pool pool{threads};
    if (which == bf16_dot || which == f32) {
        const auto w = bench::randn(N * K, 1.0f / std::sqrt(float(K)), 2);
        simd::packed_weights<A> pw;
        if (which == f32) {
            pw = simd::packed_weights<A>::from_f32(w.data(), N, K);
        } else {
            std::vector<simd::bf16> wb(w.size());
            for (std::size_t i = 0; i < w.size(); ++i) wb[i] = simd::to_bf16(w[i]);
            pw = simd::packed_weights<A>::from_bf16(wb.data(), N, K);
        }
        for (auto _ : state) {
            simd::gemm<A>(a.data(), K, M, pw.view(), c.data(), N, false, pool);
            benchmark::DoNotOptimize(c.data());
            benchmark::ClobberMemory();
        }
    } else {
        const ggml_type t = which == q8_0 ? ggml_type::q8_0 : which == q4_k ? ggml_type::q4_k
                          : which == q4_0 ? ggml_type::q4_0 : ggml_type::q6_k;
        const auto blocks = random_blocks(t, N, K);
        const std::size_t rb = blocks.size() / N;
        const auto qw = simd::quant::qpacked_weights<A>::from_rows(t, [&](std::size_t j) { return blocks.data() + j * rb; }, N, K);
        for (auto _ : state) {
            simd::quant::qgemm<A>(a.data(), K, M, qw.view(), c.data(), N, false, pool);
            benchmark::DoNotOptimize(c.data());
            benchmark::ClobberMemory();
        }
    }
    state.counters["flops"] = benchmark::Counter(2.0 * double(M) * double(N) * double(K),
                                                 benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(names[which]);
}

// LLaDA-8B: q/k/v/o and gate/up (K = 4096; N = 4096, 12288), down (K = 12288, N = 4096).
const long shapes[][2] = {{4096, 4096}, {12288, 4096}, {4096, 12288}};

void args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"M", "N", "K", "threads", "impl"});
    for (long m : {32L, 288L})
        for (const auto& s : shapes)
            for (long t : {1L, 2L})
                for (long which : {long(bf16_dot), long(q8_0), long(q4_k), long(q4_0), long(q6_k)})
                    b->Args({m, s[0], s[1], t, which});
}
BENCHMARK(BM_qgemm)->Apply(args)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);

// Register-only chains of vpdpbusd (int8: 64 multiply-adds = 128 ops per instruction) and
// vdpbf16ps (32 multiply-adds = 64 flops), out of line as bench_gemm's fma_chains.
template <int Chains>
DDIFF_TARGET_AVX512_BF16 __attribute__((noinline)) int vnni_chains(long iters) {
    __m512i acc[Chains];
    for (int i = 0; i < Chains; ++i) acc[i] = _mm512_set1_epi32(i);
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 24
        for (int j = 0; j < Chains; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
    }
    __m512i s = acc[0];
    for (int j = 1; j < Chains; ++j) s = _mm512_add_epi32(s, acc[j]);
    return _mm_cvtsi128_si32(_mm512_castsi512_si128(s));
}
template <int Chains>
DDIFF_TARGET_AVX512_BF16 __attribute__((noinline)) float bf16_chains(long iters) {
    __m512 acc[Chains];
    for (int i = 0; i < Chains; ++i) acc[i] = _mm512_set1_ps(0.001f * float(i));
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3a80);
    for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 24
        for (int j = 0; j < Chains; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
    }
    __m512 s = acc[0];
    for (int j = 1; j < Chains; ++j) s = _mm512_add_ps(s, acc[j]);
    return _mm512_cvtss_f32(s);
}
void BM_vnni_peak(benchmark::State& state) {
    const std::size_t threads = state.range(0);
    constexpr long iters = 1 << 20;
    thread_pool pool{threads};
    for (auto _ : state) pool.run(threads, [&](std::size_t, std::size_t) { benchmark::DoNotOptimize(vnni_chains<24>(iters)); });
    state.counters["flops"] = benchmark::Counter(double(threads) * iters * 24 * 128, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("vnni_peak");
}
void BM_bf16_peak(benchmark::State& state) {
    const std::size_t threads = state.range(0);
    constexpr long iters = 1 << 20;
    thread_pool pool{threads};
    for (auto _ : state) pool.run(threads, [&](std::size_t, std::size_t) { benchmark::DoNotOptimize(bf16_chains<24>(iters)); });
    state.counters["flops"] = benchmark::Counter(double(threads) * iters * 24 * 64, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("bf16_peak");
}
BENCHMARK(BM_vnni_peak)->ArgNames({"threads"})->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bf16_peak)->ArgNames({"threads"})->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}  // namespace

DDIFF_BENCH_MAIN()
