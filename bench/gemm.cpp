// GEMM C = A W^T at the shapes of issue 4, 1 and 2 threads: ddiff f32, ddiff bf16 weights
// (vdpbf16ps, and widened to f32 at packing) and OpenBLAS sgemm (same run, AVX-512 kernel).
// Counter "flops" is a rate (FLOP/s); tools/bench/bench_to_md.py turns it into the table.
#include "common.hpp"

#include <immintrin.h>

namespace {
using namespace ddiff;
using A = simd::default_arch;

const long shapes[][3] = {{512, 2048, 2048}, {1024, 1024, 1024}, {128, 11008, 4096}, {64, 512, 512}};

enum impl : int { f32 = 0, bf16_dot = 1, bf16_widen = 2, openblas = 3 };

void BM_gemm(benchmark::State& state) {
    const std::size_t M = state.range(0), N = state.range(1), K = state.range(2);
    const int threads = int(state.range(3));
    const int which = int(state.range(4));
    const auto a = bench::randn(M * K, 1.0f, 1);
    const auto w = bench::randn(N * K, 1.0f / std::sqrt(float(K)), 2);
    std::vector<float> c(M * N);
    if (which == openblas) {
#if DDIFF_BENCH_OPENBLAS
        openblas_set_num_threads(threads);
        for (auto _ : state) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, a.data(), int(K), w.data(),
                        int(K), 0.0f, c.data(), int(N));
            benchmark::DoNotOptimize(c.data());
            benchmark::ClobberMemory();
        }
#else
        state.SkipWithError("built without OpenBLAS");
        return;
#endif
    } else {
        thread_pool pool{std::size_t(threads)};
        simd::packed_weights<A> pw;
        if (which == f32) {
            pw = simd::packed_weights<A>::from_f32(w.data(), N, K);
        } else {
            std::vector<simd::bf16> wb(w.size());
            for (std::size_t i = 0; i < w.size(); ++i) wb[i] = simd::to_bf16(w[i]);
            pw = which == bf16_dot ? simd::packed_weights<A>::from_bf16(wb.data(), N, K)
                                   : simd::packed_weights<A>::from_bf16_widened(wb.data(), N, K);
        }
        for (auto _ : state) {
            simd::gemm<A>(a.data(), K, M, pw.view(), c.data(), N, false, pool);
            benchmark::DoNotOptimize(c.data());
            benchmark::ClobberMemory();
        }
    }
    state.counters["flops"] = benchmark::Counter(2.0 * double(M) * double(N) * double(K),
                                                 benchmark::Counter::kIsIterationInvariantRate);
    static const char* names[] = {"ddiff_f32", "ddiff_bf16_dot", "ddiff_bf16_widen", "openblas"};
    state.SetLabel(names[which]);
}

void shapes_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"M", "N", "K", "threads", "impl"});
    for (const auto& s : shapes)
        for (long t : {1L, 2L})
            // OpenBLAS last: its idle threads keep spinning for a while after a 2-thread call, so
            // the next 2-thread measurement is always preceded by a 1-thread one.
            for (long which : {long(f32), long(bf16_dot), long(bf16_widen), long(openblas)})
                b->Args({s[0], s[1], s[2], t, which});
}
BENCHMARK(BM_gemm)->Apply(shapes_args)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.3);
// The machine's FP32 FMA peak in the same run (24 independent zmm FMA chains per thread, no
// memory traffic): the "% of measured peak" columns divide by it, so a throttled or shared host
// does not hide how close the kernels are to what the cores deliver right now.
#if defined(__AVX2__) && defined(__FMA__)
// Vector types for fma_chains.
struct ymm {
    using V = __m256;
    static constexpr int lanes = 8;
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static float first(V a) { return _mm256_cvtss_f32(a); }
};
#if defined(__AVX512F__)
struct zmm {
    using V = __m512;
    static constexpr int lanes = 16;
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static float first(V a) { return _mm512_cvtss_f32(a); }
};
#endif
// Chains independent FMA chains in registers, iters steps each. Out of line, so the 1-thread run
// (which the pool calls inline) executes the same code as the 2-thread one: inlined into the
// benchmark loop, GCC 12 compiled it to a version that measured a third of the 2-thread rate per
// thread.
template <class R, int Chains>
__attribute__((noinline)) float fma_chains(long iters) {
    typename R::V acc[Chains];
    for (int i = 0; i < Chains; ++i) acc[i] = R::set1(0.001f * float(i));
    const auto b = R::set1(0.999f), c = R::set1(1e-4f);
    for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 24
        for (int j = 0; j < Chains; ++j) acc[j] = R::fma(acc[j], b, c);
    }
    auto sum = acc[0];
    for (int j = 1; j < Chains; ++j) sum = R::add(sum, acc[j]);
    return R::first(sum);  // one lane suffices to keep the chains live
}
#endif
void BM_fma_peak(benchmark::State& state) {
#if defined(__AVX512F__)
    const std::size_t threads = state.range(0);
    constexpr long iters = 1 << 20;
    auto body = [] { benchmark::DoNotOptimize(fma_chains<zmm, 24>(iters)); };
    thread_pool pool{threads};
    for (auto _ : state) pool.run(threads, [&](std::size_t, std::size_t) { body(); });
    state.counters["flops"] = benchmark::Counter(double(threads) * iters * 24 * 32, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("fma_peak");
#else
    state.SkipWithError("needs AVX-512");
#endif
}
BENCHMARK(BM_fma_peak)->ArgNames({"threads"})->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// What the core is: its clock (a chain of dependent integer adds, one per cycle) and FP32 flops
// per cycle with 256-bit and 512-bit FMAs. A core with two 512-bit FMA pipes (Zen 5) does 64
// flops/cycle with zmm and 32 with ymm; one that splits a 512-bit op into two 256-bit halves
// (Zen 4) does 32 with both. bench_to_md.py prints these next to the peak.
__attribute__((noinline)) long add_chain(long n) {
    long x = 0;
    for (long i = 0; i < n; ++i) asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    return x;
}
void BM_clock(benchmark::State& state) {
    long n = 1 << 22;
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);
        benchmark::DoNotOptimize(add_chain(n));
    }
    state.counters["hz"] = benchmark::Counter(4.0 * n, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("dependent adds per second");
}
BENCHMARK(BM_clock)->UseRealTime()->Unit(benchmark::kMillisecond);
#if defined(__AVX2__) && defined(__FMA__)
void BM_fma_peak_ymm(benchmark::State& state) {
    long iters = 1 << 21;
    for (auto _ : state) {
        benchmark::DoNotOptimize(iters);  // opaque, so the pure call is not hoisted out of the loop
        benchmark::DoNotOptimize(fma_chains<ymm, 12>(iters));
    }
    state.counters["flops"] = benchmark::Counter(double(iters) * 12 * 16, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("fma_peak_ymm");
}
BENCHMARK(BM_fma_peak_ymm)->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
}  // namespace

DDIFF_BENCH_MAIN()
