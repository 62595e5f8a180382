// Opening a model by spec, its kind detected: "markov" / "markov:FILE" (the exact oracle fitted
// to a text), a Hugging Face checkpoint directory whose config.json names the architecture
// (LLaDA, Dream, MDLM, SEDD), or a GGUF file (llama.cpp's llada and dream architectures). Its
// tokenizer comes with it: tokenizer.json or a character vocab.json in the directory, the
// tokenizer.ggml.* metadata of a GGUF file. This header instantiates the models and the
// tokenizer engine (link ddiff::tokenizers); include it in the one translation unit that opens
// them (the session's).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "ddiff/decoder/block_model.hpp"
#include "ddiff/io/config.hpp"
#include "ddiff/io/gguf.hpp"
#include "ddiff/io/tokenizer/chat_template.hpp"
#include "ddiff/io/tokenizer/tokenizer.hpp"
#include "ddiff/model/dit.hpp"
#include "ddiff/model/dream.hpp"
#include "ddiff/model/gguf.hpp"
#include "ddiff/model/llada.hpp"
#include "ddiff/model/oracle/markov_chain.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
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

namespace detail {

// The Qwen-family block-diffusion checkpoints (model_type a2d-qwen3, sdar, Fast_dLLM_Qwen):
// defined in runtime/checkpoint_qwen.hpp, which a program includes in one translation unit of
// its own (tools/ddiff/open_qwen.cpp) so that their instantiations compile in parallel.
std::unique_ptr<model_impl> open_qwen_checkpoint(const std::filesystem::path& dir, const std::string& type,
                                                 const model_info& info, const model::load_options& o);
bool is_qwen_model_type(const std::string& type);

// A checkpoint model M behind model_impl.
template <class M>
class checkpoint_impl final : public model_impl {
public:
    checkpoint_impl(M model, model_info info) : m_(std::move(model)), info_(std::move(info)) {
        info_.vocab = m_.vocab_size();
        info_.mask = m_.mask_id();
        info_.shift_logits = policy::shift_logits(m_);
        info_.time_conditioned = policy::time_conditioned(m_);
        info_.kv_cache = requires(M& m, std::span<const token_id> ids, model::kv_cache& c, float* out) {
            m.forward_cached(ids, std::size_t{}, std::size_t{}, c, out);
        };
        if constexpr (ddiff::detail::has_block_forward<M>()) info_.block_length = m_.block_length();
    }
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count,
                       const model::attention_layout& layout, model::kv_cache& cache, bool commit,
                       std::span<const std::size_t> rows, float* out) override {
        if constexpr (ddiff::detail::has_block_forward<M>())
            ddiff::detail::block_forward(m_, ids, first, count, layout, 1.0, cache, commit, rows, out);
        else
            model_impl::forward_block(ids, first, count, layout, cache, commit, rows, out);
    }
    void forward_rows(std::span<const token_id> ids, const model::attention_layout& layout,
                      std::span<const std::size_t> rows, float* out) override {
        if constexpr (ddiff::detail::has_block_forward<M>())
            ddiff::detail::rows_forward(m_, ids, layout, 1.0, rows, out);
        else
            model_impl::forward_rows(ids, layout, rows, out);
    }
    const model_info& info() const override { return info_; }
    thread_pool& pool() override { return m_.pool(); }
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) override {
        m_.denoise(x, alpha, out);
    }
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, model::kv_cache& cache,
                        float* out) override {
        if constexpr (requires { m_.forward_cached(ids, first, count, cache, out); })
            m_.forward_cached(ids, first, count, cache, out);
        else
            ddiff::detail::fail("a KV cache needs a model with forward_cached (LLaDA, Dream); this one is ", info_.kind);
    }

private:
    M m_;
    model_info info_;
};

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

class alphabet_codec final : public text_codec {
public:
    explicit alphabet_codec(std::string alphabet) : alphabet_(std::move(alphabet)) {}
    std::vector<token_id> encode(std::string_view t, bool) const override {
        std::vector<token_id> ids;
        for (char c : t) {
            const auto it = std::lower_bound(alphabet_.begin(), alphabet_.end(), c);
            if (it == alphabet_.end() || *it != c)
                ddiff::detail::fail("markov oracle: character code ", int(static_cast<unsigned char>(c)),
                                    " is not in the model's alphabet of ", alphabet_.size(), " characters");
            ids.push_back(static_cast<token_id>(it - alphabet_.begin()));
        }
        return ids;
    }
    std::string decode(std::span<const token_id> ids, token_id mask, bool show_masks, bool) const override {
        std::string s;
        for (token_id v : ids) {
            if (v == mask) {
                if (show_masks) s += '_';
            } else {
                s += piece(v);
            }
        }
        return s;
    }
    std::string piece(token_id v) const override {
        ddiff::detail::require(v >= 0 && static_cast<std::size_t>(v) < alphabet_.size(), "markov oracle", "token", v,
                               "a state of the alphabet");
        return std::string(1, alphabet_[static_cast<std::size_t>(v)]);
    }
    std::string describe() const override { return "the oracle's byte alphabet (" + std::to_string(alphabet_.size()) + " states)"; }

private:
    std::string alphabet_;  // alphabet_[v] is the byte of state v, sorted ascending
};

// A checkpoint's tokenizer (ddiff/io/tokenizer/): encode and decode as Hugging Face tokenizers
// does, the chat template as transformers renders it.
class tokenizer_codec final : public text_codec {
public:
    explicit tokenizer_codec(io::tokenizer t, std::string kind) : t_(std::move(t)), kind_(std::move(kind)) {
        if (const auto& tpl = t_.metadata().chat_template) chat_.emplace(*tpl, t_.source() + " chat_template");
    }
    std::vector<token_id> encode(std::string_view text, bool add_special_tokens) const override {
        return t_.encode(text, add_special_tokens);
    }
    std::string decode(std::span<const token_id> ids, token_id mask, bool show_masks, bool skip_special) const override {
        if (show_masks) return t_.render(ids, mask, "_", skip_special);
        std::vector<token_id> kept;
        for (token_id v : ids)
            if (v != mask) kept.push_back(v);
        return t_.decode(kept, skip_special);
    }
    std::string piece(token_id id) const override { return t_.piece(id); }
    std::string describe() const override { return kind_; }
    bool has_chat_template() const override { return chat_.has_value(); }
    std::string chat(std::span<const chat_turn> turns, bool add_generation_prompt) const override {
        if (!chat_) return text_codec::chat(turns, add_generation_prompt);
        std::vector<io::chat_message> messages;
        for (const auto& t : turns) messages.push_back({t.role, t.content});
        const auto& md = t_.metadata();
        io::chat_render_options o;
        o.bos_token = md.bos_token;
        o.eos_token = md.eos_token;
        o.pad_token = md.pad_token;
        o.unk_token = md.unk_token;
        return chat_->render(messages, add_generation_prompt, o);
    }
    const io::tokenizer& tokenizer() const noexcept { return t_; }

private:
    io::tokenizer t_;
    std::string kind_;
    std::optional<io::chat_template> chat_;
};

// The tokenizer a GGUF file carries (tokenizer.ggml.*; llama.cpp's llama-vocab.cpp): model
// "gpt2" is byte-level BPE with the pre-tokenizer regex llama.cpp uses for tokenizer.ggml.pre.
// nullptr when the file has no tokenizer.
inline std::unique_ptr<text_codec> gguf_codec(const io::gguf_file& f) {
    if (!f.contains("tokenizer.ggml.tokens")) return nullptr;
    const std::string model = f.get<std::string>("tokenizer.ggml.model", "gpt2");
    if (model != "gpt2")
        ddiff::detail::fail<config_error>(f.source(), ": tokenizer.ggml.model \"", model,
                                          "\", expected \"gpt2\" (byte-level BPE; SentencePiece-style vocabularies "
                                          "with scores instead of merges are not supported yet)");
    io::bpe_spec b;
    b.kind = io::bpe_spec::style::byte_level;
    for (auto t : f.get_strings("tokenizer.ggml.tokens")) b.tokens.emplace_back(t);
    if (f.contains("tokenizer.ggml.merges"))
        for (auto m : f.get_strings("tokenizer.ggml.merges")) {
            const auto sp = m.find(' ');
            if (sp == std::string_view::npos)
                ddiff::detail::fail<format_error>(f.source(), ": tokenizer.ggml.merges entry \"", m,
                                                  "\", expected two tokens separated by a space");
            b.merges.emplace_back(std::string(m.substr(0, sp)), std::string(m.substr(sp + 1)));
        }
    if (f.contains("tokenizer.ggml.token_type")) b.token_types = f.get_array<std::int32_t>("tokenizer.ggml.token_type");
    b.pre_regex = io::pre_tokenizer_regex_for(f.get<std::string>("tokenizer.ggml.pre", "default"));
    if (f.contains("tokenizer.ggml.bos_token_id")) b.bos = f.get<token_id>("tokenizer.ggml.bos_token_id");
    if (f.contains("tokenizer.ggml.eos_token_id")) b.eos = f.get<token_id>("tokenizer.ggml.eos_token_id");
    b.add_bos = f.get<bool>("tokenizer.ggml.add_bos_token", false);
    auto t = io::tokenizer::from_bpe(b, f.source() + " tokenizer.ggml.*");
    return std::make_unique<tokenizer_codec>(std::move(t), "byte-level BPE from GGUF metadata (pre \"" +
                                                              f.get<std::string>("tokenizer.ggml.pre", "default") + "\")");
}

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

inline opened_model open_gguf(const model_options& o) {
    model::load_options lo;
    lo.threads = o.threads;
    const auto f = io::gguf_file::open(o.model);
    const std::string arch = f.get<std::string>("general.architecture", "");
    opened_model r;
    model_info info{.kind = arch, .source = o.model, .format = "gguf"};
    if (arch == "llada")
        r.absorbing = std::make_unique<any_model>(
            std::make_unique<checkpoint_impl<model::llada<>>>(model::load_llada_gguf<>(o.model, lo), info));
    else if (arch == "dream")
        r.absorbing = std::make_unique<any_model>(
            std::make_unique<checkpoint_impl<model::dream<>>>(model::load_dream_gguf<>(o.model, lo), info));
    else
        ddiff::detail::fail<config_error>(o.model, ": general.architecture \"", arch, "\", expected llada or dream");
    r.info = r.absorbing->info();
    if (f.contains("tokenizer.ggml.eos_token_id")) r.info.eos_ids = {f.get<token_id>("tokenizer.ggml.eos_token_id")};
    r.codec = gguf_codec(f);
    return r;
}

inline opened_model open_checkpoint(const model_options& o) {
    const std::filesystem::path dir(o.model);
    if (std::filesystem::is_regular_file(dir) && dir.extension() == ".gguf") return open_gguf(o);
    if (!std::filesystem::exists(dir / "config.json"))
        throw option_error("model", o.model,
                           "a checkpoint directory with config.json, a .gguf file, 'markov' or 'markov:FILE'");
    model::load_options lo;
    lo.threads = o.threads;
    const auto cfg = io::json_config::load(dir / "config.json");
    const std::string type = cfg.get<std::string>("model_type", cfg.has_value("model") ? "sedd" : "");
    opened_model r;
    model_info info{.kind = type, .source = o.model, .format = "safetensors"};
    auto make = [&](auto m) {
        r.absorbing = std::make_unique<any_model>(
            std::make_unique<checkpoint_impl<decltype(m)>>(std::move(m), info));
    };
    if (type == "llada") {
        make(model::llada<>::load(dir, lo));
    } else if (type == "Dream") {
        make(model::dream<>::load(dir, lo));
    } else if (type == "mdlm" || type == "sedd" || type == "bd3lm") {
        make(model::dit<>::load(dir, lo));
    } else if (is_qwen_model_type(type)) {
        r.absorbing = std::make_unique<any_model>(open_qwen_checkpoint(dir, type, info, lo));
    } else {
        ddiff::detail::fail<config_error>((dir / "config.json").string(), ": model_type \"", type,
                                          "\", expected one of: llada, Dream, mdlm, bd3lm, a2d-qwen3, sdar, "
                                          "Fast_dLLM_Qwen (or a SEDD config with a \"model\" section)");
    }
    r.info = r.absorbing->info();
    if (auto tok = io::tokenizer::find_in_dir(dir)) {
        const auto& md = tok->metadata();
        r.info.eos_ids = md.eos_ids;
        if (md.mask_id && *md.mask_id != r.info.mask)
            ddiff::detail::fail<config_error>(o.model, ": the model's mask id ", r.info.mask, " and the tokenizer's ",
                                              *md.mask_id, " differ, expected one mask token");
        const std::string kind = tok->is_character_level() ? "character vocabulary (" + tok->source() + ")"
                                                           : "tokenizer.json (" + tok->source() + ")";
        r.codec = std::make_unique<tokenizer_codec>(std::move(*tok), kind);
    }
    return r;
}

}  // namespace detail

// The tokenizer of a model spec without loading its weights (ddiff tokenize); nullptr when the
// model has none.
inline std::unique_ptr<text_codec> open_codec(const model_options& o) {
    if (o.markov()) {
        const oracle::text_chain tc = o.model == "markov" ? oracle::fit_text(default_text, o.smoothing)
                                                          : oracle::fit_text_file(o.model.substr(7), o.smoothing);
        return std::make_unique<detail::alphabet_codec>(tc.alphabet);
    }
    const std::filesystem::path p(o.model);
    if (std::filesystem::is_regular_file(p) && p.extension() == ".gguf") return detail::gguf_codec(io::gguf_file::open(p));
    if (!std::filesystem::is_directory(p))
        throw option_error("model", o.model, "a checkpoint directory, a .gguf file, 'markov' or 'markov:FILE'");
    auto tok = io::tokenizer::find_in_dir(p);
    if (!tok) return nullptr;
    const std::string kind = tok->is_character_level() ? "character vocabulary (" + tok->source() + ")"
                                                       : "tokenizer.json (" + tok->source() + ")";
    return std::make_unique<detail::tokenizer_codec>(std::move(*tok), kind);
}

// Opens the model named by o.model (validated first); a spec that is neither an oracle, a .gguf
// file nor a directory with config.json is an option_error.
inline opened_model open_model(model_options o) {
    o.validate();
    if (o.markov()) return detail::open_markov(o);
    return detail::open_checkpoint(o);
}

}  // namespace ddiff::runtime
