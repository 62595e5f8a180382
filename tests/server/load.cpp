// ddiff serve under load, bounded: 8 concurrent clients send ~200 requests to the shipped model
// (completions, streamed completions, n = 2, chat; every 25th malformed). Every well-formed
// request completes (or gets a 503), none hangs, every answer's ids equal `ddiff generate`'s for
// the same seed and settings, the malformed ones get 400, and the server's RSS after the run is
// within 10% of its RSS after a warm-up. Reports p50 / p99 latency and throughput. The Debug +
// sanitizer build runs a quarter of the requests (the same mix).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "process.hpp"

using namespace ddiff::test;

namespace {
#ifdef NDEBUG
constexpr int total_requests = 200;
#else
constexpr int total_requests = 48;
#endif
constexpr int clients = 8;
constexpr int seeds = 8;          // request seeds 0..7 (n = 2 uses seed + 1 too)
constexpr int length = 16;
const std::string prompt = "In the beginning";
constexpr std::size_t prompt_tokens = 16, chat_prompt_tokens = 13;  // "And God said\n"

// The ids up to the first EOS (the server stops a row there; the CLI decodes on).
std::vector<int> until_eos(const std::vector<int>& v) { return {v.begin(), std::find(v.begin(), v.end(), 64)}; }
}  // namespace

TEST_CASE("serve: 8 clients, mixed requests: every answer equals ddiff generate, none hangs, RSS stays") {
    // References: the CLI's samples for seeds 0..8, completions and chat.
    const std::vector<std::string> common = {"--length", std::to_string(length), "--steps", std::to_string(length),
                                             "--block-length", "8", "--seed", "0", "--num-samples",
                                             std::to_string(seeds + 1)};
    auto flags = common;
    flags.insert(flags.end(), {"--prompt", prompt});
    const auto ref = cli_ids(flags);
    flags = common;
    flags.insert(flags.end(), {"--chat", "--prompt", "And God said"});
    const auto chat_ref = cli_ids(flags);
    REQUIRE(ref.size() == seeds + 1);
    REQUIRE(chat_ref.size() == seeds + 1);

    server_process srv({"--max-batch", "8", "--max-queue", "64"});
    auto body_of = [&](int i, bool& malformed, int& kind, int& seed) {
        seed = i % seeds;
        kind = i % 4;
        malformed = i % 25 == 24;
        if (malformed) return i % 2 ? std::string("{\"prompt\": \"In\", \"steps\": ") : std::string(R"({"prompt": "In", "steps": -3})");
        json b = {{"max_tokens", length}, {"steps", length}, {"block_length", 8}, {"seed", seed}, {"return_tokens", true}};
        if (kind == 3) b["messages"] = {{{"role", "user"}, {"content", "And God said"}}};
        else b["prompt"] = prompt;
        if (kind == 1) b["stream"] = true;
        if (kind == 2) b["n"] = 2;
        return b.dump();
    };
    auto send = [&](httplib::Client& c, int i, std::string& error) -> std::pair<int, bool> {  // (status, equal)
        bool malformed = false;
        int kind = 0, seed = 0;
        const std::string body = body_of(i, malformed, kind, seed);
        const std::string path = kind == 3 && !malformed ? "/v1/chat/completions" : "/v1/completions";
        const auto r = c.Post(path.c_str(), body, "application/json");
        if (!r) {
            error = "request " + std::to_string(i) + ": no answer (" + httplib::to_string(r.error()) + ")";
            return {0, false};
        }
        if (malformed || r->status != 200) return {r->status, malformed && r->status == 400};
        json answer;
        if (kind == 1) {
            bool ok = false;
            const auto ev = parse_sse(r->body, ok);
            if (!ok || ev.empty() || ev.back().data != "[DONE]") {
                error = "request " + std::to_string(i) + ": bad event stream";
                return {r->status, false};
            }
            for (const auto& e : ev)
                if (e.data != "[DONE]") {
                    const json x = json::parse(e.data);
                    if (x.contains("ddiff")) answer = x;
                }
        } else {
            answer = json::parse(r->body);
        }
        const auto& choices = answer.at("ddiff").at("choices");
        bool equal = true;
        const std::size_t skip = kind == 3 ? chat_prompt_tokens : prompt_tokens;
        for (std::size_t k = 0; k < choices.size(); ++k) {
            const auto& want = (kind == 3 ? chat_ref : ref).at(std::size_t(seed) + k);
            const std::vector<int> region(want.begin() + std::ptrdiff_t(skip), want.end());
            const auto got = choices[k].at("tokens").get<std::vector<int>>();
            equal = equal && until_eos(got) == until_eos(region);
        }
        equal = equal && choices.size() == (kind == 2 ? 2u : 1u);
        if (!equal) error = "request " + std::to_string(i) + ": ids differ from ddiff generate's: " + r->body.substr(0, 400);
        return {r->status, equal};
    };

    // Requests [from, to) from 8 client threads; with `record`, their outcomes are counted.
    std::mutex m;
    std::vector<double> latency;
    std::vector<std::string> errors;
    int ok = 0, busy = 0, bad_ok = 0, wrong = 0;
    std::size_t tokens = 0;
    auto phase = [&](int from, int to, bool record) {
        std::atomic<int> next{from};
        std::vector<std::thread> threads;
        for (int k = 0; k < clients; ++k)
            threads.emplace_back([&] {
                auto c = srv.client(120);
                for (int i; (i = next++) < to;) {
                    const auto s = std::chrono::steady_clock::now();
                    std::string error;
                    const auto [status, equal] = send(c, i, error);
                    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
                    std::lock_guard l(m);
                    if (!error.empty()) errors.push_back(error);
                    if (!record) continue;
                    if (i % 25 == 24) {
                        bad_ok += equal;
                    } else if (status == 200 && equal) {
                        ++ok;
                        latency.push_back(secs);
                        tokens += std::size_t(length) * (i % 4 == 2 ? 2 : 1);
                    } else if (status == 503) {
                        ++busy;
                    } else {
                        ++wrong;
                    }
                }
            });
        for (auto& t : threads) t.join();
    };
    // A warm-up of the same mix (the server's threads and allocator arenas), then the RSS baseline.
    phase(total_requests, total_requests + total_requests / 4, false);
    const long rss_before = srv.rss_kb();
    const auto t0 = std::chrono::steady_clock::now();
    phase(0, total_requests, true);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long rss_after = srv.rss_kb();

    for (const auto& e : errors) INFO(e);
    CHECK(errors.empty());
    const int malformed = total_requests / 25;
    CHECK(bad_ok == malformed);
    CHECK(wrong == 0);
    CHECK(ok + busy == total_requests - malformed);
    CHECK(ok > 0);
    REQUIRE(!latency.empty());
    std::sort(latency.begin(), latency.end());
    const double p50 = latency[latency.size() / 2], p99 = latency[std::min(latency.size() - 1, latency.size() * 99 / 100)];
    char line[320];
    std::snprintf(line, sizeof line,
                  "load: %d requests (%d ok, %d x 503, %d malformed) from %d clients in %.2f s: %.1f requests/s, "
                  "%.0f tokens/s; latency p50 %.3f s, p99 %.3f s; RSS %ld kB -> %ld kB",
                  total_requests, ok, busy, malformed, clients, wall, ok / wall, double(tokens) / wall, p50, p99,
                  rss_before, rss_after);
    MESSAGE(line);
    std::fprintf(stderr, "%s\n", line);
    CHECK(rss_after <= rss_before * 11 / 10);
    auto c = srv.client();
    CHECK(metric(c, "ddiff_queue_depth") == 0);
    CHECK(metric(c, "ddiff_running_rows") == 0);
    CHECK(metric(c, "ddiff_batches_total") < ok + clients);  // rows shared batches
    CHECK(srv.stop() == 0);
}
