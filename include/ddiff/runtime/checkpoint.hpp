// Opening a model by spec, its kind detected: "markov" / "markov:FILE" (the exact oracle fitted
// to a text), a Hugging Face checkpoint directory whose config.json names the architecture, or a
// GGUF file whose general.architecture does. The architectures are a table of
// checkpoint_family entries (runtime/families/*.hpp, all of them in runtime/models.hpp), so that
// a program can open models in several translation units, one per architecture (tools/ddiff
// does), while this header instantiates no model. The tokenizer comes with the model through a
// codec opener (runtime/codec.hpp's open_codec, which instantiates the tokenizer engine: link
// ddiff::tokenizers), so that it too can be compiled on its own.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ddiff/io/config.hpp"
#include "ddiff/io/gguf.hpp"
#include "ddiff/model/oracle/markov_chain.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
#include "ddiff/runtime/alphabet_codec.hpp"
#include "ddiff/runtime/default_text.hpp"
#include "ddiff/runtime/model.hpp"
#include "ddiff/runtime/options.hpp"

namespace ddiff::runtime {

// A model opened from a spec: exactly one of absorbing / uniform, and its codec (null: the
// checkpoint has no tokenizer, ids only).
struct opened_model {
    model_info info;
    std::unique_ptr<any_model> absorbing;
    std::unique_ptr<oracle::uniform_markov_oracle> uniform;
    std::unique_ptr<text_codec> codec;
};

// One architecture a checkpoint file can hold: format "safetensors" (a directory whose
// config.json has model_type `name`; SEDD's configs have none and are named "sedd") or "gguf"
// (general.architecture `name`). `open` loads the weights (file: the directory or the .gguf).
struct checkpoint_family {
    std::string_view format;
    std::string_view name;
    std::unique_ptr<model_impl> (*open)(const std::filesystem::path& file, const model_options& o,
                                        const model_info& info);
};

// Opens the text codec of a model spec without its weights (runtime/codec.hpp's open_codec).
using codec_opener = std::unique_ptr<text_codec> (*)(const model_options& o);

namespace detail {

// The absorbing oracle (float64 log-probabilities) as a float-logit model with its own pool.
class oracle_impl final : public model_impl {
public:
    oracle_impl(oracle::absorbing_markov_oracle m, model_info info, std::size_t threads)
        : m_(std::move(m)), info_(std::move(info)), pool_(threads, 0) {
        info_.vocab = m_.vocab_size();
        info_.mask = m_.mask_id();
    }
    const model_info& info() const override { return info_; }
    thread_pool& pool() override { return pool_; }
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) override {
        m_.denoise(x, alpha, buffer_);
        out = xt::cast<float>(buffer_);
    }
    void forward_cached(std::span<const token_id>, std::size_t, std::size_t, model::kv_cache&, float*) override {
        ddiff::detail::fail("a KV cache needs a model with forward_cached (LLaDA, Dream); this one is the markov oracle");
    }

private:
    oracle::absorbing_markov_oracle m_;
    model_info info_;
    thread_pool pool_;
    xt::xtensor<double, 3> buffer_;
};

inline opened_model open_markov(const model_options& o) {
    const oracle::text_chain tc =
        o.model == "markov" ? oracle::fit_text(default_text, o.smoothing) : oracle::fit_text_file(o.model.substr(7), o.smoothing);
    opened_model r;
    r.info = {.kind = "markov", .source = o.model, .format = "oracle"};
    r.codec = std::make_unique<alphabet_codec>(tc.alphabet);
    if (o.noise == "uniform") {
        r.info.noise = noise_kind::uniform;
        r.info.vocab = tc.alphabet.size();
        r.info.time_conditioned = true;
        r.uniform = std::make_unique<oracle::uniform_markov_oracle>(tc.chain);
    } else {
        r.absorbing = std::make_unique<any_model>(
            std::make_unique<oracle_impl>(oracle::absorbing_markov_oracle(tc.chain), r.info, o.threads));
        r.info = r.absorbing->info();
    }
    return r;
}

inline const checkpoint_family* find_family(std::span<const checkpoint_family> families, std::string_view format,
                                            std::string_view name) {
    for (const auto& f : families)
        if (f.format == format && f.name == name) return &f;
    return nullptr;
}

inline std::string family_names(std::span<const checkpoint_family> families, std::string_view format) {
    std::string s;
    for (const auto& f : families)
        if (f.format == format) s += (s.empty() ? "" : ", ") + std::string(f.name);
    return s.empty() ? "(none compiled into this program)" : s;
}

inline opened_model open_gguf(const model_options& o, std::span<const checkpoint_family> families,
                              codec_opener codec) {
    const auto f = io::gguf_file::open(o.model);
    const std::string arch = f.get<std::string>("general.architecture", "");
    const auto* fam = find_family(families, "gguf", arch);
    if (o.attention_block)
        throw option_error("attention_block", std::to_string(o.attention_block),
                           "0 for a GGUF file (only a2d-qwen3 checkpoints take their block size from the command line)");
    if (!fam)
        ddiff::detail::fail<config_error>(o.model, ": general.architecture \"", arch, "\", expected one of: ",
                                          family_names(families, "gguf"));
    opened_model r;
    r.absorbing = std::make_unique<any_model>(fam->open(o.model, o, {.kind = arch, .source = o.model, .format = "gguf"}));
    r.info = r.absorbing->info();
    if (f.contains("tokenizer.ggml.eos_token_id")) r.info.eos_ids = {f.get<token_id>("tokenizer.ggml.eos_token_id")};
    r.codec = codec(o);
    return r;
}

inline opened_model open_checkpoint(const model_options& o, std::span<const checkpoint_family> families,
                                    codec_opener codec) {
    const std::filesystem::path dir(o.model);
    if (std::filesystem::is_regular_file(dir) && dir.extension() == ".gguf") return open_gguf(o, families, codec);
    if (!std::filesystem::exists(dir / "config.json"))
        throw option_error("model", o.model,
                           "a checkpoint directory with config.json, a .gguf file, 'markov' or 'markov:FILE'");
    const auto cfg = io::json_config::load(dir / "config.json");
    const std::string type = cfg.get<std::string>("model_type", cfg.has_value("model") ? "sedd" : "");
    const auto* fam = find_family(families, "safetensors", type);
    if (!fam)
        ddiff::detail::fail<config_error>((dir / "config.json").string(), ": model_type \"", type,
                                          "\", expected one of: ", family_names(families, "safetensors"),
                                          " (\"sedd\": a SEDD config, with a \"model\" section and no model_type)");
    if (o.attention_block && type != "a2d-qwen3")
        throw option_error("attention_block", std::to_string(o.attention_block),
                           "0 for a " + type + " checkpoint (only a2d-qwen3 checkpoints take their block size from the "
                           "command line; this one's attention is fixed by its config)");
    opened_model r;
    r.absorbing =
        std::make_unique<any_model>(fam->open(dir, o, {.kind = type, .source = o.model, .format = "safetensors"}));
    r.info = r.absorbing->info();
    if ((r.codec = codec(o))) {
        r.info.eos_ids = r.codec->eos_ids();
        if (const auto mask = r.codec->mask_id(); mask && *mask != r.info.mask)
            ddiff::detail::fail<config_error>(o.model, ": the model's mask id ", r.info.mask, " and the tokenizer's ",
                                              *mask, " differ, expected one mask token");
    }
    return r;
}

}  // namespace detail

// Opens the model named by o.model (validated first) with the architectures of `families`; a
// spec that is neither an oracle, a .gguf file nor a directory with config.json is an
// option_error, an architecture not in the table a config_error naming those that are.
inline opened_model open_model(model_options o, std::span<const checkpoint_family> families, codec_opener codec) {
    o.validate();
    if (o.markov()) return detail::open_markov(o);
    return detail::open_checkpoint(o, families, codec);
}

}  // namespace ddiff::runtime
