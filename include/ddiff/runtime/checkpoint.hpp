// Opening a model by spec, its kind detected: "markov" / "markov:FILE" (the exact oracle fitted
// to a text), or a Hugging Face checkpoint directory whose config.json names the architecture
// (LLaDA, Dream, MDLM, SEDD). This header instantiates the models; include it in the one
// translation unit that opens them (the session's).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "ddiff/io/config.hpp"
#include "ddiff/io/tokenizer.hpp"
#include "ddiff/model/dit.hpp"
#include "ddiff/model/dream.hpp"
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
    std::vector<token_id> encode(std::string_view t) const override {
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
    std::string decode(std::span<const token_id> ids, token_id mask, bool show_masks) const override {
        std::string s;
        for (token_id v : ids) {
            if (v == mask) {
                if (show_masks) s += '_';
            } else {
                ddiff::detail::require(v >= 0 && static_cast<std::size_t>(v) < alphabet_.size(), "markov oracle",
                                       "token", v, "a state of the alphabet");
                s += alphabet_[static_cast<std::size_t>(v)];
            }
        }
        return s;
    }

private:
    std::string alphabet_;  // alphabet_[v] is the byte of state v, sorted ascending
};

class char_codec final : public text_codec {
public:
    explicit char_codec(io::char_tokenizer t) : t_(std::move(t)) {}
    std::vector<token_id> encode(std::string_view text) const override { return t_.encode(text); }
    std::string decode(std::span<const token_id> ids, token_id mask, bool show_masks) const override {
        return t_.decode(ids, mask, show_masks ? "_" : "");
    }

private:
    io::char_tokenizer t_;
};

inline opened_model open_markov(const model_options& o) {
    const oracle::text_chain tc =
        o.model == "markov" ? oracle::fit_text(default_text, o.smoothing) : oracle::fit_text_file(o.model.substr(7), o.smoothing);
    opened_model r;
    r.info = {.kind = "markov", .source = o.model};
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

inline opened_model open_checkpoint(const model_options& o) {
    const std::filesystem::path dir(o.model);
    if (!std::filesystem::exists(dir / "config.json"))
        throw option_error("model", o.model, "a checkpoint directory with config.json, 'markov' or 'markov:FILE'");
    model::load_options lo;
    lo.threads = o.threads;
    const auto cfg = io::json_config::load(dir / "config.json");
    const std::string type = cfg.get<std::string>("model_type", cfg.has_value("model") ? "sedd" : "");
    opened_model r;
    model_info info{.kind = type, .source = o.model};
    auto make = [&](auto m) {
        r.absorbing = std::make_unique<any_model>(
            std::make_unique<checkpoint_impl<decltype(m)>>(std::move(m), info));
    };
    if (type == "llada") {
        make(model::llada<>::load(dir, lo));
    } else if (type == "Dream") {
        make(model::dream<>::load(dir, lo));
    } else if (type == "mdlm" || type == "sedd") {
        make(model::dit<>::load(dir, lo));
    } else {
        ddiff::detail::fail<config_error>((dir / "config.json").string(), ": model_type \"", type,
                                          "\", expected one of: llada, Dream, mdlm (or a SEDD config with a \"model\" "
                                          "section)");
    }
    r.info = r.absorbing->info();
    if (auto tok = io::char_tokenizer::find(dir)) r.codec = std::make_unique<char_codec>(std::move(*tok));
    return r;
}

}  // namespace detail

// Opens the model named by o.model (validated first); a spec that is neither an oracle nor a
// directory with config.json is an option_error.
inline opened_model open_model(model_options o) {
    o.validate();
    if (o.markov()) return detail::open_markov(o);
    return detail::open_checkpoint(o);
}

}  // namespace ddiff::runtime
