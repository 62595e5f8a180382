// The attention core (RoPE, scores, masked softmax, values; projections excluded) at the
// layer benchmark's size (288 tokens, 16 heads of 64) on the GEMM micro-kernel, 1 and 2 threads,
// next to the naive reference loop (nn::attention_reference, double accumulation).
#include "common.hpp"
#include "ddiff/nn/attention.hpp"

namespace {
using namespace ddiff;
constexpr std::size_t T = 288, H = 16, hd = 64, D = H * hd;

double attention_flops() { return 4.0 * double(T) * double(T) * double(hd) * double(H); }

void BM_attention(benchmark::State& state) {
    const std::size_t threads = state.range(0), block = state.range(1);
    const nn::attention_dims dims{D, H, H, hd};
    std::vector<float> wq(3 * D * D, 0.0f), wo(D * D, 0.0f);
    nn::attention<> attn(dims, nn::linear<>::from_f32(wq.data(), 3 * D, D), nn::linear<>::from_f32(wo.data(), D, D),
                         nn::rope_table(hd, 4096, 10000.0));
    const auto qkv0 = bench::randn(T * 3 * D, 1.0f, 3);
    std::vector<float> qkv(qkv0), o(T * D);
    nn::thread_pool pool(threads);
    nn::workspace ws(attn.workspace_floats(T, threads));
    for (auto _ : state) {
        state.PauseTiming();
        std::copy(qkv0.begin(), qkv0.end(), qkv.begin());  // attend rotates q, k in place
        state.ResumeTiming();
        attn.attend(qkv.data(), T, nullptr, {nullptr, block}, o.data(), ws, pool);
        benchmark::DoNotOptimize(o.data());
    }
    state.counters["flops"] = benchmark::Counter(attention_flops(), benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(block ? "ddiff_block_causal" : "ddiff");
}
BENCHMARK(BM_attention)->ArgNames({"threads", "block"})->Args({1, 0})->Args({2, 0})->Args({2, 32})->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_attention_naive(benchmark::State& state) {
    const nn::attention_dims dims{D, H, H, hd};
    const auto qkv = bench::randn(T * 3 * D, 1.0f, 3);
    std::vector<float> o(T * D);
    for (auto _ : state) {
        nn::attention_reference(qkv.data(), T, dims, {}, o.data());
        benchmark::DoNotOptimize(o.data());
    }
    state.counters["flops"] = benchmark::Counter(attention_flops(), benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("naive");
}
BENCHMARK(BM_attention_naive)->ArgNames({"threads"})->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
}  // namespace

DDIFF_BENCH_MAIN()
