// Throughput of `ddiff serve` on the shipped model (issue 15, "Measured"): 1, 2, 4 and 8
// concurrent clients against a server that batches (--max-batch 8: compatible requests decoded as
// rows of one batch) and, in the same run, against one that decodes strictly sequentially
// (--max-batch 1); and the time to the first streamed byte at one client.
//
//   cmake --preset bench && cmake --build build/bench --target bench_serve   # builds ddiff too
//   build/bench/bench/bench_serve        # 1 min 40 s on 2 idle cores (Zen 5), ~3 min beside
//                                        # another 2-thread job; on the project's machine under
//                                        # its CPU lock: /work/bin/cpu build/bench/bench/bench_serve
//
// After Google Benchmark's output it prints the Markdown table of docs/server.md. Both servers
// are child processes, `ddiff serve --port 0 --max-queue 256 --threads T --max-batch {8,1}` on
// the default (shipped) model, started at the first benchmark that needs them, port read from
// their "listening on http://127.0.0.1:PORT" line, stopped with SIGTERM at the end (the program
// fails unless each exits 0). The client side is cpp-httplib's client, one thread and one
// keep-alive TCP_NODELAY connection per client.
//
// Every request has the body bench/serve_throughput.py (which this program replaces) sent:
//   {"prompt": "In the beginning", "max_tokens": 64, "steps": 64, "block_length": 16, "seed": i}
// with seed i = 0 .. requests-1 in every round, so both servers decode exactly the same rows
// (an answer does not depend on batching: tests/server checks it; here `same_answers` checks it
// again on the texts). One warm-up request (seed 1000000) per server before its first round.
//
// BM_serve/clients:C  one iteration = one round of `requests` requests sent by C client threads
//   (each takes the next request index when its previous answer arrived) to the batching server
//   AND one round to the sequential server; the order alternates from one iteration (and one
//   client count) to the next, so a slow drift of the machine (another job) hits both modes alike.
//   Manual time = the batching server's round (wall). Counters, over all iterations:
//     req_s, tok_s        requests / s and completion tokens (usage.completion_tokens) / s, batching
//     p50_ms, p99_ms      latency of one request (send to whole answer), batching; p99 is the
//                         nearest rank (of the default 64 latencies: the slowest)
//     seq_req_s, seq_tok_s, seq_p50_ms, seq_p99_ms   the same against --max-batch 1
//     gain                req_s / seq_req_s: the batching gain, both measured in this benchmark
//     rows_batch          rows per batch the batching server decoded (its /metrics:
//                         ddiff_batch_rows_total / ddiff_batches_total)
//     step_ms, seq_step_ms  mean wall time of one decoder step of a batch (ddiff_step_seconds)
//     row_step_ms         step_ms / rows_batch: the cost of one row in one step of a batch; with
//                         seq_step_ms (one row alone) it bounds what batching can gain
//     early               fraction of rows stopped before their last step (an EOS committed in the
//                         final prefix: ddiff_rows_cancelled_total{reason="settled"})
//     same_answers        1 when every seed's text was the same from both servers
// BM_first_byte  one iteration = one request with "stream": true to the idle batching server, one
//   client; manual time = time to the first byte of the body (the first final text: the server
//   sends a chunk when the leftmost positions are committed, not the headers alone). Counters:
//   p50_first_byte_ms, p50_whole_ms (the whole stream).
//
// Own flags (before Google Benchmark's): --ddiff=PATH (default: the ddiff_cli target of this
// build), --requests=N (per round, default 32), --rounds=N (iterations of BM_serve, default 2),
// --first_byte_requests=N (default 8), --threads=N (the servers' --threads, default 2),
// --max_tokens=N, --steps=N, --block_length=N (defaults 64, 64, 16).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "../tools/ddiff/server/listening.hpp"

#include "common.hpp"

namespace {
using json = nlohmann::json;
using clk = std::chrono::steady_clock;

struct settings {
    std::string ddiff = DDIFF_PROGRAM;
    std::size_t requests = 32, rounds = 2, first_byte_requests = 8, threads = 2;
    std::size_t max_tokens = 64, steps = 64, block_length = 16;
} opt;

constexpr std::uint64_t warm_up_seed = 1000000;

std::string body(std::uint64_t seed, bool stream) {
    json b = {{"prompt", "In the beginning"},
              {"max_tokens", opt.max_tokens},
              {"steps", opt.steps},
              {"block_length", opt.block_length},
              {"seed", seed}};
    if (stream) b["stream"] = true;
    return b.dump();
}

// `ddiff serve --port 0 ...` as a child process. fork + exec rather than posix_spawn: with
// PR_SET_PDEATHSIG the server dies with this program (a benchmark killed midway leaves no server
// behind). Started from the main thread (Google Benchmark runs single-threaded benchmarks there),
// whose exit is the one PR_SET_PDEATHSIG watches.
class server_process {
public:
    explicit server_process(std::size_t max_batch) : max_batch_(max_batch) {
        const std::vector<std::string> argv = {opt.ddiff,    "serve",          "--port",      "0",
                                               "--max-queue", "256",           "--max-batch", std::to_string(max_batch),
                                               "--threads",   std::to_string(opt.threads)};
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        pid_ = fork();
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            dup2(p[1], 1);  // stderr passes through
            execv(args[0], args.data());
            _exit(127);
        }
        close(p[1]);
        out_ = p[0];
        if (pid_ < 0) throw std::runtime_error("cannot fork for " + opt.ddiff);
        std::string line;
        port_ = ddiff::serve::read_listening_port(out_, std::chrono::seconds(120), line);
        if (port_ < 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
            throw std::runtime_error("'" + opt.ddiff + " serve' did not start (first line: '" + line + "')");
        }
    }
    ~server_process() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) close(out_);
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    int port() const { return port_; }
    std::size_t max_batch() const { return max_batch_; }
    // SIGTERM and wait: the exit code, or 128 + the signal that ended it.
    int stop() {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    std::size_t max_batch_;
    pid_t pid_ = -1;
    int out_ = -1;
    int port_ = 0;
};

// The rows of the Markdown table main prints (BM_serve's counters by client count).
std::map<std::size_t, std::map<std::string, double>> table;
std::optional<std::pair<double, double>> first_byte;  // p50 first byte, p50 whole (ms)

// The two servers, started at first use, stopped by main.
std::unique_ptr<server_process> batching, sequential;

httplib::Client client_of(const server_process& s) {
    httplib::Client c("127.0.0.1", s.port());
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);  // as curl and the OpenAI SDKs: else Nagle holds the body behind the headers (+40 ms)
    c.set_read_timeout(std::chrono::seconds(600));
    c.set_write_timeout(std::chrono::seconds(30));
    return c;
}

// One non-streamed completion: its text and completion tokens; throws on anything but 200.
struct answer {
    std::string text;
    std::size_t completion_tokens = 0;
};
answer complete(httplib::Client& c, std::uint64_t seed) {
    const auto r = c.Post("/v1/completions", body(seed, false), "application/json");
    if (!r) throw std::runtime_error("POST /v1/completions: no answer (" + httplib::to_string(r.error()) + ")");
    if (r->status != 200)
        throw std::runtime_error("POST /v1/completions: HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300));
    const json a = json::parse(r->body);
    return {a.at("choices").at(0).at("text").get<std::string>(), a.at("usage").at("completion_tokens").get<std::size_t>()};
}

server_process& start(std::unique_ptr<server_process>& s, std::size_t max_batch) {
    if (!s) {
        s = std::make_unique<server_process>(max_batch);
        auto c = client_of(*s);
        complete(c, warm_up_seed);
    }
    return *s;
}

// Sum of the /metrics samples whose line starts with `prefix` (name, or name and labels).
std::map<std::string, double> metrics(const server_process& s) {
    auto c = client_of(s);
    const auto r = c.Get("/metrics");
    if (!r || r->status != 200) throw std::runtime_error("GET /metrics failed");
    std::map<std::string, double> out;
    const char* keys[] = {"ddiff_batches_total",     "ddiff_batch_rows_total",
                          "ddiff_step_seconds_sum",  "ddiff_step_seconds_count",
                          "ddiff_rows_cancelled_total{reason=\"settled\"}"};
    std::istringstream is(r->body);
    for (std::string line; std::getline(is, line);)
        for (const char* k : keys)
            if (line.rfind(std::string(k) + " ", 0) == 0) out[k] += std::stod(line.substr(line.rfind(' ') + 1));
    return out;
}

double percentile(std::vector<double> v, double q) {  // nearest rank
    std::sort(v.begin(), v.end());
    const std::size_t rank = std::size_t(std::ceil(q * double(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// What one mode accumulated over the iterations of a BM_serve run.
struct tally {
    double wall = 0;
    std::size_t requests = 0, tokens = 0;
    std::vector<double> latency;
    std::map<std::string, double> metrics;  // deltas
    std::vector<std::string> texts;         // by seed, from the first round
};

// One round: `requests` requests from `clients` threads; returns its wall time.
double run_round(server_process& s, std::size_t clients, tally& t) {
    const auto before = metrics(s);
    std::atomic<std::size_t> next{0};
    std::mutex m;
    std::vector<double> latency;
    std::vector<std::string> texts(opt.requests);
    std::size_t tokens = 0;
    std::string error;
    std::vector<httplib::Client> conns;
    for (std::size_t k = 0; k < clients; ++k) conns.push_back(client_of(s));
    const auto t0 = clk::now();
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < clients; ++k)
        threads.emplace_back([&, k] {
            for (std::size_t i; (i = next++) < opt.requests;) {
                const auto s0 = clk::now();
                try {
                    const answer a = complete(conns[k], i);
                    const double secs = std::chrono::duration<double>(clk::now() - s0).count();
                    std::lock_guard l(m);
                    latency.push_back(secs);
                    tokens += a.completion_tokens;
                    texts[i] = a.text;
                } catch (const std::exception& e) {
                    std::lock_guard l(m);
                    error = e.what();
                    next = opt.requests;
                }
            }
        });
    for (auto& th : threads) th.join();
    const double wall = std::chrono::duration<double>(clk::now() - t0).count();
    if (!error.empty()) throw std::runtime_error(error);
    const auto after = metrics(s);
    t.wall += wall;
    t.requests += opt.requests;
    t.tokens += tokens;
    t.latency.insert(t.latency.end(), latency.begin(), latency.end());
    for (const auto& [k, v] : after) t.metrics[k] += v - (before.count(k) ? before.at(k) : 0.0);
    if (t.texts.empty()) t.texts = std::move(texts);
    else if (t.texts != texts) t.texts.assign(1, "(rounds differ)");
    return wall;
}

void BM_serve(benchmark::State& state) {
    const std::size_t clients = std::size_t(state.range(0));
    tally bt, st;
    try {
        server_process& b = start(batching, 8);
        server_process& s = start(sequential, 1);
        // Alternate the order: by client count (log2) and by iteration.
        std::size_t order = 0;
        for (std::size_t c = clients; c > 1; c /= 2) ++order;
        for (auto _ : state) {
            double batched_wall = 0;
            if (order++ % 2 == 0) {
                run_round(s, clients, st);
                batched_wall = run_round(b, clients, bt);
            } else {
                batched_wall = run_round(b, clients, bt);
                run_round(s, clients, st);
            }
            state.SetIterationTime(batched_wall);
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
    auto put = [&](const std::string& prefix, const tally& t) {
        state.counters[prefix + "req_s"] = double(t.requests) / t.wall;
        state.counters[prefix + "tok_s"] = double(t.tokens) / t.wall;
        state.counters[prefix + "p50_ms"] = 1e3 * median(t.latency);
        state.counters[prefix + "p99_ms"] = 1e3 * percentile(t.latency, 0.99);
        const auto& m = t.metrics;
        state.counters[prefix + "step_ms"] = 1e3 * m.at("ddiff_step_seconds_sum") / m.at("ddiff_step_seconds_count");
    };
    put("", bt);
    put("seq_", st);
    const auto& m = bt.metrics;
    const double rows = m.at("ddiff_batch_rows_total") / m.at("ddiff_batches_total");
    state.counters["gain"] = (double(bt.requests) / bt.wall) / (double(st.requests) / st.wall);
    state.counters["rows_batch"] = rows;
    state.counters["row_step_ms"] = state.counters["step_ms"].value / rows;
    state.counters["early"] = m.at("ddiff_rows_cancelled_total{reason=\"settled\"}") / m.at("ddiff_batch_rows_total");
    state.counters["same_answers"] = bt.texts == st.texts && bt.texts.size() == opt.requests ? 1 : 0;
    for (const auto& [k, c] : state.counters) table[clients][k] = c.value;
}

void BM_first_byte(benchmark::State& state) {
    std::vector<double> first, whole;
    try {
        server_process& b = start(batching, 8);
        auto c = client_of(b);
        std::uint64_t seed = 0;
        for (auto _ : state) {
            httplib::Request req;
            req.method = "POST";
            req.path = "/v1/completions";
            req.body = body(seed++, true);
            req.set_header("Content-Type", "application/json");
            std::optional<clk::time_point> t_first;
            std::string received;
            req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
                if (!t_first) t_first = clk::now();
                received.append(data, n);
                return true;
            };
            httplib::Response res;
            httplib::Error err = httplib::Error::Success;
            const auto t0 = clk::now();
            const bool ok = c.send(req, res, err);
            const auto t1 = clk::now();
            if (!ok || res.status != 200 || !t_first ||
                received.size() < 14 || received.compare(received.size() - 14, 14, "data: [DONE]\n\n") != 0)
                throw std::runtime_error("streamed POST /v1/completions failed (HTTP " + std::to_string(res.status) + ", " +
                                         httplib::to_string(err) + "): " + received.substr(0, 300));
            const double f = std::chrono::duration<double>(*t_first - t0).count();
            first.push_back(f);
            whole.push_back(std::chrono::duration<double>(t1 - t0).count());
            state.SetIterationTime(f);
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
    state.counters["p50_first_byte_ms"] = 1e3 * median(first);
    state.counters["p50_whole_ms"] = 1e3 * median(whole);
    first_byte = {1e3 * median(first), 1e3 * median(whole)};
}

void print_table() {
    if (table.empty() && !first_byte) return;
    std::printf("\n%zu requests per round and mode, %zu round(s); body %s with seeds 0..%zu; --threads %zu\n\n",
                opt.requests, opt.rounds, body(0, false).c_str(), opt.requests - 1, opt.threads);
    if (!table.empty()) {
        std::printf("| clients | batching req/s | tokens/s | p50 (ms) | p99 (ms) | sequential req/s | tokens/s | p50 (ms) "
                    "| p99 (ms) | batching gain | rows per batch | step ms (batch) | step ms per row | step ms "
                    "(sequential) | same answers |\n");
        std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n");
        for (const auto& [c, m] : table)
            std::printf("| %zu | %.2f | %.0f | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f | %.2fx | %.2f | %.2f | %.2f | %.2f | %s |\n",
                        c, m.at("req_s"), m.at("tok_s"), m.at("p50_ms"), m.at("p99_ms"), m.at("seq_req_s"),
                        m.at("seq_tok_s"), m.at("seq_p50_ms"), m.at("seq_p99_ms"), m.at("gain"), m.at("rows_batch"),
                        m.at("step_ms"), m.at("row_step_ms"), m.at("seq_step_ms"), m.at("same_answers") == 1 ? "yes" : "NO");
    }
    if (first_byte)
        std::printf("\ntime to first streamed byte (1 client, idle batching server, median of %zu): %.1f ms; whole "
                    "stream %.0f ms\n",
                    opt.first_byte_requests, first_byte->first, first_byte->second);
}

std::size_t positive(const std::string& key, const std::string& v) {
    std::size_t end = 0;
    unsigned long x = 0;
    try {
        x = std::stoul(v, &end);
    } catch (const std::exception&) {
        end = 0;
    }
    if (end != v.size() || v.empty() || x == 0) {
        std::fprintf(stderr, "bench_serve: --%s = '%s', expected a positive integer\n", key.c_str(), v.c_str());
        std::exit(2);
    }
    return x;
}

void parse_own_flags(int& argc, char** argv) {
    int w = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        bool mine = false;
        auto num = [&](const char* key, std::size_t& into) {
            const std::string k = std::string("--") + key + "=";
            if (mine || a.rfind(k, 0) != 0) return;
            into = positive(key, a.substr(k.size()));
            mine = true;
        };
        if (a.rfind("--ddiff=", 0) == 0) {
            opt.ddiff = a.substr(8);
            mine = true;
        }
        num("requests", opt.requests);
        num("rounds", opt.rounds);
        num("first_byte_requests", opt.first_byte_requests);
        num("threads", opt.threads);
        num("max_tokens", opt.max_tokens);
        num("steps", opt.steps);
        num("block_length", opt.block_length);
        if (!mine) argv[w++] = argv[i];
    }
    argc = w;
}

}  // namespace

int main(int argc, char** argv) {
    parse_own_flags(argc, argv);
    ddiff::bench::add_context();
    benchmark::AddCustomContext("ddiff", opt.ddiff);
    benchmark::AddCustomContext("servers", "ddiff serve --port 0 --max-queue 256 --threads " + std::to_string(opt.threads) +
                                               " --max-batch 8 (batching) and --max-batch 1 (seq_), default model");
    benchmark::AddCustomContext("request", body(0, false) + ", seeds 0.." + std::to_string(opt.requests - 1) +
                                               " per round");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    for (long c : {1, 2, 4, 8})
        benchmark::RegisterBenchmark("BM_serve", BM_serve)
            ->ArgName("clients")
            ->Arg(c)
            ->Iterations(benchmark::IterationCount(opt.rounds))
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_first_byte", BM_first_byte)
        ->Iterations(benchmark::IterationCount(opt.first_byte_requests))
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    print_table();
    int rc = 0;
    for (auto* s : {&batching, &sequential})
        if (*s) {
            const std::size_t mb = (*s)->max_batch();
            const int code = (*s)->stop();
            if (code != 0) {
                std::fprintf(stderr, "bench_serve: ddiff serve --max-batch %zu exited with %d after SIGTERM, expected 0\n",
                             mb, code);
                rc = 1;
            }
            s->reset();
        }
    return rc;
}
