// A model's text codec, opened without its weights: the character alphabet of the Markov
// oracle, a checkpoint directory's tokenizer.json or character vocab.json (ddiff/io/tokenizer/:
// encode and decode as Hugging Face tokenizers does, the chat template as transformers renders
// it), or the tokenizer.ggml.* metadata of a GGUF file. This header instantiates the tokenizer
// engine (link ddiff::tokenizers) but no model.
#pragma once

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ddiff/io/gguf.hpp"
#include "ddiff/io/tokenizer/chat_template.hpp"
#include "ddiff/io/tokenizer/tokenizer.hpp"
#include "ddiff/model/oracle/markov_chain.hpp"
#include "ddiff/runtime/alphabet_codec.hpp"
#include "ddiff/runtime/default_text.hpp"
#include "ddiff/runtime/model.hpp"
#include "ddiff/runtime/options.hpp"

namespace ddiff::runtime {

namespace detail {

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
    std::vector<token_id> eos_ids() const override { return t_.metadata().eos_ids; }
    std::optional<token_id> mask_id() const override { return t_.metadata().mask_id; }
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

// The codec of a checkpoint directory's tokenizer files; nullptr when it has none.
inline std::unique_ptr<text_codec> directory_codec(io::tokenizer tok) {
    const std::string kind = tok.is_character_level() ? "character vocabulary (" + tok.source() + ")"
                                                      : "tokenizer.json (" + tok.source() + ")";
    return std::make_unique<tokenizer_codec>(std::move(tok), kind);
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
    return detail::directory_codec(std::move(*tok));
}

}  // namespace ddiff::runtime
