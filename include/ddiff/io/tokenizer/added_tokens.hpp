// Added tokens (tokenizer.json "added_tokens"): special and ordinary tokens matched in the text
// before the model, as Hugging Face tokenizers' tokenizer/added_vocabulary.rs (v0.22) does:
// id assignment (AddedVocabulary::add_tokens), two leftmost-longest matchers (tokens with
// normalized=false on the raw text, normalized=true on the normalized text), and the
// single_word / lstrip / rstrip rules of find_matches.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ddiff/core/types.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io::tok {

struct added_token {
    std::string content;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
    bool special = false;
    bool operator==(const added_token&) const = default;
};

// A set of byte strings matched leftmost-longest, non-overlapping, left to right (the semantics of
// the aho-corasick crate's MatchKind::LeftmostLongest find_iter that HF uses).
class string_matcher {
public:
    // Adds a pattern with its value; a pattern given twice keeps its first value.
    void add(std::string_view pat, std::uint32_t value) {
        if (pat.empty()) return;
        std::uint32_t node = 0;
        for (unsigned char b : pat) {
            auto& ch = nodes_[node].children;
            auto it = std::lower_bound(ch.begin(), ch.end(), b, [](const auto& e, unsigned char x) { return e.first < x; });
            if (it != ch.end() && it->first == b) {
                node = it->second;
            } else {
                const auto fresh = static_cast<std::uint32_t>(nodes_.size());
                ch.insert(it, {b, fresh});
                nodes_.emplace_back();
                node = fresh;
            }
        }
        if (nodes_[node].value < 0) nodes_[node].value = static_cast<std::int64_t>(value);
        first_[static_cast<unsigned char>(pat[0])] = true;
        any_ = true;
    }
    bool empty() const noexcept { return !any_; }

    // Longest pattern starting exactly at s[i]: its length and value, or length 0.
    std::size_t longest_at(std::string_view s, std::size_t i, std::uint32_t& value) const noexcept {
        if (!first_[static_cast<unsigned char>(s[i])]) return 0;
        std::uint32_t node = 0;
        std::size_t best = 0;
        for (std::size_t j = i; j < s.size(); ++j) {
            const auto& ch = nodes_[node].children;
            const auto b = static_cast<unsigned char>(s[j]);
            auto it = std::lower_bound(ch.begin(), ch.end(), b, [](const auto& e, unsigned char x) { return e.first < x; });
            if (it == ch.end() || it->first != b) break;
            node = it->second;
            if (nodes_[node].value >= 0) {
                best = j + 1 - i;
                value = static_cast<std::uint32_t>(nodes_[node].value);
            }
        }
        return best;
    }

private:
    struct node {
        std::vector<std::pair<unsigned char, std::uint32_t>> children;  // sorted by byte
        std::int64_t value = -1;
    };
    std::vector<node> nodes_ = std::vector<node>(1);
    bool first_[256] = {};
    bool any_ = false;
};

// One piece of a text split on added tokens: a range and the token id when it is one.
struct added_split {
    std::size_t begin, end;
    std::optional<token_id> id;
};

class added_vocabulary {
public:
    // HF AddedVocabulary::add_tokens for a fresh vocabulary: `model_find` looks a token up in the
    // model, `model_size` is the model's vocabulary size (HF: Model::get_vocab_size), `normalize`
    // normalizes a token's content for the normalized matcher.
    template <class ModelFind, class Normalize>
    void add_tokens(const std::vector<added_token>& tokens, ModelFind&& model_find, std::size_t model_size,
                    Normalize&& normalize) {
        for (const auto& t : tokens)
            if (t.special && !t.content.empty() && special_set_.insert(t.content).second) special_list_.push_back(t);
        token_id next_id = static_cast<token_id>(model_size);
        if (!by_id_.empty()) {
            token_id mx = -1;
            for (const auto& [id, t] : by_id_) mx = std::max(mx, id);
            next_id = (static_cast<std::size_t>(mx) >= model_size || model_size == 0) ? mx + 1 : static_cast<token_id>(model_size);
        }
        for (const auto& t : tokens) {
            if (t.content.empty() || !existing_.insert(key_of(t)).second) continue;
            token_id id;
            if (const auto it = by_content_.find(t.content); it != by_content_.end()) id = it->second;
            else if (const auto m = model_find(t.content)) id = *m;
            else id = next_id++;
            by_content_[t.content] = id;
            by_id_[id] = t;
            if (!special_set_.count(t.content)) plain_list_.push_back(t);
        }
        raw_ = string_matcher();
        normalized_ = string_matcher();
        const auto add_pattern = [&](const added_token& t) {
            const token_id id = by_content_.at(t.content);
            if (t.normalized) normalized_.add(normalize(t.content), static_cast<std::uint32_t>(id));
            else raw_.add(t.content, static_cast<std::uint32_t>(id));
        };
        for (const auto& t : special_list_) add_pattern(t);
        for (const auto& t : plain_list_) add_pattern(t);
    }

    bool empty() const noexcept { return by_id_.empty(); }
    std::size_t size() const noexcept { return by_content_.size(); }
    std::optional<token_id> find(std::string_view content) const {
        const auto it = by_content_.find(std::string(content));
        if (it == by_content_.end()) return std::nullopt;
        return it->second;
    }
    const added_token* token(token_id id) const {
        const auto it = by_id_.find(id);
        return it == by_id_.end() ? nullptr : &it->second;
    }
    // HF decodes: a token whose content is in the special set is skipped with skip_special_tokens.
    bool is_special_content(std::string_view content) const { return special_set_.count(std::string(content)) != 0; }
    const std::unordered_map<token_id, added_token>& by_id() const noexcept { return by_id_; }

    const string_matcher& raw_matcher() const noexcept { return raw_; }
    const string_matcher& normalized_matcher() const noexcept { return normalized_; }

    // HF AddedVocabulary::find_matches: splits `s` into ranges, the matched tokens carrying their
    // id. Empty ranges are not produced.
    void find_matches(std::string_view s, const string_matcher& m, std::vector<added_split>& out) const {
        out.clear();
        if (s.empty()) return;
        if (m.empty()) {
            out.push_back({0, s.size(), std::nullopt});
            return;
        }
        std::size_t start_offset = 0;
        std::size_t i = 0;
        while (i < s.size()) {
            std::uint32_t value = 0;
            const std::size_t len = m.longest_at(s, i, value);
            if (len == 0) {
                ++i;
                continue;
            }
            std::size_t start = i, stop = i + len;
            i = stop;  // the iteration resumes after the match, whatever is done with it
            const token_id id = static_cast<token_id>(value);
            const added_token& t = by_id_.at(id);
            if (t.single_word) {
                const bool start_space = start == 0 || !ends_with_word(s.substr(0, start));
                const bool stop_space = stop == s.size() || !starts_with_word(s.substr(stop));
                if (!start_space || !stop_space) continue;
            }
            if (t.lstrip) start = std::max(space_start_at_end(s.substr(0, start)), start_offset);
            if (t.rstrip) stop += space_len_at_start(s.substr(stop));
            // HF would panic on the inverted range an rstrip followed by an lstrip can make.
            start = std::min(start, stop);
            if (start_offset < start) out.push_back({start_offset, start, std::nullopt});
            out.push_back({start, stop, id});
            start_offset = stop;
        }
        if (start_offset != s.size()) out.push_back({start_offset, s.size(), std::nullopt});
    }

private:
    // The regexes of added_vocabulary.rs on the `regex` crate (Unicode \w and \s).
    static bool ends_with_word(std::string_view s) {
        if (s.empty()) return false;
        std::size_t i = s.size() - 1;
        while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
        std::size_t k = i;
        return is_regex_word(next_char(s, k));
    }
    static bool starts_with_word(std::string_view s) {
        if (s.empty()) return false;
        std::size_t k = 0;
        return is_regex_word(next_char(s, k));
    }
    // Start of the run of whitespace ending s (regex \s*$).
    static std::size_t space_start_at_end(std::string_view s) {
        std::size_t end = s.size();
        while (end > 0) {
            std::size_t i = end - 1;
            while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
            std::size_t k = i;
            if (!is_whitespace(next_char(s, k))) break;
            end = i;
        }
        return end;
    }
    // Length of the run of whitespace starting s (regex ^\s*).
    static std::size_t space_len_at_start(std::string_view s) {
        std::size_t i = 0;
        while (i < s.size()) {
            std::size_t k = i;
            if (!is_whitespace(next_char(s, k))) break;
            i = k;
        }
        return i;
    }

    std::unordered_map<std::string, token_id> by_content_;
    std::unordered_map<token_id, added_token> by_id_;
    std::unordered_set<std::string> special_set_;
    // Tokens already added, keyed by all their fields (HF: a HashSet<AddedToken>).
    static std::string key_of(const added_token& t) {
        std::string k = t.content;
        k += '\0';
        for (bool b : {t.single_word, t.lstrip, t.rstrip, t.normalized, t.special}) k += b ? '1' : '0';
        return k;
    }
    std::vector<added_token> special_list_, plain_list_;
    std::unordered_set<std::string> existing_;
    string_matcher raw_, normalized_;
};

}  // namespace ddiff::io::tok
