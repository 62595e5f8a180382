// The session API of the run-time front end, which the CLI and the server drive: open a model
// (kind detected), then decode requests whose policies are given by name, with a per-step
// callback (canvas, committed positions, model calls, timing) that may cancel a row.
//
//   auto s = ddiff::runtime::session::open({.model = "models/kjv-char"});
//   ddiff::runtime::decode_request r;
//   r.prompt = s.codec()->encode("In the beginning");
//   r.options.sampler = "threshold";
//   auto out = s.decode(r);                       // out.tokens (rows, len)
//
// The decode itself is run_decode<Model> (runtime/decode.hpp), one decoder per model type. A
// program that includes runtime/all.hpp gets it instantiated where it calls decode(); one that
// wants a parallel build includes this header and instantiates it in translation units of its
// own (tools/ddiff/decode_*.cpp).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ddiff/decoder/options.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
#include "ddiff/runtime/model.hpp"
#include "ddiff/runtime/options.hpp"
#include "ddiff/runtime/registry.hpp"

namespace ddiff::runtime {

// One step of one row, as a front end sees it.
struct step_event {
    std::size_t row = 0;
    std::uint32_t step = 0;                 // global step
    std::size_t block = 0;
    std::span<const token_id> canvas;       // this row after the step (valid during the call)
    std::span<const std::size_t> committed; // positions committed at this step
    std::size_t nfe = 0;                    // model calls so far
    double forward_seconds = 0.0;           // this step's model call(s)
};
// Returns false to cancel the row (its remaining masks stay).
using step_callback = std::function<bool(const step_event&)>;

struct decode_request {
    std::vector<token_id> prompt;                  // kept fixed, followed by options.length generated positions
    std::optional<std::vector<token_id>> canvas;   // infilling instead: every mask regenerated, the rest kept
    decode_options options;
    std::vector<std::uint64_t> seeds;              // one row per seed; empty: one row with options.seed
    // Rows of different inputs decoded together (a server's batch): when given, one per seed,
    // row b starts from rows[b] (a prompt, or with `canvas` an infill canvas) instead of
    // prompt / *canvas, each of the same length as it. Each row equals its seed and input
    // decoded alone.
    std::vector<std::vector<token_id>> rows;
};

struct decode_result {
    token_batch tokens;              // (rows, len) the final canvases, prompt included
    std::size_t prompt_length = 0;   // positions before the generated region (0 for infilling)
    std::size_t nfe = 0, steps = 0;
    double seconds = 0.0, forward_seconds = 0.0, select_seconds = 0.0;
    std::vector<bool> cancelled;
    std::vector<std::size_t> length;  // (rows) positions decoded (less than the canvas after an EOS stop)
    std::size_t budget = 0;           // new tokens asked for (--max-new-tokens / --length)
};

// What run_decode needs besides the model and the step rule.
struct decode_job {
    token_batch canvas = {};              // (rows, len) for infilling, or the prompts (rows, prompt length)
    bool infill = false;
    any_schedule schedule;
    any_remask remask;
    generate_options options;
    const step_callback* callback = nullptr;
};

// The step rule of a model's noise.
template <class Model>
using sampler_for = std::conditional_t<Model::noise == noise_kind::uniform, any_uniform_sampler, any_absorbing_sampler>;

// Defined in runtime/decode.hpp.
template <class Model>
decode_result run_decode(Model& model, decode_job job, sampler_for<Model> sampler);

// Checks a request against a model's facts (names, ranges, ids, cache support) without
// decoding; fills options.eos_ids from the model's when suppress_eos / eos_last need them.
inline void validate(const model_info& info, decode_request& r) {
    const bool uniform = info.noise == noise_kind::uniform;
    r.options.validate(uniform);
    if ((r.options.suppress_eos || r.options.eos_last) && r.options.eos_ids.empty()) {
        if (info.eos_ids.empty())
            throw option_error("eos_ids", "",
                               "the EOS ids that suppress_eos and eos_last act on (this model's files name none)");
        r.options.eos_ids = info.eos_ids;
    }
    const field_info eos{.name = "eos_ids"}, prompt{.name = "prompt_ids"};
    check_ids(eos, r.options.eos_ids, info.vocab);
    check_ids(prompt, r.prompt, info.vocab);
    if (r.canvas) {
        if (uniform) throw option_error("infill", "", "an absorbing-noise model (infilling marks positions with the mask)");
        check_ids(field_info{.name = "infill"}, *r.canvas, info.vocab);
    }
    if (!r.rows.empty()) {
        const std::size_t rows = std::max<std::size_t>(1, r.seeds.size()), width = r.canvas ? r.canvas->size() : r.prompt.size();
        if (r.rows.size() != rows)
            throw option_error("rows", std::to_string(r.rows.size()), "one input per seed (" + std::to_string(rows) + ")");
        for (const auto& row : r.rows) {
            if (row.size() != width)
                throw option_error("rows", std::to_string(row.size()) + " ids",
                                   std::to_string(width) + " ids (every row as long as the request's input)");
            check_ids(r.canvas ? field_info{.name = "infill"} : prompt, row, info.vocab);
        }
    }
    if (info.block_length == 0 && (r.options.cache == "block" || r.options.max_new_tokens || r.options.sub_block))
        throw option_error(r.options.cache == "block" ? "cache" : r.options.max_new_tokens ? "max_new_tokens" : "sub_block",
                           r.options.cache == "block" ? "block"
                           : r.options.max_new_tokens ? std::to_string(r.options.max_new_tokens)
                                                      : std::to_string(r.options.sub_block),
                           "a block-diffusion model (SDAR, Fast-dLLM v2, BD3-LM); this " + info.kind +
                               " model attends bidirectionally");
    if (info.block_length > 0) {
        if (r.options.cache == "prefix" || r.options.cache == "dual")
            throw option_error("cache", r.options.cache, "block (the exact cache of this block-diffusion model) or none");
        if (r.canvas) throw option_error("infill", "", "a bidirectional model (block diffusion decodes left to right)");
        if (r.options.sub_block && info.block_length % r.options.sub_block != 0)
            throw option_error("sub_block", std::to_string(r.options.sub_block),
                               "a divisor of the model's block length " + std::to_string(info.block_length));
        if (r.options.eos_ids.empty()) r.options.eos_ids = info.eos_ids;
    }
    if ((r.options.cache_mode() == kv_cache_mode::prefix || r.options.cache_mode() == kv_cache_mode::dual) &&
        !info.kv_cache)
        throw option_error("cache", r.options.cache,
                           "none: this " + info.kind + " model has no KV cache (needs a model with a KV cache: "
                           "LLaDA, Dream)");
    const bool budget = info.block_length > 0 && r.options.max_new_tokens > 0;
    const std::size_t len =
        r.canvas ? r.canvas->size() : r.prompt.size() + (budget ? r.options.max_new_tokens : r.options.length);
    if (info.max_length && len > info.max_length)
        throw option_error(budget ? "max_new_tokens" : "length", std::to_string(len),
                           "at most " + std::to_string(info.max_length) + " positions in all (the model's maximum)");
}

class session {
public:
    using uniform_model = oracle::uniform_markov_oracle;

    // Opens a model (runtime/checkpoint.hpp's open_model, in the translation unit that includes
    // it): see session_open.hpp.
    static session open(const model_options& o);

    session(model_info info, std::unique_ptr<any_model> absorbing, std::unique_ptr<uniform_model> uniform,
            std::unique_ptr<text_codec> codec, std::size_t threads)
        : info_(std::move(info)), absorbing_(std::move(absorbing)), uniform_(std::move(uniform)),
          codec_(std::move(codec)), threads_(threads) {}

    const model_info& info() const noexcept { return info_; }
    const text_codec* codec() const noexcept { return codec_.get(); }
    // The absorbing-noise model itself (likelihoods, benchmarks); an option_error for the
    // uniform-noise oracle.
    any_model& model() {
        if (!absorbing_) throw option_error("noise", "uniform", "absorbing (this needs a model with a mask token)");
        return *absorbing_;
    }
    bool uniform() const noexcept { return info_.noise == noise_kind::uniform; }

    // Checks the request against the model (names, ranges, ids, cache support) without decoding.
    void validate(decode_request& r) const { runtime::validate(info_, r); }

    decode_result decode(decode_request r, const step_callback& callback = {}) {
        validate(r);
        const auto start = std::chrono::steady_clock::now();
        decode_job job{.schedule = any_schedule::make(r.options.schedule, r.options.params),
                       .remask = any_remask::make(r.options.remask, r.options.params),
                       .options = r.options.generate(threads_),
                       .callback = callback ? &callback : nullptr};
        const std::size_t rows = std::max<std::size_t>(1, r.seeds.size());
        job.options.seeds = r.seeds;
        const std::size_t budget = r.options.max_new_tokens ? r.options.max_new_tokens : r.options.length;
        const std::size_t prompt_length = r.prompt.size(), pads = left_pad(r);
        if (info_.block_length > 0) block_settings(job.options, r, budget);
        if (job.options.stop_when_all_eos && job.options.eos_ids.empty()) {
            if (info_.eos_ids.empty())
                throw option_error("eos_stop", "", "the EOS ids to stop at (--eos-ids; this model's files name none)");
            job.options.eos_ids = info_.eos_ids;
        }
        const auto& src = r.canvas ? *r.canvas : r.prompt;
        job.infill = r.canvas.has_value();
        job.canvas = xt::zeros<token_id>({rows, src.size()});
        for (std::size_t b = 0; b < rows; ++b) {
            const auto& row = r.rows.empty() ? src : r.rows[b];
            std::copy(row.begin(), row.end(), job.canvas.begin() + b * src.size());
        }
        decode_result res =
            uniform() ? run_decode<uniform_model>(*uniform_, std::move(job),
                                                  any_uniform_sampler::make(r.options.sampler, r.options.params))
                      : run_decode<any_model>(*absorbing_, std::move(job),
                                              any_absorbing_sampler::make(r.options.sampler, r.options.params));
        if (pads) {  // dllm's left padding is not part of the answer
            res.tokens = xt::eval(xt::view(res.tokens, xt::all(), xt::range(pads, res.tokens.shape(1))));
            for (auto& n : res.length) n -= std::min(n, pads);
        }
        res.prompt_length = r.canvas ? 0 : prompt_length;
        res.budget = r.canvas ? 0 : budget;
        res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return res;
    }

private:
    // A block-diffusion checkpoint decodes as its reference does (docs/notes/block-diffusion.md):
    // whole blocks from position 0 for `budget` new tokens (Fast-dLLM v2: budget / L blocks after
    // the prompt's, and the next token of the last update call), --steps per block, stopping after
    // the block where an EOS id appears; SDAR and BD3-LM store each finished block at once,
    // Fast-dLLM v2 when the next block needs it (with its next token).
    // dllm's BD3LM sampler (a2d-qwen3 with a block size) left-pads the prompt with the pad id to
    // whole blocks; the pads are neither queries nor keys and take no position. Returns how many.
    std::size_t left_pad(decode_request& r) const {
        if (info_.kind != "a2d-qwen3" || info_.block_length == 0 || r.canvas) return 0;
        const std::size_t L = info_.block_length, n = (L - r.prompt.size() % L) % L;
        if (n == 0) return 0;
        if (info_.pad < 0)
            throw option_error("attention_block", std::to_string(L),
                               "0: this a2d-qwen3 config names no pad_token_id, which dllm's block sampler pads with");
        r.prompt.insert(r.prompt.begin(), n, info_.pad);
        for (auto& row : r.rows) row.insert(row.begin(), n, info_.pad);
        return n;
    }

    void block_settings(generate_options& g, const decode_request& r, std::size_t budget) const {
        const std::size_t L = info_.block_length, P = r.prompt.size();
        const bool fast = info_.kind == "Fast_dLLM_Qwen", dllm = info_.kind == "a2d-qwen3";
        g.block.enabled = true;
        g.block.commit = fast || dllm ? block_commit::lazy : block_commit::eager;
        if (dllm) g.block.pad_id = info_.pad;
        g.block.next_token = fast;
        g.block.stop_at_eos = !g.eos_ids.empty();
        g.keep_mask_logit = info_.kind != "bd3lm";  // the Qwen family's softmax spans the mask; BD3-LM's SUBS does not
        g.block_length = r.options.sub_block;
        std::size_t end = fast ? (budget / L + P / L) * L + 1 : (P + budget + L - 1) / L * L;
        if (end <= P) end = P + 1;
        g.gen_length = end - P;
        const std::size_t u = r.options.sub_block ? r.options.sub_block : L;
        g.steps = static_cast<std::uint32_t>(r.options.steps * ((end + u - 1) / u - P / u));
    }

    model_info info_;
    std::unique_ptr<any_model> absorbing_;
    std::unique_ptr<uniform_model> uniform_;
    std::unique_ptr<text_codec> codec_;
    std::size_t threads_ = 1;
};

}  // namespace ddiff::runtime
