// ddiff against llama.cpp on the same GGUF files (issue 13): one model call of a LLaDA-architecture
// model, in ddiff (model::load_llada_gguf, its default native compute path) and in libllama, the
// library llama.cpp's llama-diffusion-cli runs (llama_decode of the whole canvas with
// llama_set_causal_attn(ctx, false) and logits at every position, as diffusion-cli.cpp does each
// step), same process, same file, same canvas, same thread count. Built only when the bench
// configure gets -DDDIFF_LLAMA_CPP_DIR=<a llama.cpp tree built with its library>; the script
// tools/bench/llama_cpp_compare.sh builds llama.cpp outside this tree, writes the files and runs this.
//
//   bench_llama_cpp --gguf=A.gguf [--gguf=B.gguf ...] [--threads=2] [--canvas=288] [benchmark flags]
//
// BM_call/<impl>/<file>   one model call (the canvas: ids 1, 2, 3, then the file's mask id).
// BM_load/<impl>/<file>   from the file to the first logits: ddiff opens, validates and packs;
//                         llama.cpp loads the model (mmap, its CPU repacking) and creates the
//                         context; both then run one model call (llama.cpp touches its mmapped
//                         weights there). Counter load_s: the part before that call.
// BM_agreement/<file>     both implementations' logits of the same canvas: max |difference|,
//                         the largest |logit|, and the share of positions whose argmax agrees
//                         (a check that both run the same model, not a speed number).
// Use --benchmark_enable_random_interleaving=true --benchmark_repetitions=N so that the two
// implementations' repetitions alternate; ratios come from the medians of one run.
#include "common.hpp"

#include <llama.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ddiff/model/gguf.hpp"

namespace {
using namespace ddiff;
using clk = std::chrono::steady_clock;

int threads = 2;
std::size_t canvas = 288;
std::vector<std::string> files;

void quiet_log(ggml_log_level level, const char* text, void*) {
    if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

std::vector<std::int32_t> canvas_ids(std::int32_t mask) {
    std::vector<std::int32_t> ids(canvas, mask);
    for (std::int32_t i = 0; i < 3; ++i) ids[i] = i + 1;
    return ids;
}

// ---- ddiff ----
struct ddiff_side {
    model::llada<> m;
    std::vector<std::int32_t> ids;
    std::vector<float> logits;
    explicit ddiff_side(const std::string& file)
        : m(model::load_llada_gguf(file, model::load_options{.threads = std::size_t(threads)})) {
        ids = canvas_ids(std::int32_t(m.mask_id()));
        logits.resize(canvas * m.vocab_size());
    }
    void call() { m.forward(ids, logits.data()); }
    std::size_t vocab() const { return m.vocab_size(); }
};

// ---- llama.cpp ----
struct llama_side {
    llama_model* model = nullptr;
    llama_context* ctx = nullptr;
    llama_batch batch{};
    const float* logits = nullptr;
    std::size_t n_vocab = 0;
    explicit llama_side(const std::string& file) {
        auto mp = llama_model_default_params();
        mp.n_gpu_layers = 0;
        model = llama_model_load_from_file(file.c_str(), mp);
        if (!model) throw std::runtime_error("llama.cpp could not load " + file);
        if (!llama_model_is_diffusion(model)) throw std::runtime_error("llama.cpp: not a diffusion model: " + file);
        auto cp = llama_context_default_params();  // flash attention: llama.cpp's default (auto)
        cp.n_ctx = cp.n_batch = cp.n_ubatch = std::uint32_t(canvas);
        cp.n_threads = cp.n_threads_batch = threads;
        ctx = llama_init_from_model(model, cp);
        if (!ctx) throw std::runtime_error("llama.cpp could not create a context for " + file);
        llama_set_causal_attn(ctx, false);
        const llama_vocab* vocab = llama_model_get_vocab(model);
        n_vocab = std::size_t(llama_vocab_n_tokens(vocab));
        const auto ids = canvas_ids(llama_vocab_mask(vocab));
        batch = llama_batch_init(std::int32_t(canvas), 0, 1);
        batch.n_tokens = std::int32_t(canvas);
        for (std::size_t i = 0; i < canvas; ++i) {
            batch.token[i] = ids[i];
            batch.pos[i] = std::int32_t(i);
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
    }
    llama_side(const llama_side&) = delete;
    ~llama_side() {
        llama_batch_free(batch);
        if (ctx) llama_free(ctx);
        if (model) llama_model_free(model);
    }
    void call() {
        if (const int rc = llama_decode(ctx, batch); rc != 0) throw std::runtime_error("llama_decode failed: " + std::to_string(rc));
        logits = llama_get_logits(ctx);
    }
    std::size_t vocab() const { return n_vocab; }
};

// One of each per file, loaded on first use and kept (the interleaved repetitions come back).
template <class Side>
Side& side(const std::string& file) {
    static std::map<std::string, std::unique_ptr<Side>> loaded;
    auto& p = loaded[file];
    if (!p) p = std::make_unique<Side>(file);
    return *p;
}

template <class Side>
void BM_call(benchmark::State& state, std::string file) {
    try {
        auto& s = side<Side>(file);
        s.call();  // warm-up (llama.cpp faults its mmapped weights in on the first call)
        for (auto _ : state) s.call();
        state.counters["ms_per_call"] = benchmark::Counter(1e3 * double(state.iterations()),
                                                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
        state.counters["file_mb"] = double(std::filesystem::file_size(file)) / 1e6;
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

template <class Side>
void BM_load(benchmark::State& state, std::string file) {
    try {
        double load = 0;
        for (auto _ : state) {
            const auto t0 = clk::now();
            Side s(file);
            load += std::chrono::duration<double>(clk::now() - t0).count();
            s.call();
        }
        state.counters["load_s"] = load / double(state.iterations());
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void BM_agreement(benchmark::State& state, std::string file) {
    try {
        auto& d = side<ddiff_side>(file);
        auto& l = side<llama_side>(file);
        if (d.vocab() != l.vocab()) throw std::runtime_error("vocabulary sizes differ");
        double max_diff = 0, max_abs = 0, agree = 0;
        for (auto _ : state) {
            d.call();
            l.call();
        }
        const std::size_t V = d.vocab();
        for (std::size_t r = 0; r < canvas; ++r) {
            const float* a = d.logits.data() + r * V;
            const float* b = l.logits + r * V;
            std::size_t ia = 0, ib = 0;
            for (std::size_t v = 0; v < V; ++v) {
                max_diff = std::max(max_diff, double(std::fabs(a[v] - b[v])));
                max_abs = std::max(max_abs, double(std::fabs(b[v])));
                if (a[v] > a[ia]) ia = v;
                if (b[v] > b[ib]) ib = v;
            }
            agree += ia == ib;
        }
        state.counters["max_abs_diff"] = max_diff;
        state.counters["max_abs_logit"] = max_abs;
        state.counters["argmax_agree"] = agree / double(canvas);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

bool take_flag(const std::string& arg, const char* name, std::string& value) {
    const std::string p = std::string("--") + name + "=";
    if (arg.rfind(p, 0) != 0) return false;
    value = arg.substr(p.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        std::string v;
        if (take_flag(argv[i], "gguf", v)) files.push_back(v);
        else if (take_flag(argv[i], "threads", v)) threads = std::stoi(v);
        else if (take_flag(argv[i], "canvas", v)) canvas = std::stoul(v);
        else rest.push_back(argv[i]);
    }
    if (files.empty() || threads < 1 || canvas < 4) {
        std::fprintf(stderr, "usage: %s --gguf=FILE.gguf [--gguf=...] [--threads=2] [--canvas=288] [benchmark flags]\n", argv[0]);
        return 2;
    }
    int n = int(rest.size());
    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    ddiff::bench::add_context();
    benchmark::AddCustomContext("threads", std::to_string(threads));
    benchmark::AddCustomContext("canvas", std::to_string(canvas));
    benchmark::AddCustomContext("llama_cpp_system_info", llama_print_system_info());
    benchmark::Initialize(&n, rest.data());
    for (const auto& f : files) {
        const std::string tag = std::filesystem::path(f).stem().string();
        benchmark::RegisterBenchmark(("BM_call/ddiff/" + tag).c_str(), BM_call<ddiff_side>, f)
            ->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
        benchmark::RegisterBenchmark(("BM_call/llama.cpp/" + tag).c_str(), BM_call<llama_side>, f)
            ->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
        benchmark::RegisterBenchmark(("BM_load/ddiff/" + tag).c_str(), BM_load<ddiff_side>, f)
            ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        benchmark::RegisterBenchmark(("BM_load/llama.cpp/" + tag).c_str(), BM_load<llama_side>, f)
            ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        benchmark::RegisterBenchmark(("BM_agreement/" + tag).c_str(), BM_agreement, f)
            ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    llama_backend_free();
    return 0;
}
