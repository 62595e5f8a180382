// Pre-tokenizers of tokenizer.json (Hugging Face tokenizers src/pre_tokenizers and
// tokenizer/normalizer.rs NormalizedString::split): ByteLevel, Split, Digits, Metaspace,
// Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit and Sequence.
//
// The text being pre-tokenized is one buffer and a list of pieces (byte ranges into it); splitting
// adds ranges without copying, and only ByteLevel and Metaspace, which rewrite characters, write a
// new buffer. Each piece remembers whether it starts at offset 0 of the original input, the one
// offset fact HF uses (Metaspace with prepend_scheme "first"); see docs/tokenizers.md for the
// approximation this makes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/io/tokenizer/json_fields.hpp"
#include "ddiff/io/tokenizer/normalizers.hpp"
#include "ddiff/io/tokenizer/regex.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io::tok {

struct piece {
    std::uint32_t begin, end;  // bytes of piece_list::text
    bool at_origin;            // starts at offset 0 of the original text
};

struct piece_list {
    std::string text;
    std::vector<piece> pieces;
    std::string_view view(const piece& p) const noexcept { return {text.data() + p.begin, p.end - p.begin}; }
    void clear() {
        text.clear();
        pieces.clear();
    }
};

enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

inline split_behavior read_behavior(const nlohmann::json& obj, std::string_view key, const json_fields::where& w,
                                    std::optional<split_behavior> fallback = std::nullopt) {
    using namespace json_fields;
    const auto* f = find(obj, key);
    if (!f && fallback) return *fallback;
    if (!f) missing(w.at(key), "a split behavior");
    if (!f->is_string()) bad(w.at(key), *f, "a string");
    const auto& s = f->get_ref<const std::string&>();
    if (s == "Removed") return split_behavior::removed;
    if (s == "Isolated") return split_behavior::isolated;
    if (s == "MergedWithPrevious") return split_behavior::merged_with_previous;
    if (s == "MergedWithNext") return split_behavior::merged_with_next;
    if (s == "Contiguous") return split_behavior::contiguous;
    bad(w.at(key), *f, "one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

namespace detail {

struct segment {
    std::size_t begin, end;
    bool is_match;
};

// HF Pattern::find_matches for a pattern: alternating non-match / match segments covering s.
inline void segments_of(const pattern& p, std::string_view s, std::vector<segment>& segs) {
    thread_local std::vector<match_range> m;
    segs.clear();
    if (s.empty()) {
        segs.push_back({0, 0, false});
        return;
    }
    p.find_matches(s, m);
    std::size_t prev = 0;
    for (const auto& r : m) {
        if (prev != r.begin) segs.push_back({prev, r.begin, false});
        segs.push_back({r.begin, r.end, true});
        prev = r.end;
    }
    if (prev != s.size()) segs.push_back({prev, s.size(), false});
}

// HF Pattern::find_matches for a character predicate (impl Pattern for Fn(char) -> bool).
template <class Pred>
void segments_of(Pred&& pred, std::string_view s, std::vector<segment>& segs) {
    segs.clear();
    if (s.empty()) {
        segs.push_back({0, 0, false});
        return;
    }
    std::size_t last_offset = 0, i = 0;
    while (i < s.size()) {
        const std::size_t b = i;
        const char32_t c = next_char(s, i);
        if (pred(c)) {
            if (last_offset < b) segs.push_back({last_offset, b, false});
            segs.push_back({b, i, true});
            last_offset = i;
        }
    }
    if (s.size() > last_offset) segs.push_back({last_offset, s.size(), false});
}

// HF NormalizedString::split: applies `behavior` to the segments of piece p and appends the
// resulting non-empty pieces to out.
inline void split_piece(const piece& p, std::vector<segment>& segs, split_behavior behavior, bool invert,
                        std::vector<piece>& out) {
    if (invert)
        for (auto& s : segs) s.is_match = !s.is_match;
    thread_local std::vector<segment> acc;  // (range, remove) reusing is_match as "remove"
    acc.clear();
    switch (behavior) {
        case split_behavior::isolated:
            for (const auto& s : segs) acc.push_back({s.begin, s.end, false});
            break;
        case split_behavior::removed: acc = segs; break;
        case split_behavior::contiguous: {
            bool previous = false;
            for (const auto& s : segs) {
                if (s.is_match == previous && !acc.empty()) acc.back().end = s.end;
                else acc.push_back({s.begin, s.end, false});
                previous = s.is_match;
            }
            break;
        }
        case split_behavior::merged_with_previous: {
            bool previous = false;
            for (const auto& s : segs) {
                if (s.is_match && !previous && !acc.empty()) acc.back().end = s.end;
                else acc.push_back({s.begin, s.end, false});
                previous = s.is_match;
            }
            break;
        }
        case split_behavior::merged_with_next: {
            bool previous = false;
            for (std::size_t k = segs.size(); k-- > 0;) {
                const auto& s = segs[k];
                if (s.is_match && !previous && !acc.empty()) acc.back().begin = s.begin;
                else acc.push_back({s.begin, s.end, false});
                previous = s.is_match;
            }
            std::reverse(acc.begin(), acc.end());
            break;
        }
    }
    for (const auto& a : acc) {
        if (a.is_match || a.end == a.begin) continue;  // removed, or empty (PreTokenizedString::split)
        out.push_back({static_cast<std::uint32_t>(p.begin + a.begin), static_cast<std::uint32_t>(p.begin + a.end),
                       p.at_origin && a.begin == 0});
    }
}

// HF pre_tokenizers/byte_level.rs bytes_char(): printable bytes map to themselves, the others to
// U+0100 + n in byte order. Stored as UTF-8.
struct byte_level_table {
    std::array<std::array<char, 2>, 256> utf8{};
    std::array<std::uint8_t, 256> len{};
    std::array<std::int16_t, 324> to_byte{};  // code point -> byte, -1 if none
    byte_level_table() {
        to_byte.fill(-1);
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const char32_t c = keep ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
            std::string u;
            append_utf8(u, c);
            len[b] = static_cast<std::uint8_t>(u.size());
            utf8[b][0] = u[0];
            utf8[b][1] = u.size() > 1 ? u[1] : 0;
            to_byte[c] = static_cast<std::int16_t>(b);
        }
    }
};
inline const byte_level_table& byte_level() {
    static const byte_level_table t;
    return t;
}

// GPT-2's pre-tokenization regex, used by ByteLevel with use_regex (byte_level.rs RE).
inline const pattern& gpt2_pattern() {
    static const pattern p = pattern::regex(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
                                            "ByteLevel");
    return p;
}

}  // namespace detail

enum class prepend_scheme { always, first, never };

inline prepend_scheme read_prepend_scheme(const nlohmann::json& obj, const json_fields::where& w) {
    using namespace json_fields;
    // HF metaspace.rs: prepend_scheme defaults to "always"; a legacy add_prefix_space = false
    // requires "never" (and implies it).
    prepend_scheme ps = prepend_scheme::always;
    if (const auto* f = find(obj, "prepend_scheme")) {
        if (!f->is_string()) bad(w.at("prepend_scheme"), *f, "a string");
        const auto& s = f->get_ref<const std::string&>();
        if (s == "always") ps = prepend_scheme::always;
        else if (s == "first") ps = prepend_scheme::first;
        else if (s == "never") ps = prepend_scheme::never;
        else bad(w.at("prepend_scheme"), *f, "one of \"always\", \"first\", \"never\"");
    }
    if (maybe_bool(obj, "add_prefix_space", w) == false) {
        if (ps != prepend_scheme::never)
            ddiff::detail::fail<format_error>(w.source, ": ", w.path,
                                              ": add_prefix_space is false but prepend_scheme is not \"never\", "
                                              "expected them to agree (as Hugging Face tokenizers requires)");
        ps = prepend_scheme::never;
    }
    return ps;
}

struct pre_tokenizer {
    enum class kind {
        byte_level, split, digits, metaspace, punctuation, whitespace, whitespace_split, bert, char_delimiter, sequence
    };
    kind k = kind::sequence;
    bool add_prefix_space = false;  // ByteLevel
    bool use_regex = true;          // ByteLevel
    bool individual_digits = false; // Digits
    bool invert = false;            // Split
    bool split = true;              // Metaspace
    split_behavior behavior = split_behavior::isolated;
    prepend_scheme scheme = prepend_scheme::always;  // Metaspace
    char32_t ch = 0;                // Metaspace replacement, CharDelimiterSplit delimiter
    std::string ch_utf8;
    pattern pat;                    // Split
    std::vector<pre_tokenizer> children;

    // Rewrites `pl` in place; `scratch` is a spare buffer (swapped with pl when characters change).
    void apply(piece_list& pl, piece_list& scratch) const {
        thread_local std::vector<detail::segment> segs;
        thread_local std::vector<piece> out;
        switch (k) {
            case kind::sequence:
                for (const auto& c : children) c.apply(pl, scratch);
                return;
            case kind::byte_level: apply_byte_level(pl, scratch); return;
            case kind::metaspace: apply_metaspace(pl, scratch); return;
            default: break;
        }
        out.clear();
        for (const piece& p : pl.pieces) {
            const std::string_view s = pl.view(p);
            switch (k) {
                case kind::split:
                    detail::segments_of(pat, s, segs);
                    detail::split_piece(p, segs, behavior, invert, out);
                    break;
                case kind::digits:
                    detail::segments_of(is_numeric, s, segs);
                    detail::split_piece(p, segs, individual_digits ? split_behavior::isolated : split_behavior::contiguous,
                                        false, out);
                    break;
                case kind::punctuation:
                    detail::segments_of(is_punctuation, s, segs);
                    detail::split_piece(p, segs, behavior, false, out);
                    break;
                case kind::whitespace_split:
                    detail::segments_of(is_whitespace, s, segs);
                    detail::split_piece(p, segs, split_behavior::removed, false, out);
                    break;
                case kind::char_delimiter: {
                    const char32_t d = ch;
                    detail::segments_of([d](char32_t c) { return c == d; }, s, segs);
                    detail::split_piece(p, segs, split_behavior::removed, false, out);
                    break;
                }
                case kind::bert: {
                    thread_local std::vector<piece> mid;
                    mid.clear();
                    detail::segments_of(is_whitespace, s, segs);
                    detail::split_piece(p, segs, split_behavior::removed, false, mid);
                    for (const piece& q : mid) {
                        detail::segments_of(is_punctuation, pl.view(q), segs);
                        detail::split_piece(q, segs, split_behavior::isolated, false, out);
                    }
                    break;
                }
                case kind::whitespace:
                    whitespace_segments(s, segs);
                    detail::split_piece(p, segs, split_behavior::removed, true, out);
                    break;
                default: break;
            }
        }
        pl.pieces.swap(out);
    }

    static pre_tokenizer from_json(const nlohmann::json& j, const json_fields::where& w) {
        using namespace json_fields;
        const std::string type = type_of(j, w, "pre_tokenizer");
        pre_tokenizer p;
        if (type == "ByteLevel") {
            p.k = kind::byte_level;
            p.add_prefix_space = get_bool(j, "add_prefix_space", w);
            (void)get_bool(j, "trim_offsets", w);  // offsets only
            p.use_regex = opt_bool(j, "use_regex", w, true);
        } else if (type == "Split") {
            p.k = kind::split;
            p.pat = read_pattern(field(j, "pattern", w, "a pattern object"), w.at("pattern"));
            p.behavior = read_behavior(j, "behavior", w);
            p.invert = get_bool(j, "invert", w);
        } else if (type == "Digits") {
            p.k = kind::digits;
            p.individual_digits = get_bool(j, "individual_digits", w);
        } else if (type == "Metaspace") {
            p.k = kind::metaspace;
            p.ch = get_char(j, "replacement", w);
            p.ch_utf8 = utf8(p.ch);
            p.scheme = read_prepend_scheme(j, w);
            p.split = opt_bool(j, "split", w, true);
        } else if (type == "Punctuation") {
            p.k = kind::punctuation;
            p.behavior = read_behavior(j, "behavior", w, split_behavior::isolated);
        } else if (type == "Whitespace") {
            p.k = kind::whitespace;
        } else if (type == "WhitespaceSplit") {
            p.k = kind::whitespace_split;
        } else if (type == "BertPreTokenizer") {
            p.k = kind::bert;
        } else if (type == "CharDelimiterSplit") {
            p.k = kind::char_delimiter;
            p.ch = get_char(j, "delimiter", w);
        } else if (type == "Sequence") {
            p.k = kind::sequence;
            const auto& list = field(j, "pretokenizers", w, "an array of pre-tokenizers");
            if (!list.is_array()) bad(w.at("pretokenizers"), list, "an array of pre-tokenizers");
            for (std::size_t i = 0; i < list.size(); ++i)
                p.children.push_back(from_json(list[i], w.at("pretokenizers").index(i)));
        } else {
            unsupported(w, "pre_tokenizer", type,
                        "ByteLevel, Split, Digits, Metaspace, Punctuation, Whitespace, WhitespaceSplit, "
                        "BertPreTokenizer, CharDelimiterSplit, Sequence");
        }
        return p;
    }

private:
    // HF Whitespace: the regex \w+|[^\w\s]+ (regex crate, Unicode) as match segments; the
    // caller inverts them and removes the rest (whitespace runs).
    static void whitespace_segments(std::string_view s, std::vector<detail::segment>& segs) {
        segs.clear();
        if (s.empty()) {
            segs.push_back({0, 0, false});
            return;
        }
        std::size_t i = 0, prev = 0;
        while (i < s.size()) {
            std::size_t k = i;
            const char32_t c = next_char(s, k);
            const int cls = is_regex_word(c) ? 1 : is_whitespace(c) ? 0 : 2;
            if (cls == 0) {
                i = k;
                continue;
            }
            const std::size_t b = i;
            i = k;
            while (i < s.size()) {
                std::size_t k2 = i;
                const char32_t d = next_char(s, k2);
                const int cd = is_regex_word(d) ? 1 : is_whitespace(d) ? 0 : 2;
                if (cd != cls) break;
                i = k2;
            }
            if (prev != b) segs.push_back({prev, b, false});
            segs.push_back({b, i, true});
            prev = i;
        }
        if (prev != s.size()) segs.push_back({prev, s.size(), false});
    }

    void apply_byte_level(piece_list& pl, piece_list& scratch) const {
        thread_local std::string tmp;
        thread_local std::vector<detail::segment> segs;
        thread_local std::vector<piece> sub;
        const auto& table = detail::byte_level();
        scratch.clear();
        scratch.text.reserve(pl.text.size() * 2);
        for (const piece& p : pl.pieces) {
            std::string_view s = pl.view(p);
            if (add_prefix_space && (s.empty() || s[0] != ' ')) {
                tmp.assign(1, ' ');
                tmp.append(s);
                s = tmp;
            }
            sub.clear();
            const piece whole{0, static_cast<std::uint32_t>(s.size()), p.at_origin};
            if (use_regex) {
                detail::segments_of(detail::gpt2_pattern(), s, segs);
                detail::split_piece(whole, segs, split_behavior::isolated, false, sub);
            } else if (!s.empty()) {
                sub.push_back(whole);
            }
            for (const piece& q : sub) {
                const auto b = static_cast<std::uint32_t>(scratch.text.size());
                for (std::size_t i = q.begin; i < q.end; ++i) {
                    const auto byte = static_cast<unsigned char>(s[i]);
                    scratch.text.append(table.utf8[byte].data(), table.len[byte]);
                }
                scratch.pieces.push_back({b, static_cast<std::uint32_t>(scratch.text.size()), q.at_origin});
            }
        }
        std::swap(pl, scratch);
    }

    // HF pre_tokenizers/metaspace.rs.
    void apply_metaspace(piece_list& pl, piece_list& scratch) const {
        thread_local std::string tmp;
        thread_local std::vector<detail::segment> segs;
        thread_local std::vector<piece> sub;
        scratch.clear();
        for (const piece& p : pl.pieces) {
            const std::string_view s = pl.view(p);
            tmp.clear();
            for (char c : s) {
                if (c == ' ') tmp += ch_utf8;
                else tmp += c;
            }
            const bool starts = tmp.compare(0, ch_utf8.size(), ch_utf8) == 0;
            // An empty piece never reaches here (splits drop them), so prepend is never on "".
            if (!starts && (scheme == prepend_scheme::always || (scheme == prepend_scheme::first && p.at_origin)))
                tmp.insert(0, ch_utf8);
            const auto base = static_cast<std::uint32_t>(scratch.text.size());
            scratch.text += tmp;
            const piece whole{base, static_cast<std::uint32_t>(scratch.text.size()), p.at_origin};
            if (split) {
                const char32_t r = ch;
                detail::segments_of([r](char32_t c) { return c == r; }, tmp, segs);
                detail::split_piece(whole, segs, split_behavior::merged_with_next, false, scratch.pieces);
            } else if (whole.end > whole.begin) {
                scratch.pieces.push_back(whole);
            }
        }
        std::swap(pl, scratch);
    }
};

}  // namespace ddiff::io::tok
