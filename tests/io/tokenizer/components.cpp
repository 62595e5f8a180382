// Unit tests of the tokenizer engine's parts against definitions: UTF-8 repair (Unicode 15
// section 3.9, "U+FFFD Substitution of Maximal Subparts", the example of its table 3-8), the
// Oniguruma -> PCRE2 rewriting and onig's match iteration (rust-onig find.rs), the character
// classes HF uses, and the decoders' corner cases HF itself would panic on.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../io_test_util.hpp"
#include "ddiff/io/tokenizer/tokenizer.hpp"

using namespace ddiff;
using namespace ddiff::io::tok;
using test::check_throws;

TEST_CASE("utf8_lossy replaces each maximal ill-formed subpart by one U+FFFD (Unicode table 3-8)") {
    // Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d
    const std::string in = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
    CHECK(utf8_lossy(in) == "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd");
    CHECK(utf8_lossy("\xE4\xBD") == "\uFFFD");           // truncated 3-byte sequence: one subpart
    CHECK(utf8_lossy("\xED\xA0\x80") == "\uFFFD\uFFFD\uFFFD");  // surrogate: ED then two lone continuations
    CHECK(utf8_lossy("\xF0\x9F\x98\x80") == "\U0001F600");
    CHECK(utf8_lossy("\xC0\xAF") == "\uFFFD\uFFFD");     // overlong lead C0 is never valid
    CHECK(is_valid_utf8("plain ascii text, longer than eight bytes"));
    CHECK_FALSE(is_valid_utf8("ascii then \xFF"));
}

TEST_CASE("character classes follow Rust's char methods and the regex crate") {
    CHECK(is_whitespace(U'\u0085'));
    CHECK(is_whitespace(U'\u3000'));
    CHECK_FALSE(is_whitespace(U'\u200B'));  // zero width space is Cf, not White_Space
    CHECK(is_numeric(U'\u0663'));           // ARABIC-INDIC DIGIT THREE (Nd)
    CHECK(is_numeric(U'\u216B'));           // ROMAN NUMERAL TWELVE (Nl)
    CHECK(is_numeric(U'\u00B2'));           // SUPERSCRIPT TWO (No)
    CHECK(is_punctuation(U'$'));            // ASCII punctuation includes symbols
    CHECK(is_punctuation(U'\u00BF'));       // inverted question mark (Po)
    CHECK_FALSE(is_punctuation(U'\u00A9')); // copyright sign (So)
    CHECK(is_regex_word(U'\u0301'));        // combining acute accent (Mn)
    CHECK(is_regex_word(U'\u200D'));        // ZERO WIDTH JOINER (Join_Control)
    CHECK_FALSE(is_regex_word(U'-'));
}

TEST_CASE("NFC, NFKC and lowercase") {
    std::string s = "Cafe\u0301";
    normalize(s, normal_form::nfc);
    CHECK(s == "Caf\u00E9");
    s = "\uFB01 \u2460";
    normalize(s, normal_form::nfkc);
    CHECK(s == "fi 1");
    s = "\u0130STANBUL \u03A3";  // İ -> i + combining dot (full mapping); a lone sigma stays sigma
    lowercase(s);
    CHECK(s == "i\u0307stanbul \u03C3");
}

TEST_CASE("Oniguruma constructs are rewritten for PCRE2; onig's empty-match iteration") {
    std::vector<match_range> m;
    // \s includes U+0085 in Oniguruma.
    pattern::regex(R"(\s+)", "t").find_matches("a\u0085b", m);
    REQUIRE(m.size() == 1);
    CHECK(m[0].begin == 1);
    CHECK(m[0].end == 3);
    // \w includes combining marks in Oniguruma.
    pattern::regex(R"(\w+)", "t").find_matches("e\u0301 x", m);
    REQUIRE(m.size() == 2);
    CHECK(m[0].end == 3);
    // rust-onig FindMatches: an empty match is reported, then the search moves one character on;
    // an empty match right after a non-empty one is skipped.
    pattern::regex("x*", "t").find_matches("axxb", m);
    std::vector<std::pair<std::size_t, std::size_t>> got;
    for (auto r : m) got.emplace_back(r.begin, r.end);
    CHECK(got == std::vector<std::pair<std::size_t, std::size_t>>{{0, 0}, {1, 3}, {4, 4}});
    pattern::literal("").find_matches("ab", m);
    CHECK(m.size() == 3);
    pattern::literal("ab").find_matches("xababab", m);
    CHECK(m.size() == 3);
    check_throws<config_error>([] { (void)pattern::regex("[a-z&&[^b]]", "file.json: pre_tokenizer"); },
                               {"file.json: pre_tokenizer", "not supported"});
    check_throws<config_error>([] { (void)pattern::regex("(unclosed", "f.json"); }, {"f.json", "does not compile"});
    check_throws<config_error>([] { (void)pattern::regex(R"(\bword\b)", "f.json"); }, {"word boundaries"});
}

TEST_CASE("decoders: Strip never panics, ByteFallback parses like u8::from_str_radix") {
    decoder strip;
    strip.k = decoder::kind::strip;
    strip.ch = U' ';
    strip.ch_utf8 = " ";
    strip.start = 1;
    strip.stop = 2;
    std::vector<std::string> toks = {"", " ", "  a  ", " b"};
    strip.decode_chain(toks);
    // strip.rs: up to `start` leading and `stop` trailing content characters removed.
    CHECK(toks == std::vector<std::string>{"", "", " a", "b"});
    decoder bf;
    bf.k = decoder::kind::byte_fallback;
    toks = {"<0x41>", "<0x+F>", "<0xe4>", "<0xBD>", "<0xA0>", "x", "<0xE4>", "<0xBD>"};
    bf.decode_chain(toks);
    // "A" + 0x0F + valid E4 BD A0 ("你") ; then an invalid run of 2 bytes -> two U+FFFD.
    CHECK(toks == std::vector<std::string>{"A\x0F\u4F60", "x", "\uFFFD", "\uFFFD"});
}
