// Whole decode (issue 5 item 6): ddiff's decoder<llada, log_linear, low_confidence, top_k> on
// the random-weight LLaDA checkpoint of tools/bench/make_bench_checkpoint.py (hidden 1024,
// 8 layers, 16 heads, FFN 2816, vocabulary 4096, f32), 32 prompt + 256 generated tokens,
// 64 steps, one block, temperature 0, 2 threads; and in the same run the PyTorch reference
// (tools/bench/torch_decode.py, a child process per repetition) on the same checkpoint and prompt.
//
// BM_decode_ddiff  one iteration = one generate() call, real time.
// BM_decode_torch  one iteration = one child process; the manual time is the child's own
//                  generate() wall time (its model loading and Python start-up are not counted).
//                  /omp_passive:1 adds OMP_WAIT_POLICY=PASSIVE to the child's environment.
// Counters (both): ms_per_call (wall / model calls), forward_ms (median of the model calls
// alone), tokens_per_s (generated tokens / wall), peak_rss_mb (getrusage ru_maxrss of the
// process that decoded, loading included), decode_peak_rss_mb (VmHWM reset just before the
// decode: the decode's own peak), rss_mb (VmRSS after it), weights_mb, nfe; ddiff also
// load_peak_rss_mb / load_rss_mb (right after loading) and rss_anon_mb / rss_file_mb; torch
// also tokens_equal (generated positions where PyTorch chose ddiff's token).
//
// The child alone gets an environment without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (OpenBLAS's
// AVX-512 kernel); this process keeps its own environment and does not link OpenBLAS.
//
// BM_selection_v126k  the selection work between model calls at LLaDA's vocabulary (below).
// BM_block_cache      block diffusion on the Qwen3-0.6B-shape checkpoint (below): the exact block
//                     cache against the same decode without cache.
//
// Own flags (before Google Benchmark's): --checkpoint=DIR (default /tmp/ddiff_bench_llada),
// --checkpoint_v126k=DIR (default /tmp/ddiff_bench_llada_v126k), --checkpoint_qwen3=DIR (default
// ~/.cache/ddiff/bench/qwen3-0.6b-a2d-qwen3-bf16, tools/bench/make_bench_checkpoint_qwen3.py),
// --python=PATH (/usr/bin/python3), --torch_script=PATH, --torch=0 (ddiff only); --gen_length=N
// and --steps=N change the decode (defaults 256 and 64, the issue's; for quick checks only).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "ddiff/ddiff.hpp"
#include "ddiff/model/llada.hpp"
#include "ddiff/model/qwen.hpp"

extern char** environ;

using ddiff::bench::run_child;

namespace {
using namespace ddiff;
using clk = std::chrono::steady_clock;

constexpr std::size_t prompt_length = 32;
constexpr std::size_t threads = 2;
std::size_t gen_length = 256;  // --gen_length / --steps: only for a quick functional check
std::uint32_t steps = 64;

struct settings {
    std::string checkpoint = "/tmp/ddiff_bench_llada";
    std::string checkpoint_v126k = "/tmp/ddiff_bench_llada_v126k";
    std::string checkpoint_qwen3 = std::string(std::getenv("HOME") ? std::getenv("HOME") : "") +
                                   "/.cache/ddiff/bench/qwen3-0.6b-a2d-qwen3-bf16";
    std::string python = "/usr/bin/python3";
    std::string torch_script = DDIFF_SOURCE_DIR "/tools/bench/torch_decode.py";
    bool torch = true;
} opt;

double status_mb(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::string k = std::string(key) + ":";
    while (std::getline(f, line))
        if (line.rfind(k, 0) == 0) return std::atof(line.c_str() + k.size()) / 1024.0;
    return -1.0;
}
double maxrss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}
// Resets VmHWM to the current RSS (Linux >= 4.0); false where /proc/self/clear_refs is not writable.
bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    if (!f) return false;
    f << "5";
    f.flush();
    return bool(f);
}

// LLaDA with the model calls timed (the decoder calls denoise on this type).
class timed_llada : public model::llada<> {
public:
    using model::llada<>::llada;
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) {
        const auto t0 = clk::now();
        model::llada<>::denoise(x, alpha, out);
        calls.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
    }
    std::vector<double> calls;
};

struct loaded {
    std::unique_ptr<timed_llada> model;
    double weight_bytes = 0, load_s = 0, load_peak_mb = 0, load_rss_mb = 0;
    std::vector<token_id> prompt;
};

loaded& ddiff_model() {
    static loaded L = [] {
        loaded l;
        const std::filesystem::path dir = opt.checkpoint;
        const auto t0 = clk::now();
        const auto cfg = model::llada_config::from_json(io::json_config::load(dir / "config.json"));
        {
            const auto ck = io::checkpoint::open(dir);
            for (auto name : ck.names()) l.weight_bytes += double(ck.tensor(name).bytes().size());
            l.model = std::make_unique<timed_llada>(cfg, ck, model::load_options{.threads = threads});
        }
        l.load_s = std::chrono::duration<double>(clk::now() - t0).count();
        l.load_peak_mb = maxrss_mb();
        l.load_rss_mb = status_mb("VmRSS");
        for (std::size_t i = 0; i < prompt_length; ++i)
            l.prompt.push_back(token_id((i * 97 + 13) % std::size_t(cfg.mask_id)));  // = torch_decode.py
        return l;
    }();
    return L;
}

std::vector<token_id> ddiff_tokens;  // the generated ids of the last ddiff decode

double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// False (and the benchmark skipped) when the checkpoint has not been generated.
bool have_checkpoint(benchmark::State& state) {
    if (std::filesystem::exists(std::filesystem::path(opt.checkpoint) / "config.json")) return true;
    state.SkipWithError(("no checkpoint in " + opt.checkpoint +
                         ": run /usr/bin/python3 tools/bench/make_bench_checkpoint.py first").c_str());
    return false;
}

// The decode both benchmarks run: temperature 0, gen_length / steps, 2 threads.
generate_options decode_options(std::size_t block_length) {
    generate_options o;
    o.gen_length = gen_length;
    o.steps = steps;
    o.block_length = block_length;
    o.temperature = 0.0;
    o.threads = threads;
    return o;
}

sequence bench_prompt(const loaded& L) {
    sequence prompt = xt::zeros<token_id>({prompt_length});
    for (std::size_t i = 0; i < prompt_length; ++i) prompt(i) = L.prompt[i];
    return prompt;
}

void BM_decode_ddiff(benchmark::State& state) {
    if (!have_checkpoint(state)) return;
    loaded& L = ddiff_model();
    auto& m = *L.model;
    decoder<timed_llada, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(m);
    const generate_options o = decode_options(0);  // one block
    const sequence prompt = bench_prompt(L);
    {  // untimed warm-up call on the full canvas (torch_decode.py does the same)
        token_batch x = xt::zeros<token_id>({std::size_t{1}, prompt_length + gen_length});
        for (std::size_t i = 0; i < x.shape(1); ++i) x(0, i) = i < prompt_length ? prompt(i) : m.mask_id();
        xt::xtensor<float, 3> out;
        const std::vector<double> alpha{1.0};
        m.model::llada<>::denoise(x, alpha, out);
    }
    // The process peak so far (loading included) is read before VmHWM is reset: the reset
    // also lowers what getrusage reports afterwards.
    static double process_peak_mb = 0;
    process_peak_mb = std::max(process_peak_mb, maxrss_mb());
    const bool reset = reset_peak_rss();
    double wall = 0, nfe = 0, select = 0, steps_run = 0;
    m.calls.clear();
    for (auto _ : state) {
        const auto t0 = clk::now();
        auto res = dec.generate(prompt, o);
        wall += std::chrono::duration<double>(clk::now() - t0).count();
        nfe += double(res.nfe);
        select += res.select_seconds;
        steps_run += double(res.steps);
        ddiff_tokens.assign(res.tokens.begin() + prompt_length, res.tokens.end());
        benchmark::DoNotOptimize(res.tokens.data());
    }
    const double iters = double(state.iterations());
    state.counters["ms_per_call"] = 1000.0 * wall / nfe;
    state.counters["forward_ms"] = median(m.calls);
    state.counters["select_ms_per_step"] = 1000.0 * select / steps_run;
    state.counters["tokens_per_s"] = double(gen_length) * iters / wall;
    state.counters["nfe"] = nfe / iters;
    process_peak_mb = std::max(process_peak_mb, maxrss_mb());
    state.counters["peak_rss_mb"] = process_peak_mb;
    state.counters["decode_peak_rss_mb"] = reset ? status_mb("VmHWM") : -1.0;
    state.counters["rss_mb"] = status_mb("VmRSS");
    state.counters["rss_anon_mb"] = status_mb("RssAnon");
    state.counters["rss_file_mb"] = status_mb("RssFile");
    state.counters["load_peak_rss_mb"] = L.load_peak_mb;
    state.counters["load_rss_mb"] = L.load_rss_mb;
    state.counters["weights_mb"] = L.weight_bytes / 1048576.0;
    state.counters["load_s"] = L.load_s;
    state.SetLabel("ddiff");
}

// This process's environment without the two OpenBLAS overrides: for the child only. With
// omp_passive, OMP_WAIT_POLICY=PASSIVE too: PyTorch's idle OpenMP worker then sleeps instead of
// spinning on the core OpenBLAS's own worker thread needs (2 cores, 3 threads).
std::vector<std::string> torch_env(bool omp_passive = false) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        const std::string s = *e;
        if (s.rfind("OPENBLAS_CORETYPE=", 0) == 0 || s.rfind("OPENBLAS_L2_SIZE=", 0) == 0) continue;
        if (omp_passive && s.rfind("OMP_WAIT_POLICY=", 0) == 0) continue;
        env.push_back(s);
    }
    if (omp_passive) env.push_back("OMP_WAIT_POLICY=PASSIVE");
    return env;
}

void BM_decode_torch(benchmark::State& state) {
    if (!opt.torch) {
        state.SkipWithError("--torch=0");
        return;
    }
    const bool omp_passive = state.range(0) != 0;
    std::string ids;
    for (std::size_t i = 0; i < prompt_length; ++i) {
        if (i) ids += ',';
        ids += std::to_string((i * 97 + 13) % 4095);
    }  // = ddiff_model().prompt for this checkpoint
    const std::vector<std::string> args{opt.python,  opt.torch_script,        "--model",      opt.checkpoint,
                                        "--threads", std::to_string(threads), "--prompt-ids", ids,
                                        "--gen-length", std::to_string(gen_length), "--steps", std::to_string(steps)};
    nlohmann::json r;
    std::vector<double> per_call, fwd, tps, peak, dpeak, rss, weights, eq;
    for (auto _ : state) {
        std::string err;
        const std::string text = run_child(args, torch_env(omp_passive), err);
        if (text.empty()) {
            state.SkipWithError(err.c_str());
            return;
        }
        r = nlohmann::json::parse(text);
        state.SetIterationTime(r["wall_s"].get<double>());
        per_call.push_back(r["ms_per_call"]);
        fwd.push_back(r["forward_ms_median"]);
        tps.push_back(r["tokens_per_s"]);
        peak.push_back(r["peak_rss_mb"]);
        dpeak.push_back(r["decode_peak_rss_mb"]);
        rss.push_back(r["rss_mb"]);
        weights.push_back(r["weight_bytes"].get<double>() / 1048576.0);
        const auto tok = r["tokens"].get<std::vector<token_id>>();
        double same = 0;
        for (std::size_t i = 0; i < std::min(tok.size(), ddiff_tokens.size()); ++i) same += tok[i] == ddiff_tokens[i];
        if (!ddiff_tokens.empty()) eq.push_back(same);
    }
    state.counters["ms_per_call"] = median(per_call);
    state.counters["forward_ms"] = median(fwd);
    state.counters["tokens_per_s"] = median(tps);
    state.counters["nfe"] = r["nfe"].get<double>();
    state.counters["peak_rss_mb"] = median(peak);
    state.counters["decode_peak_rss_mb"] = median(dpeak);
    state.counters["rss_mb"] = median(rss);
    state.counters["weights_mb"] = median(weights);
    state.counters["load_s"] = r["load_s"].get<double>();
    state.counters["tokens_equal"] = eq.empty() ? -1.0 : median(eq);  // -1: no ddiff decode ran before
    state.SetLabel(std::string(omp_passive ? "torch_omp_passive" : "torch") + " " + r["torch"].get<std::string>() +
                   ", OpenBLAS " + r["openblas_core"].get<std::string>());
}

// Fast-dLLM's KV caches (generate_options::cache) on the same checkpoint and prompt, in blocks
// of 32 (the caches only pay with several blocks): cache 0 none, 1 prefix, 2 dual. The same
// number of model calls; agree_with_none is the fraction of generated tokens equal to the
// uncached decode (the caches are an approximation), decoded once untimed for comparison.
std::size_t cache_block_length = 32;
std::vector<token_id> decode_with(kv_cache_mode mode, double* wall, double* nfe) {
    loaded& L = ddiff_model();
    decoder<model::llada<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(*L.model);
    generate_options o = decode_options(cache_block_length);
    o.cache = mode;
    const auto t0 = clk::now();
    auto res = dec.generate(bench_prompt(L), o);
    if (wall) *wall += std::chrono::duration<double>(clk::now() - t0).count();
    if (nfe) *nfe += double(res.nfe);
    return {res.tokens.begin() + std::ptrdiff_t(prompt_length), res.tokens.end()};
}
void BM_decode_cache(benchmark::State& state) {
    if (!have_checkpoint(state)) return;
    const auto mode = static_cast<kv_cache_mode>(state.range(0));
    static std::vector<token_id> uncached;
    if (uncached.empty()) uncached = decode_with(kv_cache_mode::none, nullptr, nullptr);
    double wall = 0, nfe = 0;
    std::vector<token_id> tokens;
    for (auto _ : state) {
        tokens = decode_with(mode, &wall, &nfe);
        benchmark::DoNotOptimize(tokens.data());
    }
    std::size_t same = 0;
    for (std::size_t i = 0; i < tokens.size(); ++i) same += tokens[i] == uncached[i];
    const double iters = double(state.iterations());
    state.counters["ms_per_call"] = 1000.0 * wall / nfe;
    state.counters["tokens_per_s"] = double(gen_length) * iters / wall;
    state.counters["nfe"] = nfe / iters;
    state.counters["agree_with_none"] = double(same) / double(tokens.size());
    state.counters["block_length"] = double(cache_block_length);
    state.SetLabel(name(mode));
}

// The selection work (everything between two model calls: proposals, scores, commits) at
// LLaDA-8B's vocabulary, 126,464: the same model shape with that vocabulary
// (make_bench_checkpoint.py --vocab 126464), 32 prompt + 256 masked positions, one block,
// temperature 0, low_confidence + top_k, 2 threads. select_share = selection time per step /
// model-call time per step (the decoder's own clocks, generate_result).
void BM_selection_v126k(benchmark::State& state) {
    const std::filesystem::path dir = opt.checkpoint_v126k;
    if (!std::filesystem::exists(dir / "config.json")) {
        state.SkipWithError(("no checkpoint in " + dir.string() + ": run /usr/bin/python3 "
                             "tools/bench/make_bench_checkpoint.py --vocab 126464 first").c_str());
        return;
    }
    static std::unique_ptr<model::llada<>> m;
    if (!m) m = std::make_unique<model::llada<>>(model::llada<>::load(dir, model::load_options{.threads = threads}));
    decoder<model::llada<>, schedule::log_linear, remask::low_confidence, sampler::top_k> dec(*m);
    const generate_options o = decode_options(0);
    sequence prompt = xt::zeros<token_id>({prompt_length});
    for (std::size_t i = 0; i < prompt_length; ++i) prompt(i) = token_id((i * 97 + 13) % 126000);
    double select = 0, forward = 0, steps_run = 0, nfe = 0;
    for (auto _ : state) {
        const auto res = dec.generate(prompt, o);
        select += res.select_seconds;
        forward += res.forward_seconds;
        steps_run += double(res.steps);
        nfe += double(res.nfe);
        benchmark::DoNotOptimize(res.tokens.data());
    }
    state.counters["select_ms_per_step"] = 1000.0 * select / steps_run;
    state.counters["forward_ms_per_call"] = 1000.0 * forward / nfe;
    state.counters["select_share"] = select / forward;
    state.counters["vocab"] = double(m->vocab_size());
    state.SetLabel("ddiff, vocabulary 126464");
}

// Block diffusion with the exact block cache (issue 14): the random-weight Qwen3-0.6B-shape
// a2d-qwen3 checkpoint (hidden 1024, 28 layers, vocabulary 151,936, BF16; tools/bench/
// make_bench_checkpoint_qwen3.py) decoded block-causally with blocks of 32: 32 prompt + 256 new
// tokens (8 blocks), dllm's BD3LM sampler composition (linear schedule counts, 8 steps per block,
// low_confidence, temperature 0), 2 threads.
//   block_cache:0  cache = none: every step runs the block-causal forward of the canvas up to the
//                  current block's end (logits at the read rows only)
//   block_cache:1  cache = block: the exact cache; each step runs the current block's 32 rows
//   block_cache:2  the decoder without block mode: model.denoise on the whole 288-row canvas
//                  (block-causal attention, logits at every row), blocks of 32 from the prompt's
//                  end (= from row 0 here, the prompt being one block)
// Counters: tokens_per_s, nfe, agree_with_uncached (fraction of generated positions equal to
// block_cache:0's tokens).
constexpr std::size_t qwen_block = 32, qwen_steps_per_block = 8;
std::vector<token_id> block_decode(std::size_t mode, double* wall, double* nfe, double* forward) {
    using M = model::a2d_qwen3<>;
    static std::unique_ptr<M> m;
    if (!m) {
        m = std::make_unique<M>(M::load(opt.checkpoint_qwen3, model::load_options{.threads = threads}));
        m->set_block_length(qwen_block);
    }
    decoder<M, schedule::log_linear, remask::low_confidence, sampler::schedule_count<false>> dec(*m);
    generate_options o;
    o.gen_length = gen_length;
    o.steps = std::uint32_t(qwen_steps_per_block * gen_length / qwen_block);
    o.block_length = qwen_block;
    o.temperature = 0.0;
    o.keep_mask_logit = true;
    o.threads = threads;
    if (mode < 2) {
        o.block.enabled = true;
        o.block.commit = block_commit::lazy;
        o.cache = mode == 1 ? kv_cache_mode::block : kv_cache_mode::none;
    }
    sequence prompt = xt::zeros<token_id>({prompt_length});
    for (std::size_t i = 0; i < prompt_length; ++i) prompt(i) = token_id((i * 97 + 13) % 151000);
    const auto t0 = clk::now();
    const auto res = dec.generate(prompt, o);
    *wall += std::chrono::duration<double>(clk::now() - t0).count();
    *nfe += double(res.nfe);
    *forward += res.forward_seconds;
    return {res.tokens.begin() + std::ptrdiff_t(prompt_length), res.tokens.end()};
}

void BM_block_cache(benchmark::State& state) {
    if (!std::filesystem::exists(std::filesystem::path(opt.checkpoint_qwen3) / "config.json")) {
        state.SkipWithError(("no checkpoint in " + opt.checkpoint_qwen3 +
                             ": run /usr/bin/python3 tools/bench/make_bench_checkpoint_qwen3.py first").c_str());
        return;
    }
    const auto mode = static_cast<std::size_t>(state.range(0));
    static std::vector<token_id> uncached;
    double wall = 0, nfe = 0, forward = 0;
    std::vector<token_id> tokens;
    for (auto _ : state) {
        tokens = block_decode(mode, &wall, &nfe, &forward);
        benchmark::DoNotOptimize(tokens.data());
    }
    if (mode == 0) uncached = tokens;
    std::size_t same = 0;
    for (std::size_t i = 0; i < tokens.size() && i < uncached.size(); ++i) same += tokens[i] == uncached[i];
    const double iters = double(state.iterations());
    state.counters["tokens_per_s"] = double(gen_length) * iters / wall;
    state.counters["nfe"] = nfe / iters;
    state.counters["forward_share"] = forward / wall;
    state.counters["agree_with_uncached"] = uncached.empty() ? -1.0 : double(same) / double(tokens.size());
    state.SetLabel(mode == 0 ? "block, no cache" : mode == 1 ? "block, exact cache" : "whole canvas, no block mode");
}

// Each repetition is one decode (~10 s); --benchmark_repetitions sets how many.
BENCHMARK(BM_decode_ddiff)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_selection_v126k)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_decode_cache)->ArgName("cache")->Arg(0)->Arg(1)->Arg(2)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_block_cache)->ArgName("block_cache")->Arg(0)->Arg(1)->Arg(2)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
// omp_passive:0 as PyTorch starts; omp_passive:1 with OMP_WAIT_POLICY=PASSIVE (faster here).
BENCHMARK(BM_decode_torch)->ArgName("omp_passive")->Arg(0)->Arg(1)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

void parse_own_flags(int& argc, char** argv) {
    int w = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&](const char* key) -> std::optional<std::string> {
            const std::string k = std::string("--") + key + "=";
            return a.rfind(k, 0) == 0 ? std::optional<std::string>(a.substr(k.size())) : std::nullopt;
        };
        if (auto v = val("checkpoint")) opt.checkpoint = *v;
        else if (auto v0 = val("checkpoint_v126k")) opt.checkpoint_v126k = *v0;
        else if (auto v7 = val("checkpoint_qwen3")) opt.checkpoint_qwen3 = *v7;
        else if (auto v2 = val("python")) opt.python = *v2;
        else if (auto v3 = val("torch_script")) opt.torch_script = *v3;
        else if (auto v4 = val("torch")) opt.torch = *v4 != "0";
        else if (auto v5 = val("gen_length")) gen_length = std::stoul(*v5);
        else if (auto v6 = val("steps")) steps = std::uint32_t(std::stoul(*v6));
        else argv[w++] = argv[i];
    }
    argc = w;
}

void add_context() {
    benchmark::AddCustomContext("ddiff_arch", simd::default_arch::name());
    benchmark::AddCustomContext("checkpoint", opt.checkpoint);
    benchmark::AddCustomContext("decode", std::to_string(prompt_length) + " prompt + " + std::to_string(gen_length) +
                                              " generated tokens, " + std::to_string(steps) +
                                              " steps, one block, temperature 0, low_confidence, " +
                                              std::to_string(threads) + " threads");
    const char* ct = std::getenv("OPENBLAS_CORETYPE");
    benchmark::AddCustomContext("env_OPENBLAS_CORETYPE", ct ? std::string(ct) + " (removed for the torch child)" : "(unset)");
    if (!opt.torch) return;
    std::string err;
    const std::string text = run_child({opt.python, opt.torch_script, "--info", "--threads", std::to_string(threads)},
                                       torch_env(), err);
    if (text.empty()) {
        benchmark::AddCustomContext("torch", "unavailable: " + err);
        return;
    }
    const auto j = nlohmann::json::parse(text);
    benchmark::AddCustomContext("torch", j["torch"].get<std::string>());
    benchmark::AddCustomContext("torch_openblas_core", j["openblas_core"].get<std::string>());
    benchmark::AddCustomContext("torch_openblas_config", j["openblas_config"].get<std::string>());
}
}  // namespace

int main(int argc, char** argv) {
    parse_own_flags(argc, argv);
    add_context();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
