// The typed options of the run-time front end, each field declared once (fields.hpp): which
// model to open (model_options), and how to decode (decode_options). validate() checks every
// range and every policy name before anything is loaded; the CLI and the server fill the same
// structs and report the same errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ddiff/decoder/options.hpp"
#include "ddiff/runtime/fields.hpp"
#include "ddiff/runtime/registry.hpp"

namespace ddiff::runtime {

// The hardware threads (at least 1): the default of every `threads` option.
inline std::size_t hardware_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

struct model_options {
    std::string model;             // a checkpoint directory, "markov" or "markov:FILE"; empty: the shipped model
    std::string noise = "absorbing";  // the markov oracle's forward process
    double smoothing = 0.1;        // the markov oracle's add-k smoothing
    std::size_t threads = hardware_threads();
    std::string compute = "native";  // model::compute_type (families/checkpoint_impl.hpp load_options_for)
    std::size_t attention_block = 0;   // a2d-qwen3 only: block-causal attention in blocks of N (0: the config's)

    template <class V>
    void for_each_field(V&& v) {
        v(field_info{"model", "SPEC",
                     "a checkpoint directory (config.json + safetensors: LLaDA, Dream, MDLM, SEDD), markov (the exact "
                     "oracle of a built-in Genesis 1 text) or markov:FILE"},
          model);
        v(field_info{.name = "noise", .meta = "KIND", .help = "forward process of the markov oracle",
                     .choices = {"absorbing", "uniform"}},
          noise);
        v(field_info{"smoothing", "K", "add-k smoothing of the markov oracle's bigram counts", 0.0, 1e12, true}, smoothing);
        v(field_info{"threads", "N", "threads of the model and the per-position work (the output does not depend on it)",
                     1.0, 256.0},
          threads);
        v(field_info{.name = "compute", .meta = "PATH",
                     .help = "how bf16 and quantized weights are multiplied: native (vdpbf16ps / integer GEMM, "
                             "activations rounded as llama.cpp does) or exact (f32 on the stored values; docs/gguf.md)",
                     .choices = {"native", "exact"}},
          compute);
        v(field_info{"attention_block", "N",
                     "a2d-qwen3 only (dllm's Qwen3-0.6B-diffusion-bd3lm, whose config names no block size): block-causal "
                     "attention in blocks of N, as dllm's BD3LM sampler sets it (its default: 32); 0 = as the config says",
                     0.0, 1 << 20},
          attention_block);
    }
    bool markov() const { return model == "markov" || model.rfind("markov:", 0) == 0; }
    void validate() {
        for_each_field([](const field_info& f, const auto& value) { check_field(f, value); });
        if (noise == "uniform" && !markov())
            throw option_error("noise", noise,
                               "absorbing for a checkpoint (--noise uniform needs a uniform-noise model: the markov oracle)");
    }
};

struct decode_options {
    std::string schedule = "log_linear";
    std::string remask = "low_confidence";
    std::string sampler = "top_k";
    std::size_t length = 64;       // positions generated after the prompt
    std::uint32_t steps = 64;
    std::size_t block_length = 0;  // 0 = one block
    std::string cache = "none";
    double temperature = 1.0;
    std::size_t top_k = 0;
    double top_p = 1.0;
    double alg_temp = 0.0;
    double cfg_scale = 0.0;
    std::uint64_t seed = 0;
    std::vector<token_id> eos_ids;
    bool suppress_eos = false;
    bool eos_last = false;
    std::size_t max_steps_per_block = 0;
    std::size_t max_new_tokens = 0;  // block-diffusion models: the budget (0: length)
    std::size_t sub_block = 0;       // block-diffusion models: decode units inside a block (0: the block)
    bool eos_stop = false;           // bidirectional models: stop when every masked position proposes EOS
    policy_params params;

    template <class V>
    void for_each_field(V&& v) {
        v(field_info{.name = "schedule", .meta = "NAME", .help = "noise schedule", .choices = names(schedules{})},
          schedule);
        v(field_info{.name = "remask", .meta = "NAME", .help = "remasking score (which positions to commit first)",
                     .choices = remask_names()},
          remask);
        v(field_info{.name = "sampler", .meta = "NAME", .help = "step rule (how many positions per step, and how)",
                     .choices = sampler_names()},
          sampler);
        v(field_info{"length", "N", "number of positions to generate", 1.0, 1 << 20}, length);
        v(field_info{"steps", "N", "denoising steps (a multiple of the number of blocks; per block for block-diffusion "
                                   "models)",
                     1.0, 1 << 20},
          steps);
        v(field_info{"block_length", "N", "semi-autoregressive block length (0 = one block)", 0.0, 1 << 20}, block_length);
        v(field_info{.name = "cache", .meta = "MODE",
                     .help = "Fast-dLLM KV cache for LLaDA / Dream models (approximate), or block: the exact cache "
                             "of block-diffusion models (SDAR, Fast-dLLM v2, BD3-LM; docs/decoder.md)",
                     .choices = {"none", "prefix", "dual", "block"}},
          cache);
        v(field_info{"temperature", "T", "sampling temperature (0 = greedy)", 0.0, 1e6}, temperature);
        v(field_info{"top_k", "K", "keep the K most likely tokens (0 = off)", 0.0, 1 << 30}, top_k);
        v(field_info{"top_p", "P", "nucleus filter (1 = off)", 0.0, 1.0, true}, top_p);
        v(field_info{"alg_temp", "T", "draw committed positions from softmax(score / T) (0 = the top scores)", 0.0, 1e6},
          alg_temp);
        v(field_info{"cfg_scale", "W", "LLaDA's unsupervised classifier-free guidance weight", 0.0, 1e6}, cfg_scale);
        v(field_info{"seed", "N", "random seed: the same seed gives the same output", 0.0, 9.2e18}, seed);
        v(field_info{"eos_ids", "IDS", "ids that suppress_eos and eos_last act on (comma-separated; default: the "
                                       "checkpoint's EOS ids)"},
          eos_ids);
        v(field_info{"suppress_eos", "", "never propose an EOS id (LLaDA logits_eos_inf)"}, suppress_eos);
        v(field_info{"eos_last", "", "score EOS proposals -inf so they are committed last (LLaDA confidence_eos_eot_inf)"},
          eos_last);
        v(field_info{"max_steps_per_block", "N", "adaptive step rules: steps a block may take (0 = its length)", 0.0,
                     1 << 20},
          max_steps_per_block);
        v(field_info{"max_new_tokens", "N", "block-diffusion models: at most N new tokens, block after block, stopping "
                                            "after the block where EOS appears (0 = --length)",
                     0.0, 1 << 20},
          max_new_tokens);
        v(field_info{"sub_block", "N", "block-diffusion models: decode each block in sub-blocks of N (Fast-dLLM v2's "
                                       "small_block_size; 0 = the whole block)",
                     0.0, 1 << 20},
          sub_block);
        v(field_info{"eos_stop", "", "bidirectional models: stop when the top proposal of every masked position left "
                                     "is an EOS id (they are filled with it)"},
          eos_stop);
        params.for_each_field(v);
    }

    static std::vector<std::string_view> remask_names() {
        auto n = names(remasks{});
        n.push_back("maskgit");  // the earlier name of maskgit_gumbel, still accepted
        return n;
    }
    static std::vector<std::string_view> sampler_names() {
        auto n = names(absorbing_samplers{});
        for (auto u : names(uniform_samplers{}))
            if (std::find(n.begin(), n.end(), u) == n.end()) n.push_back(u);
        return n;
    }

    // Ranges and names; `uniform` (the model's noise) picks the step rules that fit.
    void validate(bool uniform) {
        if (remask == "maskgit") remask = "maskgit_gumbel";
        for_each_field([](const field_info& f, const auto& value) { check_field(f, value); });
        const auto fits = uniform ? names(uniform_samplers{}) : names(absorbing_samplers{});
        if (std::find(fits.begin(), fits.end(), sampler) == fits.end()) {
            field_info f{.name = "sampler", .choices = fits};
            throw option_error("sampler", sampler,
                               detail::choices_text(f) + (uniform ? " (uniform noise)" : " (absorbing noise)"));
        }
    }

    kv_cache_mode cache_mode() const {
        return cache == "prefix" ? kv_cache_mode::prefix
               : cache == "dual"  ? kv_cache_mode::dual
               : cache == "block" ? kv_cache_mode::block
                                  : kv_cache_mode::none;
    }

    // The library's options for one decode (the prompt and rows are the caller's).
    generate_options generate(std::size_t threads) const {
        generate_options g;
        g.gen_length = length;
        g.steps = steps;
        g.block_length = block_length;
        g.temperature = temperature;
        g.top_k = top_k;
        g.top_p = top_p;
        g.cfg_scale = cfg_scale;
        g.alg_temp = alg_temp;
        g.seed = seed;
        g.threads = static_cast<unsigned>(threads);
        g.suppress_eos = suppress_eos;
        g.eos_confidence_last = eos_last;
        g.eos_ids = eos_ids;
        g.max_steps_per_block = max_steps_per_block;
        g.cache = cache_mode();
        g.stop_when_all_eos = eos_stop;
        return g;
    }
};

}  // namespace ddiff::runtime
