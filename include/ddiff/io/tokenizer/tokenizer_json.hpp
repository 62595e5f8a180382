// Reading tokenizer.json fast. A Qwen3 file is 11 MB, almost all of it "model.vocab" (token -> id)
// and "model.merges"; those two are scanned here by a small strict JSON reader straight into the
// vocabulary and merge arrays (no tree, no copy of unescaped strings), and every other value (the
// normalizer, pre_tokenizer, added_tokens, ...) is cut out and parsed by nlohmann
// (io/json.hpp parse_json_strict: duplicate keys, depth and NUL checks). Together this loads the
// file in well under the 150 ms a DOM parse alone would take.
//
// The reader accepts exactly RFC 8259 JSON: whitespace is space, tab, CR, LF; strings are valid
// UTF-8 without raw control characters, escapes are the eight of the RFC plus \uXXXX with paired
// surrogates; every other deviation is a format_error naming the file and the byte offset.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"
#include "ddiff/io/tokenizer/vocab.hpp"

namespace ddiff::io::tok {

// The parsed file. The string views point into the parsed text (which must outlive them) or
// into `owned` (strings that had escapes).
struct tokenizer_json_parts {
    nlohmann::json root;  // the file without model.vocab / model.merges
    bool has_vocab = false, has_merges = false;
    std::vector<std::pair<std::string_view, token_id>> vocab;       // file order
    std::vector<std::pair<std::string_view, std::string_view>> merges;  // rank order
    std::deque<std::string> owned;
};

namespace detail {

class json_scanner {
public:
    json_scanner(std::string_view text, std::string_view source) : b_(text.data()), p_(text.data()), e_(text.data() + text.size()), source_(source) {}

    template <class... P>
    [[noreturn]] void fail(P&&... parts) const {
        ddiff::detail::fail<format_error>(source_, ": malformed JSON at byte ", static_cast<std::size_t>(p_ - b_), " (",
                                          std::forward<P>(parts)..., ")");
    }
    template <class... P>
    [[noreturn]] void fail_content(P&&... parts) const {
        ddiff::detail::fail<format_error>(source_, ": ", std::forward<P>(parts)...);
    }

    void ws() noexcept {
        while (p_ < e_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    bool at_end() const noexcept { return p_ >= e_; }
    char peek() {
        ws();
        if (p_ >= e_) fail("unexpected end of input");
        return *p_;
    }
    void expect(char c) {
        if (peek() != c) fail("expected '", std::string(1, c), "', found ", describe_here());
        ++p_;
    }
    // After a member or element: true for ',' (another follows), false for the closing char.
    bool next_or_close(char close) {
        const char c = peek();
        if (c == ',') {
            ++p_;
            return true;
        }
        if (c == close) {
            ++p_;
            return false;
        }
        fail("expected ',' or '", std::string(1, close), "', found ", describe_here());
    }

    // A string at the cursor. Returns a view into the text when it has no escape, else into buf.
    std::string_view string(std::string& buf) {
        if (peek() != '"') fail("expected a string, found ", describe_here());
        const char* start = ++p_;
        // Fast scan to the closing quote, a backslash or a control character.
        const char* q = start;
        while (q < e_) {
            const auto c = static_cast<unsigned char>(*q);
            if (c == '"' || c == '\\' || c < 0x20) break;
            ++q;
        }
        if (q >= e_) fail("unterminated string");
        if (*q == '"') {
            const std::string_view v(start, static_cast<std::size_t>(q - start));
            if (!is_valid_utf8(v)) {
                p_ = start;
                fail("invalid UTF-8 in a string");
            }
            p_ = q + 1;
            return v;
        }
        buf.assign(start, static_cast<std::size_t>(q - start));
        p_ = q;
        while (true) {
            if (p_ >= e_) fail("unterminated string");
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                break;
            }
            if (c < 0x20) fail("raw control character 0x", hex2(c), " in a string, expected it escaped");
            if (c != '\\') {
                buf += static_cast<char>(c);
                ++p_;
                continue;
            }
            if (++p_ >= e_) fail("unterminated escape");
            switch (*p_++) {
                case '"': buf += '"'; break;
                case '\\': buf += '\\'; break;
                case '/': buf += '/'; break;
                case 'b': buf += '\b'; break;
                case 'f': buf += '\f'; break;
                case 'n': buf += '\n'; break;
                case 'r': buf += '\r'; break;
                case 't': buf += '\t'; break;
                case 'u': {
                    char32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (e_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') fail("lone high surrogate \\u", hex_cp(cp));
                        p_ += 2;
                        const char32_t lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF) fail("high surrogate not followed by a low surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        fail("lone low surrogate \\u", hex_cp(cp));
                    }
                    append_utf8(buf, cp);
                    break;
                }
                default: --p_; fail("invalid escape");
            }
        }
        if (!is_valid_utf8(buf)) fail("invalid UTF-8 in a string");
        return buf;
    }

    // A non-negative integer written with digits only (no sign, fraction or exponent); nullopt
    // (cursor unchanged) for any other JSON value.
    std::optional<std::uint64_t> plain_uint() {
        ws();
        const char* q = p_;
        std::uint64_t v = 0;
        while (q < e_ && *q >= '0' && *q <= '9') {
            if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
            v = v * 10 + static_cast<std::uint64_t>(*q - '0');
            ++q;
        }
        if (q == p_ || (q < e_ && (*q == '.' || *q == 'e' || *q == 'E')) || (*p_ == '0' && q - p_ > 1)) return std::nullopt;
        p_ = q;
        return v;
    }

    // Skips one value (validating it structurally) and returns its text.
    std::string_view skip_value(int depth) {
        ws();
        const char* start = p_;
        skip(depth);
        return {start, static_cast<std::size_t>(p_ - start)};
    }

    std::string describe_here() const {
        if (p_ >= e_) return "the end of input";
        const auto c = static_cast<unsigned char>(*p_);
        if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
        return "byte 0x" + hex2(c);
    }
    std::size_t offset() const noexcept { return static_cast<std::size_t>(p_ - b_); }

private:
    static std::string hex2(unsigned c) {
        static constexpr char h[] = "0123456789ABCDEF";
        return {h[(c >> 4) & 15], h[c & 15]};
    }
    static std::string hex_cp(char32_t c) { return hex2((c >> 8) & 0xFF) + hex2(c & 0xFF); }
    char32_t hex4() {
        if (e_ - p_ < 4) fail("truncated \\u escape");
        char32_t v = 0;
        for (int i = 0; i < 4; ++i, ++p_) {
            const char c = *p_;
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else fail("invalid \\u escape");
            v = v * 16 + static_cast<char32_t>(d);
        }
        return v;
    }
    void literal(std::string_view w) {
        if (static_cast<std::size_t>(e_ - p_) < w.size() || std::memcmp(p_, w.data(), w.size()) != 0)
            fail("invalid literal, found ", describe_here());
        p_ += w.size();
    }
    void number() {
        const char* q = p_;
        if (q < e_ && *q == '-') ++q;
        if (q >= e_ || *q < '0' || *q > '9') fail("invalid number");
        if (*q == '0') ++q;
        else
            while (q < e_ && *q >= '0' && *q <= '9') ++q;
        if (q < e_ && *q == '.') {
            ++q;
            if (q >= e_ || *q < '0' || *q > '9') fail("invalid number");
            while (q < e_ && *q >= '0' && *q <= '9') ++q;
        }
        if (q < e_ && (*q == 'e' || *q == 'E')) {
            ++q;
            if (q < e_ && (*q == '+' || *q == '-')) ++q;
            if (q >= e_ || *q < '0' || *q > '9') fail("invalid number");
            while (q < e_ && *q >= '0' && *q <= '9') ++q;
        }
        p_ = q;
    }
    void skip(int depth) {
        if (depth > 64) fail("nested deeper than 64 levels, expected at most 64");
        std::string scratch;
        switch (peek()) {
            case '{': {
                ++p_;
                if (peek() == '}') {
                    ++p_;
                    return;
                }
                do {
                    (void)string(scratch);
                    expect(':');
                    skip(depth + 1);
                } while (next_or_close('}'));
                return;
            }
            case '[': {
                ++p_;
                if (peek() == ']') {
                    ++p_;
                    return;
                }
                do skip(depth + 1);
                while (next_or_close(']'));
                return;
            }
            case '"': (void)string(scratch); return;
            case 't': literal("true"); return;
            case 'f': literal("false"); return;
            case 'n': literal("null"); return;
            default: number(); return;
        }
    }

    const char* b_;
    const char* p_;
    const char* e_;
    std::string_view source_;
};

inline nlohmann::json parse_member(std::string_view text, std::string_view source, std::string_view path) {
    return io::detail::parse_json_strict(text, std::string(source) + " (" + std::string(path) + ")", 62);
}

// A string that stays valid after the scanner moves on: a view into the text, or a copy in
// out.owned when it had escapes (then `v` points into the scanner's buffer).
inline std::string_view keep(std::string_view v, const std::string& buf, tokenizer_json_parts& out) {
    if (!buf.empty() && v.data() == buf.data()) return out.owned.emplace_back(v);
    return v;
}

inline void read_vocab(json_scanner& s, tokenizer_json_parts& out, std::size_t text_size) {
    out.vocab.reserve(text_size / 64);
    s.expect('{');
    if (s.peek() == '}') {
        s.expect('}');
        return;
    }
    std::string buf;
    do {
        buf.clear();
        const std::string_view key = keep(s.string(buf), buf, out);
        s.expect(':');
        const auto id = s.plain_uint();
        if (!id || *id > 0x7FFFFFFF) {
            const std::string k(key);
            const auto v = s.skip_value(3);
            s.fail_content("model.vocab[", io::detail::quote_str(k), "] is ", io::detail::quote_str(v, 40),
                           ", expected a token id in [0, 2^31)");
        }
        out.vocab.emplace_back(key, static_cast<token_id>(*id));
    } while (s.next_or_close('}'));
}

inline void read_merges(json_scanner& s, tokenizer_json_parts& out, std::size_t text_size) {
    s.expect('[');
    if (s.peek() == ']') {
        s.expect(']');
        return;
    }
    out.merges.reserve(text_size / 64);
    std::string ba, bb;
    do {
        ba.clear();
        bb.clear();
        if (s.peek() == '[') {  // ["a", "b"]
            s.expect('[');
            const std::string_view a = keep(s.string(ba), ba, out);
            if (!s.next_or_close(']')) s.fail_content("model.merges[", out.merges.size(), "] has 1 element, expected [left, right]");
            const std::string_view b = keep(s.string(bb), bb, out);
            if (s.next_or_close(']'))
                s.fail_content("model.merges[", out.merges.size(), "] has more than 2 elements, expected [left, right]");
            out.merges.emplace_back(a, b);
        } else if (s.peek() == '"') {  // legacy "a b": split on ' ', exactly 2 parts (convert_merges_to_hashmap)
            const std::string_view m = keep(s.string(ba), ba, out);
            const auto sp = m.find(' ');
            if (sp == std::string_view::npos || m.find(' ', sp + 1) != std::string_view::npos)
                s.fail_content("model.merges[", out.merges.size(), "] = ", io::detail::quote_str(m),
                               " is not two tokens separated by one space, expected \"left right\" or [left, right]");
            out.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
        } else {
            const auto v = s.skip_value(3);
            s.fail_content("model.merges[", out.merges.size(), "] is ", io::detail::quote_str(v, 40),
                           ", expected \"left right\" or [left, right]");
        }
    } while (s.next_or_close(']'));
}

inline void read_model(json_scanner& s, tokenizer_json_parts& out, std::size_t text_size, std::string_view source) {
    if (s.peek() != '{') {
        out.root["model"] = parse_member(s.skip_value(1), source, "model");
        return;
    }
    s.expect('{');
    nlohmann::json model = nlohmann::json::object();
    if (s.peek() == '}') {
        s.expect('}');
        out.root["model"] = std::move(model);
        return;
    }
    std::string buf;
    do {
        const std::string key(s.string(buf));
        if (model.contains(key) || (key == "vocab" && out.has_vocab) || (key == "merges" && out.has_merges))
            s.fail_content("duplicate key ", io::detail::quote_str("model." + key), ", expected each key once");
        s.expect(':');
        if (key == "vocab" && s.peek() == '{') {
            read_vocab(s, out, text_size);
            out.has_vocab = true;
        } else if (key == "merges" && s.peek() == '[') {
            read_merges(s, out, text_size);
            out.has_merges = true;
        } else {
            model[key] = parse_member(s.skip_value(2), source, "model." + key);
        }
    } while (s.next_or_close('}'));
    out.root["model"] = std::move(model);
}

}  // namespace detail

// Parses tokenizer.json text. format_error (naming `source`) for malformed JSON, a duplicate key,
// nesting deeper than 64, a NUL byte, a top level that is not an object, or a model.vocab /
// model.merges of the wrong shape.
inline tokenizer_json_parts parse_tokenizer_json(std::string_view text, std::string_view source) {
    if (const auto nul = text.find('\0'); nul != std::string_view::npos)
        ddiff::detail::fail<format_error>(source, ": malformed JSON (NUL byte at offset ", nul,
                                          ", expected none: JSON text cannot contain raw NUL)");
    tokenizer_json_parts out;
    detail::json_scanner s(text, source);
    if (s.peek() != '{') {
        const auto v = s.skip_value(0);
        ddiff::detail::fail<format_error>(source, ": top-level JSON value is ",
                                          io::detail::describe(io::detail::parse_json_strict(v, source)), ", expected an object");
    }
    s.expect('{');
    out.root = nlohmann::json::object();
    std::string buf;
    if (s.peek() == '}') {
        s.expect('}');
    } else {
        do {
            const std::string key(s.string(buf));
            if (out.root.contains(key))
                s.fail_content("duplicate key ", io::detail::quote_str(key), " in one JSON object, expected each key once");
            s.expect(':');
            if (key == "model") read_model(s, out, text.size(), source);
            else out.root[key] = detail::parse_member(s.skip_value(1), source, key);
        } while (s.next_or_close('}'));
    }
    s.ws();
    if (!s.at_end()) s.fail("expected the end of input after the top-level object, found ", s.describe_here());
    return out;
}

}  // namespace ddiff::io::tok
