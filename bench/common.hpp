// Shared set-up of the bench programs: OpenBLAS environment (re-exec without
// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which force its half-speed AVX2 kernel on this CPU), the
// context printed with the results, and deterministic inputs.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ddiff/simd/gemm.hpp"

#if DDIFF_BENCH_OPENBLAS
#include <cblas.h>
#endif

namespace ddiff::bench {

// OpenBLAS reads OPENBLAS_CORETYPE when the library loads, before main: unsetting it in-process
// is too late, so the program re-executes itself once without it (only this process and its
// child see the change).
inline void reexec_without_openblas_overrides(char** argv) {
#if DDIFF_BENCH_OPENBLAS
    if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("OPENBLAS_L2_SIZE")) {
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv("OPENBLAS_L2_SIZE");
        execv("/proc/self/exe", argv);  // returns only on failure: then run as is
    }
#else
    (void)argv;
#endif
}

inline void add_context() {
    benchmark::AddCustomContext("ddiff_arch", simd::default_arch::name());
    benchmark::AddCustomContext("ddiff_bf16_dot", simd::has_bf16_dot<simd::default_arch> ? "vdpbf16ps" : "no");
#if DDIFF_BENCH_OPENBLAS
    benchmark::AddCustomContext("openblas_core", openblas_get_corename());
    benchmark::AddCustomContext("openblas_config", openblas_get_config());
#endif
}

inline std::vector<float> randn(std::size_t n, float scale, unsigned seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

}  // namespace ddiff::bench

#define DDIFF_BENCH_MAIN()                                          \
    int main(int argc, char** argv) {                               \
        ddiff::bench::reexec_without_openblas_overrides(argv);      \
        ddiff::bench::add_context();                                \
        benchmark::Initialize(&argc, argv);                         \
        if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
        benchmark::RunSpecifiedBenchmarks();                        \
        benchmark::Shutdown();                                      \
        return 0;                                                   \
    }
