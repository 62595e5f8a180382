// The references' block-diffusion loops replayed on ddiff's model API against the PyTorch
// transcriptions' goldens (tools/reference/block_generate.py, written by
// tools/reference/make_block_goldens.py): SDAR (static / dynamic threshold, EOS stop), Fast-dLLM
// v2 (sub-blocks, threshold, shifted logits, next token from the update call, EOS), dllm's BD3LM
// sampler (left padding, logical positions, linear counts, right shift, EOS) and BD3-LM's
// first-hitting sampler (its recorded draws). Each loop runs with the exact block cache
// (forward_block, logits only at the rows read) and without (the whole canvas every call), with
// 1 and 2 threads: token for token the golden, and the NFE the reference counts. These loops
// exist only here, to test the model level; the decoder composes the same calls from policies.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>

#include "ddiff/io/safetensors.hpp"
#include "ddiff/model/dit.hpp"
#include "ddiff/model/qwen.hpp"

using namespace ddiff;
namespace fs = std::filesystem;

namespace {
const fs::path models = fs::path(DDIFF_TEST_DATA) / "models";

std::vector<token_id> ids_of(const io::safetensors_file& g, const char* name) {
    const auto t = g.tensor(name).to_i64<2>();
    std::vector<token_id> r(t.shape(1));
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = token_id(t(0, i));
    return r;
}
std::vector<std::int64_t> ints_of(const io::safetensors_file& g, const char* name) { return g.tensor(name).to_i64(); }

// Argmax and its softmax probability (block_generate.propose at temperature 0).
std::pair<token_id, double> propose(const float* l, std::size_t V) {
    std::size_t best = 0;
    for (std::size_t v = 1; v < V; ++v)
        if (l[v] > l[best]) best = v;
    double z = 0;
    for (std::size_t v = 0; v < V; ++v) z += std::exp(double(l[v]) - double(l[best]));
    return {token_id(best), 1.0 / z};
}

// Top-k positions by confidence (descending; k <= candidates).
std::vector<std::size_t> top_k(const std::vector<std::pair<double, std::size_t>>& cand, std::size_t k) {
    auto c = cand;
    std::stable_sort(c.begin(), c.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < k; ++i) out.push_back(c[i].second);
    return out;
}

// Logits of `rows` (canvas indices) of the canvas x[0, end): with the exact cache (the rows'
// block, first..end, against committed rows) or the uncached block-causal forward of x[0, end).
template <class M>
void logits_at(M& m, const std::vector<token_id>& x, std::size_t first, std::size_t end,
               const model::attention_layout& lay, model::kv_cache* cache, bool commit,
               const std::vector<std::size_t>& rows, std::vector<float>& out) {
    out.resize(std::max<std::size_t>(1, rows.size()) * m.vocab_size());
    const std::span<const token_id> canvas(x.data(), end);
    if (cache)
        m.forward_block(canvas, first, end - first, lay, *cache, commit, rows, out.data());
    else
        m.forward_rows(canvas, lay, rows, out.data());
}

struct decoded {
    std::vector<token_id> x;
    int nfe = 0, blocks = 0;
};

// SDAR block_diffusion_generate (docs/notes/block-diffusion.md).
decoded sdar(model::sdar<>& m, const std::vector<token_id>& prompt, std::size_t gen, std::size_t L, std::size_t steps,
             bool dynamic, double threshold, std::optional<token_id> stop, bool cached) {
    const std::size_t P = prompt.size(), nb = (P + gen + L - 1) / L, V = m.vocab_size();
    const token_id mask = m.mask_id();
    decoded d;
    d.x.assign(nb * L, mask);
    std::copy(prompt.begin(), prompt.end(), d.x.begin());
    const model::attention_layout lay{nullptr, nullptr, L};
    model::kv_cache cache;
    model::kv_cache* c = cached ? &cache : nullptr;
    std::vector<float> out;
    const std::size_t pre = P / L * L;
    if (pre) {
        ++d.nfe;
        if (cached) logits_at(m, d.x, 0, pre, lay, c, true, {pre - 1}, out);
    }
    std::vector<std::size_t> count(steps, L / steps);
    for (std::size_t i = 0; i < L % steps; ++i) ++count[i];
    for (std::size_t b = P / L; b < nb; ++b) {
        const std::size_t lo = b * L, hi = lo + L;
        for (std::size_t step = 0; step <= steps; ++step) {
            std::vector<std::size_t> masked;
            for (std::size_t i = lo; i < hi; ++i)
                if (d.x[i] == mask) masked.push_back(i);
            ++d.nfe;
            if (masked.empty()) {  // the store call
                if (cached) logits_at(m, d.x, lo, hi, lay, c, true, {}, out);  // no logits needed
                break;
            }
            REQUIRE(step < steps);
            logits_at(m, d.x, lo, hi, lay, c, false, masked, out);
            std::vector<std::pair<double, std::size_t>> cand;
            std::vector<token_id> x0(masked.size());
            for (std::size_t i = 0; i < masked.size(); ++i) {
                const auto [tok, p] = propose(out.data() + i * V, V);
                x0[i] = tok;
                cand.push_back({p, i});
            }
            std::vector<std::size_t> commit;
            if (dynamic) {
                for (auto& [p, i] : cand)
                    if (p > threshold) commit.push_back(i);
                if (commit.size() < count[step]) commit.clear();
            }
            if (commit.empty()) commit = top_k(cand, count[step]);
            for (std::size_t i : commit) d.x[masked[i]] = x0[i];
        }
        ++d.blocks;
        if (stop && std::find(d.x.begin() + std::ptrdiff_t(P), d.x.end(), *stop) != d.x.end()) break;
    }
    return d;
}

// Fast-dLLM v2 batch_sample (one sequence, no sub-block cache).
decoded fast_dllm_v2(model::fast_dllm_v2<>& m, std::vector<token_id> x, std::size_t bs, std::size_t max_new,
                     std::size_t small, double threshold, token_id stop, token_id pad, bool cached) {
    const std::size_t P = x.size(), V = m.vocab_size();
    const token_id mask = m.mask_id();
    const model::attention_layout lay{nullptr, nullptr, bs};
    model::kv_cache cache;
    model::kv_cache* c = cached ? &cache : nullptr;
    std::vector<float> out;
    decoded d;
    auto argmax = [&](const float* l) { return propose(l, V).first; };
    if (P > bs) {
        const std::size_t n = P / bs * bs;
        ++d.nfe;
        logits_at(m, x, 0, n, lay, c, true, {n - 1}, out);
        if (P % bs == 0) x.push_back(argmax(out.data()));
    }
    bool finished = false;
    for (std::size_t b = P / bs; b < max_new / bs + P / bs && !finished; ++b) {
        x.resize(x.size() + (bs - x.size() % bs), mask);
        const std::size_t T = x.size(), lo = T - bs;
        for (std::size_t s0 = lo; s0 < T; s0 += small) {
            for (;;) {
                std::vector<std::size_t> masked, rows;
                for (std::size_t i = s0; i < s0 + small; ++i)
                    if (x[i] == mask) {
                        masked.push_back(i);
                        REQUIRE(i > lo);  // the block's first token is always known
                        rows.push_back(i - 1);  // shifted: row i - 1 predicts position i
                    }
                if (masked.empty()) break;
                ++d.nfe;
                logits_at(m, x, lo, T, lay, c, false, rows, out);
                std::vector<std::pair<double, std::size_t>> cand;
                std::vector<token_id> x1(masked.size());
                std::size_t best = 0;
                for (std::size_t i = 0; i < masked.size(); ++i) {
                    const auto [tok, p] = propose(out.data() + i * V, V);
                    x1[i] = tok;
                    cand.push_back({p, i});
                    if (p > cand[best].first) best = i;
                }
                for (std::size_t i = 0; i < masked.size(); ++i)
                    if (cand[i].first > threshold || i == best) {
                        x[masked[i]] = x1[i];
                        finished = finished || x1[i] == stop;
                    }
            }
        }
        ++d.blocks;
        if (finished) {
            const auto it = std::find(x.begin() + std::ptrdiff_t(P), x.end(), stop);
            std::fill(it + 1, x.end(), pad);
            break;
        }
        ++d.nfe;  // update call: the block's keys and values, and the next token
        logits_at(m, x, lo, T, lay, c, true, {T - 1}, out);
        x.push_back(argmax(out.data()));
    }
    d.x = x;
    return d;
}

// dllm get_num_transfer_tokens, linear schedule (float32 ratio, round half to even).
std::vector<std::size_t> dllm_counts(std::size_t m, std::size_t steps) {
    std::vector<std::size_t> out;
    for (std::size_t j = 0; j < steps && m > 0; ++j) {
        const float s = float(double(steps - 1 - j) / double(steps)), t = float(double(steps - j) / double(steps));
        const float ratio = (1.0f - (1.0f - s)) / (1.0f - (1.0f - t));
        const double n = std::nearbyint(double(m) * (1.0 - double(ratio)));  // FE_TONEAREST: half to even
        const std::size_t k = std::min<std::size_t>(m, std::size_t(n));
        m -= k;
        if (k) out.push_back(k);
    }
    return out;
}

// dllm BD3LMSampler.sample (one prompt).
decoded dllm(model::a2d_qwen3<>& m, const std::vector<token_id>& prompt, std::size_t max_new, std::size_t L,
             std::size_t steps, token_id pad, std::optional<token_id> eos, bool shift, bool cached) {
    const std::size_t P = prompt.size(), padded = (P + L - 1) / L * L, V = m.vocab_size();
    const token_id mask = m.mask_id();
    std::vector<token_id> x(padded, pad);
    std::copy(prompt.begin(), prompt.end(), x.begin() + std::ptrdiff_t(padded - P));
    const std::size_t nblocks = (max_new + L - 1) / L, spb = (steps + nblocks - 1) / nblocks;
    model::kv_cache cache;
    model::kv_cache* c = cached ? &cache : nullptr;
    std::vector<float> out, prefix_last(V);
    std::vector<std::int64_t> pos;
    std::vector<std::uint8_t> valid;
    auto layout = [&] {
        valid.assign(x.size(), 0);
        pos.assign(x.size(), 0);
        std::int64_t seen = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            valid[i] = x[i] != pad;
            pos[i] = valid[i] ? seen++ : 0;
        }
        return model::attention_layout{pos.data(), valid.data(), L};
    };
    decoded d;
    std::size_t generated = 0;
    for (std::size_t b = 0; b < nblocks; ++b) {
        const std::size_t T0 = x.size(), cur = std::min(L, max_new - generated);
        // the prefix call (the reference recomputes the prefix; the cache commits the last block)
        ++d.nfe;
        {
            auto lay = layout();
            const std::size_t from = cached ? (b == 0 ? 0 : T0 - L) : 0;
            logits_at(m, x, from, T0, lay, c, true, {T0 - 1}, out);
            std::copy(out.begin(), out.begin() + std::ptrdiff_t(V), prefix_last.begin());
        }
        x.resize(T0 + cur, mask);
        const auto lay = layout();
        std::size_t masks = cur;
        for (std::size_t k : dllm_counts(masks, spb)) {
            std::vector<std::size_t> masked, rows;
            for (std::size_t i = T0; i < T0 + cur; ++i)
                if (x[i] == mask) masked.push_back(i);
            if (masked.empty()) break;
            ++d.nfe;
            for (std::size_t i : masked)
                if (!shift || i > T0) rows.push_back(shift ? i - 1 : i);
            logits_at(m, x, T0, T0 + cur, lay, c, false, rows, out);
            std::vector<std::pair<double, std::size_t>> cand;
            std::vector<token_id> x0(masked.size());
            for (std::size_t i = 0, r = 0; i < masked.size(); ++i) {
                const float* l = (shift && masked[i] == T0) ? prefix_last.data() : out.data() + (r++) * V;
                const auto [tok, p] = propose(l, V);
                x0[i] = tok;
                cand.push_back({p, i});
            }
            for (std::size_t i : top_k(cand, std::min(k, masked.size()))) x[masked[i]] = x0[i];
        }
        ++d.blocks;
        generated += cur;
        if (eos && std::find(x.begin() + std::ptrdiff_t(T0), x.end(), *eos) != x.end()) break;
    }
    d.x = x;
    return d;
}

void expect_tokens(const std::vector<token_id>& got, const std::vector<token_id>& want) {
    REQUIRE(got.size() == want.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < want.size(); ++i) differ += got[i] != want[i];
    CHECK(differ == 0);
}
}  // namespace

TEST_CASE("SDAR's block generate on the model API equals the PyTorch transcription (exact cache and uncached)") {
    const auto g = io::safetensors_file::open(models / "sdar_tiny" / "generate_golden.safetensors");
    const auto prompt = ids_of(g, "prompt_ids"), eos_prompt = ids_of(g, "eos_prompt_ids");
    const auto nfe = ints_of(g, "nfe"), eos_nb = ints_of(g, "eos_nfe_blocks");
    for (std::size_t threads : {1u, 2u})
        for (bool cached : {true, false}) {
            CAPTURE(threads);
            CAPTURE(cached);
            model::load_options o;
            o.threads = threads;
            auto m = model::sdar<>::load(models / "sdar_tiny", o);
            auto s = sdar(m, prompt, 12, 4, 4, false, 0.0, std::nullopt, cached);
            expect_tokens(s.x, ids_of(g, "output_static_ids"));
            CHECK(s.nfe == nfe[0]);
            auto dyn = sdar(m, prompt, 12, 4, 4, true, 0.3, std::nullopt, cached);
            expect_tokens(dyn.x, ids_of(g, "output_dynamic_ids"));
            CHECK(dyn.nfe == nfe[1]);
            auto e = sdar(m, eos_prompt, 12, 4, 4, true, 0.85, token_id(95), cached);
            expect_tokens(e.x, ids_of(g, "eos_output_ids"));
            CHECK(e.nfe == eos_nb[0]);
            CHECK(e.blocks == 2);  // EOS in the second block: exactly two blocks generated
        }
}

TEST_CASE("Fast-dLLM v2's block + sub-block decoding on the model API equals the PyTorch transcription") {
    const auto g = io::safetensors_file::open(models / "fast_dllm_v2_tiny" / "generate_golden.safetensors");
    const auto nfe = ints_of(g, "nfe");
    for (std::size_t threads : {1u, 2u})
        for (bool cached : {true, false}) {
            CAPTURE(threads);
            CAPTURE(cached);
            model::load_options o;
            o.threads = threads;
            auto m = model::fast_dllm_v2<>::load(models / "fast_dllm_v2_tiny", o);
            auto t9 = fast_dllm_v2(m, ids_of(g, "prompt_ids"), 8, 24, 4, 0.9, 95, 96, cached);
            expect_tokens(t9.x, ids_of(g, "output_t9_ids"));
            CHECK(t9.nfe == nfe[0]);
            auto t3 = fast_dllm_v2(m, ids_of(g, "prompt_ids"), 8, 24, 4, 0.3, 95, 96, cached);
            expect_tokens(t3.x, ids_of(g, "output_t3_ids"));
            CHECK(t3.nfe == nfe[2]);
            auto p16 = fast_dllm_v2(m, ids_of(g, "prompt16_ids"), 8, 24, 4, 0.9, 95, 96, cached);
            expect_tokens(p16.x, ids_of(g, "output16_ids"));
            CHECK(p16.nfe == ints_of(g, "nfe16")[0]);
            auto e = fast_dllm_v2(m, ids_of(g, "eos_prompt_ids"), 8, 24, 4, 0.9, 95, 96, cached);
            expect_tokens(e.x, ids_of(g, "eos_output_ids"));
            CHECK(e.nfe == ints_of(g, "eos_nfe_blocks")[0]);
            CHECK(e.blocks == 2);
        }
}

TEST_CASE("dllm's BD3LM sampler on the model API equals the PyTorch transcription (padded prompt, right shift, EOS)") {
    const auto g = io::safetensors_file::open(models / "dllm_qwen3_tiny" / "generate_golden.safetensors");
    const auto nfe = ints_of(g, "nfe");
    for (std::size_t threads : {1u, 2u})
        for (bool cached : {true, false}) {
            CAPTURE(threads);
            CAPTURE(cached);
            model::load_options o;
            o.threads = threads;
            auto m = model::a2d_qwen3<>::load(models / "dllm_qwen3_tiny", o);
            auto r = dllm(m, ids_of(g, "prompt_ids"), 24, 8, 24, 96, std::nullopt, false, cached);
            expect_tokens(r.x, ids_of(g, "output_ids"));
            CHECK(r.nfe == nfe[0]);
            auto rs = dllm(m, ids_of(g, "prompt_ids"), 24, 8, 24, 96, std::nullopt, true, cached);
            expect_tokens(rs.x, ids_of(g, "output_shift_ids"));
            CHECK(rs.nfe == nfe[1]);
            auto e = dllm(m, ids_of(g, "eos_prompt_ids"), 24, 8, 24, 96, token_id(95), false, cached);
            expect_tokens(e.x, ids_of(g, "eos_output_ids"));
            CHECK(e.nfe == ints_of(g, "eos_nfe_blocks")[0]);
            CHECK(e.blocks == 2);
        }
}

TEST_CASE("BD3-LM's first-hitting sampler replayed with its recorded draws equals the PyTorch transcription") {
    const auto g = io::safetensors_file::open(models / "bd3lm_tiny" / "generate_golden.safetensors");
    for (const char* name : {"p10", "p09"}) {
        CAPTURE(name);
        const double top_p = std::string(name) == "p10" ? 1.0 : 0.9;
        const auto gumbel = g.tensor(std::string("gumbel_") + name).to_f64<3>();  // (steps, L, V)
        const auto index = g.tensor(std::string("index_") + name).to_i64();
        const auto want = ids_of(g, (std::string("output_") + name + "_ids").c_str());
        for (bool cached : {true, false}) {
            CAPTURE(cached);
            auto m = model::dit<>::load(models / "bd3lm_tiny");
            const std::size_t L = m.block_length(), V = m.vocab_size();
            const token_id mask = m.mask_id();
            std::vector<token_id> x;
            model::kv_cache cache;
            std::vector<float> out(L * V);
            std::size_t step = 0, nfe = 0;
            for (std::size_t b = 0; b < 3; ++b) {
                x.resize((b + 1) * L, mask);
                if (b == 0) x[0] = 95;  // BOS
                const std::size_t lo = b * L;
                for (std::size_t s = 0; s < 8; ++s) {
                    std::vector<std::size_t> masked;
                    for (std::size_t i = lo; i < lo + L; ++i)
                        if (x[i] == mask) masked.push_back(i);
                    if (masked.empty()) break;
                    ++nfe;
                    const std::span<const token_id> canvas(x.data(), x.size());
                    if (cached) {
                        m.forward_block(canvas, lo, L, 0.0, cache, false, out.data());
                    } else {
                        std::vector<float> all(x.size() * V);
                        m.forward(canvas, 0.0, all.data());
                        std::copy(all.begin() + std::ptrdiff_t(lo * V), all.end(), out.begin());
                    }
                    REQUIRE(step < gumbel.shape(0));
                    const std::size_t pick = masked[std::size_t(index[step])];
                    const std::size_t r = pick - lo;
                    // p_x0 = exp(SUBS) of a masked row: softmax without the mask column
                    std::vector<double> p(V, 0.0);
                    double mx = -INFINITY, z = 0;
                    for (std::size_t v = 0; v < V; ++v)
                        if (token_id(v) != mask) mx = std::max(mx, double(out[r * V + v]));
                    for (std::size_t v = 0; v < V; ++v)
                        if (token_id(v) != mask) z += (p[v] = std::exp(double(out[r * V + v]) - mx));
                    for (auto& q : p) q /= z;
                    if (top_p < 1.0) {  // nucleus: sorted prefix with cumulative mass <= p, top kept
                        std::vector<std::size_t> order(V);
                        std::iota(order.begin(), order.end(), 0);
                        std::stable_sort(order.begin(), order.end(), [&](auto a, auto c) { return p[a] > p[c]; });
                        double cum = 0, kept = 0;
                        std::vector<double> q(V, 0.0);
                        for (std::size_t j = 0; j < V; ++j) {
                            cum += p[order[j]];
                            if (j == 0 || cum <= top_p) kept += (q[order[j]] = p[order[j]]);
                        }
                        for (std::size_t v = 0; v < V; ++v) p[v] = q[v] / kept;
                    }
                    std::size_t best = 0;
                    double bv = -1;
                    for (std::size_t v = 0; v < V; ++v) {
                        const double val = p[v] / (1e-10 - std::log(gumbel(step, r, v) + 1e-10));
                        if (val > bv) bv = val, best = v;
                    }
                    x[pick] = token_id(best);
                    ++step;
                }
                if (cached) {
                    ++nfe;  // store_kv
                    m.forward_block(std::span<const token_id>(x.data(), x.size()), lo, L, 0.0, cache, true, out.data());
                } else {
                    ++nfe;
                }
            }
            expect_tokens(x, want);
            CHECK(nfe == std::size_t(g.tensor(std::string("nfe_") + name).to_i64()[0]));
        }
    }
}
