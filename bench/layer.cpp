// One whole LLaMA-style transformer layer (RMSNorm, fused qkv, RoPE, attention, out
// projection, RMSNorm, SwiGLU): hidden 1024, 16 heads, FFN 2816, 288 tokens; tokens/s and
// FLOP/s (every multiply-add of the GEMMs and of attention counted as 2), 1 and 2 threads,
// f32 and bf16 weights.
#include "common.hpp"
#include "ddiff/nn/blocks.hpp"

namespace {
using namespace ddiff;
constexpr std::size_t T = 288, D = 1024, H = 16, hd = 64, F = 2816;

double layer_flops() {
    const double t = T, d = D, f = F;
    return 2.0 * t * (3.0 * d * d + d * d + 3.0 * d * f) + 4.0 * t * t * d;
}

nn::llama_block<> make_block(bool bf16) {
    const nn::attention_dims dims{D, H, H, hd};
    const float s = 1.0f / std::sqrt(float(D));
    auto lin = [&](std::size_t out, std::size_t in, unsigned seed) {
        const auto w = bench::randn(out * in, s, seed);
        if (!bf16) return nn::linear<>::from_f32(w.data(), out, in);
        std::vector<simd::bf16> wb(w.size());
        for (std::size_t i = 0; i < w.size(); ++i) wb[i] = simd::to_bf16(w[i]);
        return nn::linear<>::from_bf16(wb.data(), out, in);
    };
    std::vector<float> ones(D, 1.0f);
    return nn::llama_block<>(nn::rms_norm<>(ones, 1e-5f),
                             nn::attention<>(dims, lin(3 * D, D, 1), lin(D, D, 2), nn::rope_table(hd, 4096, 10000.0)),
                             nn::rms_norm<>(ones, 1e-5f), nn::swiglu_mlp<>(lin(2 * F, D, 3), lin(D, F, 4)));
}

void BM_layer(benchmark::State& state) {
    const std::size_t threads = state.range(0);
    const bool bf16 = state.range(1) != 0;
    const auto block = make_block(bf16);
    const auto x0 = bench::randn(T * D, 1.0f, 5);
    std::vector<float> x(x0);
    nn::thread_pool pool(threads);
    nn::workspace ws(block.workspace_floats(T, threads));
    for (auto _ : state) {
        state.PauseTiming();
        std::copy(x0.begin(), x0.end(), x.begin());  // keep the activations' scale fixed
        state.ResumeTiming();
        block.forward(x.data(), T, nullptr, {}, ws, pool);
        benchmark::DoNotOptimize(x.data());
    }
    state.counters["tokens"] = benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["flops"] = benchmark::Counter(layer_flops(), benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(bf16 ? "ddiff_bf16" : "ddiff_f32");
}
BENCHMARK(BM_layer)->ArgNames({"threads", "bf16"})->Args({1, 0})->Args({2, 0})->Args({1, 1})->Args({2, 1})->UseRealTime()->Unit(benchmark::kMillisecond);
}  // namespace

DDIFF_BENCH_MAIN()
