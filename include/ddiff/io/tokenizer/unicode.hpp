// UTF-8 and Unicode helpers of the tokenizer engine: decoding and encoding code points, the
// lossy UTF-8 repair Rust's String::from_utf8_lossy and WHATWG's decoder perform (what Hugging
// Face tokenizers' decoders output), the character classes Rust's char methods and the `regex`
// crate use (HF calls them), and NFC / NFKC / lowercase through ICU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "ddiff/core/error.hpp"

namespace ddiff::io::tok {

inline constexpr char32_t replacement_char = 0xFFFD;

// Appends the UTF-8 encoding of a scalar value (c < 0x110000, not a surrogate).
inline void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}
inline std::string utf8(char32_t c) {
    std::string s;
    append_utf8(s, c);
    return s;
}

// Byte length of the UTF-8 sequence a *valid* lead byte starts.
inline std::size_t utf8_len(unsigned char lead) noexcept {
    if (lead < 0x80) return 1;
    if (lead < 0xE0) return 2;
    if (lead < 0xF0) return 3;
    return 4;
}

// Decodes the code point at s[i] of *valid* UTF-8 and advances i past it.
inline char32_t next_char(std::string_view s, std::size_t& i) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    const std::size_t n = utf8_len(b0);
    char32_t c = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    return c;
}

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode 15 table 3-7), or 0 when
// the bytes there do not start one. `bad` receives how many bytes form the maximal ill-formed
// subpart (the unit replaced by one U+FFFD).
inline std::size_t well_formed_at(std::string_view s, std::size_t i, std::size_t& bad) noexcept {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return 1;
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b == 0xE0) need = 2, lo = 0xA0;
    else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) need = 2;
    else if (b == 0xED) need = 2, hi = 0x9F;
    else if (b == 0xF0) need = 3, lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3) need = 3;
    else if (b == 0xF4) need = 3, hi = 0x8F;
    else {
        bad = 1;
        return 0;
    }
    std::size_t j = i + 1;
    for (std::size_t k = 0; k < need; ++k, ++j) {
        if (j >= s.size()) {
            bad = j - i;
            return 0;
        }
        const auto c = static_cast<unsigned char>(s[j]);
        if (c < lo || c > hi) {
            bad = j - i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

inline bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    // ASCII fast path, 8 bytes at a time.
    while (i < s.size()) {
        if (i + 8 <= s.size()) {
            std::uint64_t w;
            __builtin_memcpy(&w, s.data() + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        std::size_t bad = 0;
        const std::size_t n = well_formed_at(s, i, bad);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

// Valid UTF-8 where each maximal ill-formed subpart is replaced by U+FFFD: the behaviour of
// Rust's String::from_utf8_lossy (used by HF's ByteLevel decoder), of WHATWG's TextDecoder and of
// Python's bytes.decode(errors="replace").
inline std::string utf8_lossy(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t bad = 0;
        const std::size_t n = well_formed_at(s, i, bad);
        if (n) {
            out.append(s.data() + i, n);
            i += n;
        } else {
            append_utf8(out, replacement_char);
            i += bad;
        }
    }
    return out;
}

// Number of code points of valid UTF-8.
inline std::size_t char_count(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// ---- Character classes (ICU's Unicode data) ----------------------------------------------------

// Rust char::is_whitespace: the White_Space property.
inline bool is_whitespace(char32_t c) noexcept {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE);
}
// Rust char::is_numeric: general category Nd, Nl or No.
inline bool is_numeric(char32_t c) noexcept {
    if (c < 0x80) return c >= '0' && c <= '9';
    const auto gc = u_charType(static_cast<UChar32>(c));
    return gc == U_DECIMAL_DIGIT_NUMBER || gc == U_LETTER_NUMBER || gc == U_OTHER_NUMBER;
}
// HF's Punctuation pre-tokenizer (pre_tokenizers/punctuation.rs): ASCII punctuation (which
// includes symbols such as $ + < = > ^ ` | ~) or a Unicode punctuation category Pc Pd Ps Pe Pi Pf Po.
inline bool is_punctuation(char32_t c) noexcept {
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
               (c >= 0x7B && c <= 0x7E);
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0;
}
// \w of Rust's `regex` crate (Unicode): Alphabetic, Mark, Decimal_Number, Connector_Punctuation
// or Join_Control (regex-syntax's perl_word table). Used by HF's Whitespace pre-tokenizer and by
// the single_word rule of added tokens.
inline bool is_regex_word(char32_t c) noexcept {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const auto u = static_cast<UChar32>(c);
    if (u_hasBinaryProperty(u, UCHAR_ALPHABETIC) || u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL)) return true;
    const auto m = U_GET_GC_MASK(u);
    return (m & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0;
}

// ---- Normalization and case -------------------------------------------------------------------

enum class normal_form { nfc, nfd, nfkc, nfkd };

inline bool all_ascii(std::string_view s) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        __builtin_memcpy(&w, s.data() + i, 8);
        if (w & 0x8080808080808080ull) return false;
    }
    for (; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) & 0x80) return false;
    return true;
}

// Unicode normalization of valid UTF-8 (HF: unicode-normalization-alignments; here ICU's
// Normalizer2 on UTF-8 directly). ASCII is unchanged by every form.
inline void normalize(std::string& s, normal_form form) {
    if (all_ascii(s)) return;
    UErrorCode st = U_ZERO_ERROR;
    const icu::Normalizer2* n = nullptr;
    switch (form) {
        case normal_form::nfc: n = icu::Normalizer2::getNFCInstance(st); break;
        case normal_form::nfd: n = icu::Normalizer2::getNFDInstance(st); break;
        case normal_form::nfkc: n = icu::Normalizer2::getNFKCInstance(st); break;
        case normal_form::nfkd: n = icu::Normalizer2::getNFKDInstance(st); break;
    }
    if (U_FAILURE(st) || !n) ddiff::detail::fail<io_error>("unicode normalization: ICU data unavailable (", u_errorName(st), ")");
    const icu::StringPiece in(s.data(), static_cast<int32_t>(s.size()));
    if (n->isNormalizedUTF8(in, st) && U_SUCCESS(st)) return;
    st = U_ZERO_ERROR;
    std::string out;
    out.reserve(s.size() + s.size() / 4);
    icu::StringByteSink<std::string> sink(&out);
    n->normalizeUTF8(0, in, sink, nullptr, st);
    if (U_FAILURE(st)) ddiff::detail::fail<invalid_argument>("unicode normalization failed (", u_errorName(st), ")");
    s.swap(out);
}

// Lowercase as HF's NormalizedString::lowercase: every code point through Rust's
// char::to_lowercase, i.e. the full (possibly multi-character) mapping with no context (a final
// sigma stays sigma: ICU lowercases one code point at a time here for exactly that reason).
inline void lowercase(std::string& s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const char32_t c = next_char(s, i);
        if (c < 0x80) {
            out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
            continue;
        }
        UChar src[2];
        int32_t len = 0;
        UBool err = false;
        U16_APPEND(src, len, 2, static_cast<UChar32>(c), err);
        (void)err;  // c is a scalar value: it always fits
        UChar dst[8];
        UErrorCode st = U_ZERO_ERROR;
        const int32_t n = u_strToLower(dst, 8, src, len, "", &st);
        if (U_FAILURE(st) || n > 8) {
            append_utf8(out, c);
            continue;
        }
        for (int32_t k = 0; k < n;) {
            UChar32 d;
            U16_NEXT(dst, k, n, d);
            append_utf8(out, static_cast<char32_t>(d));
        }
    }
    s.swap(out);
}

}  // namespace ddiff::io::tok
