// Character-level tokenizers from a Hugging Face vocab.json ({token: id}) or tokenizer.json
// (model.vocab): text is encoded one UTF-8 character per token; multi-character entries such
// as "<|mdm_mask|>" are special tokens, decoded as themselves (or skipped).
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"

namespace ddiff::io {

class char_tokenizer {
public:
    // dir holds vocab.json or tokenizer.json; nullopt when it has neither.
    static std::optional<char_tokenizer> find(const std::filesystem::path& dir) {
        if (std::filesystem::exists(dir / "vocab.json")) return load(dir / "vocab.json");
        if (std::filesystem::exists(dir / "tokenizer.json")) return load(dir / "tokenizer.json");
        return std::nullopt;
    }

    static char_tokenizer load(const std::filesystem::path& file) {
        std::ifstream in(file, std::ios::binary);
        if (!in) ddiff::detail::fail<io_error>("char_tokenizer: cannot open '", file.string(), "' for reading");
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            ddiff::detail::fail<format_error>(file.string(), ": not a JSON object, expected {\"token\": id, ...}");
        const nlohmann::json* vocab = &j;
        if (j.contains("model")) {
            if (!j["model"].is_object() || !j["model"].contains("vocab") || !j["model"]["vocab"].is_object())
                ddiff::detail::fail<format_error>(file.string(), ": tokenizer.json without a model.vocab object");
            vocab = &j["model"]["vocab"];
        }
        char_tokenizer t;
        for (const auto& [tok, id] : vocab->items()) {
            if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > (1ll << 31) - 1)
                ddiff::detail::fail<format_error>(file.string(), ": token \"", tok, "\" has id ", id.dump(),
                                                  ", expected a non-negative integer");
            const auto v = static_cast<token_id>(id.get<long long>());
            if (static_cast<std::size_t>(v) >= t.tokens_.size()) t.tokens_.resize(static_cast<std::size_t>(v) + 1);
            if (!t.tokens_[static_cast<std::size_t>(v)].empty())
                ddiff::detail::fail<format_error>(file.string(), ": id ", v, " is used by two tokens");
            t.tokens_[static_cast<std::size_t>(v)] = tok;
            if (utf8_length(tok) == 1) t.chars_[tok] = v;
        }
        if (t.chars_.empty())
            ddiff::detail::fail<format_error>(file.string(), ": no single-character tokens, expected a character- or "
                                                             "byte-level vocabulary");
        return t;
    }

    std::size_t size() const noexcept { return tokens_.size(); }
    const std::string& token(token_id v) const {
        ddiff::detail::require(v >= 0 && static_cast<std::size_t>(v) < tokens_.size(), "char_tokenizer", "id", v,
                               "an id of the vocabulary");
        return tokens_[static_cast<std::size_t>(v)];
    }
    std::optional<token_id> id_of(std::string_view tok) const {
        for (std::size_t i = 0; i < tokens_.size(); ++i)
            if (tokens_[i] == tok) return static_cast<token_id>(i);
        return std::nullopt;
    }

    // One token per UTF-8 character; a character outside the vocabulary is an error naming it.
    std::vector<token_id> encode(std::string_view text) const {
        std::vector<token_id> out;
        for (std::size_t i = 0; i < text.size();) {
            const std::size_t n = char_bytes(static_cast<unsigned char>(text[i]));
            const std::string ch(text.substr(i, n));
            const auto it = chars_.find(ch);
            if (it == chars_.end())
                ddiff::detail::fail<invalid_argument>("char_tokenizer: character '", ch, "' at byte ", i,
                                                      " is not in the vocabulary");
            out.push_back(it->second);
            i += n;
        }
        return out;
    }

    // Concatenated tokens; `mask` is shown as mask_text, other special (multi-character) tokens
    // are dropped when skip_special.
    std::string decode(std::span<const token_id> ids, token_id mask = -1, std::string_view mask_text = "_",
                       bool skip_special = true) const {
        std::string s;
        for (token_id v : ids) {
            if (v == mask) {
                s += mask_text;
                continue;
            }
            const std::string& t = token(v);
            if (skip_special && utf8_length(t) != 1) continue;
            s += t;
        }
        return s;
    }

private:
    static std::size_t char_bytes(unsigned char c) {
        if (c < 0x80) return 1;
        if ((c >> 5) == 0x6) return 2;
        if ((c >> 4) == 0xe) return 3;
        if ((c >> 3) == 0x1e) return 4;
        return 1;  // invalid lead byte: one byte, reported as not in the vocabulary
    }
    static std::size_t utf8_length(std::string_view s) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < s.size(); i += char_bytes(static_cast<unsigned char>(s[i]))) ++n;
        return n;
    }

    std::vector<std::string> tokens_;       // id -> token text
    std::map<std::string, token_id> chars_;  // single-character token -> id
};

}  // namespace ddiff::io
