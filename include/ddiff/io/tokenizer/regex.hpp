// The regular expressions of tokenizer.json (Split pre-tokenizer, Replace normalizer and
// decoder) on PCRE2 (UTF + UCP, JIT), matching as Hugging Face tokenizers does with Oniguruma.
//
// HF compiles these patterns with the `onig` crate (Ruby syntax, UTF-8) and iterates matches with
// onig's FindMatches (rust-onig onig/src/find.rs): after an empty match the search resumes one
// character later, and an empty match right after a non-empty one is skipped. find_matches
// reproduces that iteration exactly. Where Oniguruma's Ruby syntax and PCRE2 differ on a construct
// tokenizer files use, the pattern is rewritten before compiling:
//   \s, \S   Oniguruma's \s is the White_Space property, which includes U+0085; PCRE2's UCP \s is
//            tab..CR plus the Z categories, which does not: \s becomes [\s\x{85}].
//   \w, \W   Oniguruma: Letter, Mark, Decimal_Number, Connector_Punctuation; PCRE2 10.42's UCP \w
//            is Letter, Number and '_': \w becomes [\p{L}\p{M}\p{Nd}\p{Pc}].
//   \h, \H   Ruby: a hexadecimal digit (PCRE2: horizontal space): [0-9a-fA-F].
//   (?m)     Ruby's m is PCRE2's s (dot matches newline); ^ and $ are always line anchors in Ruby
//            (PCRE2_MULTILINE).
// Nested classes and class intersection ([a-z&&[^b]]), \W inside a class, and \K are refused with
// a typed error naming the pattern, as is any pattern PCRE2 cannot compile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "ddiff/core/error.hpp"
#include "ddiff/io/json.hpp"

namespace ddiff::io::tok {

// One match: byte offsets [begin, end).
struct match_range {
    std::size_t begin, end;
};

namespace detail {

// Oniguruma (Ruby syntax) pattern -> PCRE2 pattern with the same meaning on what tokenizer files
// use; config_error naming `where` for constructs that would silently mean something else.
inline std::string onig_to_pcre2(std::string_view p, std::string_view where) {
    const auto refuse = [&](std::string_view what) {
        ddiff::detail::fail<config_error>(where, ": regex ", io::detail::quote_str(p, 200), " uses ", what,
                                          ", which is not supported (expected a pattern without it)");
    };
    std::string out;
    out.reserve(p.size() + 16);
    bool in_class = false;
    std::size_t class_start = 0;  // index in p of the first char after '[' or '[^'
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\') {
            if (i + 1 >= p.size()) {
                out += c;  // PCRE2 reports the trailing backslash
                continue;
            }
            const char e = p[++i];
            switch (e) {
                case 's': out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]"; break;
                case 'S':
                    if (in_class) refuse("\\S inside a character class");
                    out += "[^\\s\\x{85}]";
                    break;
                case 'w': out += in_class ? "\\p{L}\\p{M}\\p{Nd}\\p{Pc}" : "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]"; break;
                case 'W':
                    if (in_class) refuse("\\W inside a character class");
                    out += "[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
                    break;
                case 'h': out += in_class ? "0-9a-fA-F" : "[0-9a-fA-F]"; break;
                case 'H':
                    if (in_class) refuse("\\H inside a character class");
                    out += "[^0-9a-fA-F]";
                    break;
                case 'K': refuse("\\K"); break;
                case 'b':
                case 'B':
                    if (!in_class) refuse("\\b or \\B (word boundaries differ between Oniguruma and PCRE2)");
                    out += '\\';
                    out += e;
                    break;
                default:
                    out += '\\';
                    out += e;
            }
            continue;
        }
        if (in_class) {
            if (c == '[') {
                if (i + 1 < p.size() && p[i + 1] == ':') {  // POSIX class [:alpha:]: same in both
                    const auto end = p.find(":]", i + 2);
                    if (end == std::string_view::npos) refuse("an unterminated POSIX class");
                    out.append(p.substr(i, end + 2 - i));
                    i = end + 1;
                    continue;
                }
                refuse("a nested character class");
            }
            if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') refuse("character class intersection (&&)");
            if (c == ']' && i != class_start) in_class = false;
            out += c;
            continue;
        }
        if (c == '[') {
            in_class = true;
            out += c;
            std::size_t j = i + 1;
            if (j < p.size() && p[j] == '^') {
                out += '^';
                ++j;
            }
            class_start = j;
            i = j - 1;
            continue;
        }
        if (c == '(' && i + 1 < p.size() && p[i + 1] == '?') {
            // Inline options (?imx-imx) or (?imx-imx:...): Ruby's m is PCRE2's s.
            std::size_t j = i + 2;
            std::string opts;
            while (j < p.size() && (p[j] == 'i' || p[j] == 'm' || p[j] == 'x' || p[j] == '-')) {
                opts += p[j] == 'm' ? 's' : p[j];
                ++j;
            }
            if (!opts.empty() && j < p.size() && (p[j] == ')' || p[j] == ':')) {
                out += "(?";
                out += opts;
                i = j - 1;
                continue;
            }
        }
        out += c;
    }
    return out;
}

struct pcre2_code_deleter {
    void operator()(pcre2_code_8* c) const noexcept { pcre2_code_free_8(c); }
};
struct pcre2_match_data_deleter {
    void operator()(pcre2_match_data_8* m) const noexcept { pcre2_match_data_free_8(m); }
};
struct pcre2_match_context_deleter {
    void operator()(pcre2_match_context_8* m) const noexcept { pcre2_match_context_free_8(m); }
};

}  // namespace detail

// A compiled pattern. Either a regex (Oniguruma syntax, see above) or a literal string (HF
// escapes a String pattern with regex::escape and compiles it; a substring search is the same).
// Immutable after construction: find_matches may be called from several threads.
class pattern {
public:
    pattern() = default;

    static pattern literal(std::string s) {
        pattern p;
        p.literal_ = std::move(s);
        p.is_literal_ = true;
        p.source_ = p.literal_;
        return p;
    }

    // `where` names the component and file for errors ("tokenizer.json: pre_tokenizer Split").
    static pattern regex(std::string_view onig_pattern, std::string_view where) {
        pattern p;
        p.source_ = std::string(onig_pattern);
        const std::string pc = detail::onig_to_pcre2(onig_pattern, where);
        int err = 0;
        PCRE2_SIZE off = 0;
        pcre2_compile_context_8* cc = pcre2_compile_context_create_8(nullptr);
        pcre2_set_newline_8(cc, PCRE2_NEWLINE_LF);
        pcre2_code_8* code = pcre2_compile_8(reinterpret_cast<PCRE2_SPTR8>(pc.data()), pc.size(),
                                             PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NEVER_BACKSLASH_C, &err,
                                             &off, cc);
        pcre2_compile_context_free_8(cc);
        if (!code) {
            PCRE2_UCHAR8 msg[256];
            pcre2_get_error_message_8(err, msg, sizeof msg);
            ddiff::detail::fail<config_error>(where, ": regex ", io::detail::quote_str(onig_pattern, 200),
                                              " does not compile (", reinterpret_cast<const char*>(msg), " at offset ",
                                              off, "), expected a valid regular expression");
        }
        p.code_ = std::shared_ptr<pcre2_code_8>(code, detail::pcre2_code_deleter{});
        p.jit_ = pcre2_jit_compile_8(code, PCRE2_JIT_COMPLETE) == 0;
        p.mctx_ = std::shared_ptr<pcre2_match_context_8>(pcre2_match_context_create_8(nullptr),
                                                          detail::pcre2_match_context_deleter{});
        if (!p.mctx_) throw std::bad_alloc();
        // Bounded backtracking: a hostile pattern fails with a typed error instead of hanging.
        pcre2_set_match_limit_8(p.mctx_.get(), 10'000'000);
        pcre2_set_depth_limit_8(p.mctx_.get(), 100'000);
        pcre2_set_heap_limit_8(p.mctx_.get(), 256 * 1024);  // KiB
        return p;
    }

    bool empty() const noexcept { return !is_literal_ && !code_; }
    const std::string& source() const noexcept { return source_; }

    // Every match in s (valid UTF-8) in order, as onig's find_iter yields them.
    void find_matches(std::string_view s, std::vector<match_range>& out) const {
        out.clear();
        if (is_literal_) {
            if (literal_.empty()) {
                empty_matches(s, out);
                return;
            }
            std::size_t pos = 0;
            while (true) {
                const auto f = s.find(literal_, pos);
                if (f == std::string_view::npos) break;
                out.push_back({f, f + literal_.size()});
                pos = f + literal_.size();
            }
            return;
        }
        if (!code_) return;
        std::unique_ptr<pcre2_match_data_8, detail::pcre2_match_data_deleter> md(
            pcre2_match_data_create_from_pattern_8(code_.get(), nullptr));
        if (!md) throw std::bad_alloc();
        std::size_t last_end = 0;
        bool skip_next_empty = false;
        while (last_end <= s.size()) {
            std::size_t b, e;
            if (!search(s, last_end, md.get(), b, e)) break;
            last_end = e;
            if (b == e) {
                last_end += last_end < s.size() ? utf8_step(s, last_end) : 1;
                if (skip_next_empty) {
                    skip_next_empty = false;
                    continue;
                }
            } else {
                skip_next_empty = true;
            }
            out.push_back({b, e});
        }
    }

private:
    static std::size_t utf8_step(std::string_view s, std::size_t i) noexcept {
        const auto c = static_cast<unsigned char>(s[i]);
        return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    }
    // An empty pattern: onig's iteration yields an empty match at every character boundary.
    static void empty_matches(std::string_view s, std::vector<match_range>& out) {
        std::size_t i = 0;
        while (i <= s.size()) {
            out.push_back({i, i});
            i += i < s.size() ? utf8_step(s, i) : 1;
        }
    }

    bool search(std::string_view s, std::size_t start, pcre2_match_data_8* md, std::size_t& b, std::size_t& e) const {
        const auto subject = reinterpret_cast<PCRE2_SPTR8>(s.data());
        int rc = pcre2_match_8(code_.get(), subject, s.size(), start, PCRE2_NO_UTF_CHECK, md, mctx_.get());
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // the JIT's machine stack is small: retry interpreted
            rc = pcre2_match_8(code_.get(), subject, s.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                               mctx_.get());
        if (rc == PCRE2_ERROR_NOMATCH) return false;
        if (rc < 0) {
            PCRE2_UCHAR8 msg[256];
            pcre2_get_error_message_8(rc, msg, sizeof msg);
            ddiff::detail::fail<invalid_argument>("regex ", io::detail::quote_str(source_, 200),
                                                  ": matching failed (", reinterpret_cast<const char*>(msg),
                                                  "), expected a pattern that does not backtrack without bound");
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer_8(md);
        b = ov[0];
        e = ov[1];
        if (e < b) {  // only \K (refused) can do this
            ddiff::detail::fail<invalid_argument>("regex ", io::detail::quote_str(source_, 200),
                                                  ": match ends before it starts");
        }
        return true;
    }

    std::string source_;
    std::string literal_;
    bool is_literal_ = false;
    bool jit_ = false;
    std::shared_ptr<pcre2_code_8> code_;
    std::shared_ptr<pcre2_match_context_8> mctx_;
};

}  // namespace ddiff::io::tok
