// tokenizer.json loading: what each malformed or unsupported file gives (typed errors naming the
// file, the JSON path and the component), the character vocabulary of the shipped model (today's
// char_tokenizer behaviour, mask rendering included), checkpoint metadata, and the BPE builder
// from in-memory parts (the GGUF path) against the real files' behaviour.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../io_test_util.hpp"
#include "ddiff/io/tokenizer.hpp"
#include "ddiff/io/tokenizer/tokenizer.hpp"
#include "tokenizer_test_util.hpp"

using namespace ddiff;
using io::tokenizer;
using test::check_throws;

namespace {
// A minimal valid tokenizer.json around a model / component given as JSON text.
std::string file_with(std::string_view extra, std::string_view model = R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})") {
    return std::string("{\"version\": \"1.0\", \"added_tokens\": [], \"model\": ") + std::string(model) +
           (extra.empty() ? "" : ", ") + std::string(extra) + "}";
}
tokenizer load(std::string_view text) { return tokenizer::from_json(text, "x/tokenizer.json"); }
}  // namespace

TEST_CASE("a minimal BPE merges and decodes without a decoder as HF does (tokens joined by spaces)") {
    const auto t = load(file_with(""));
    CHECK(t.encode("abab") == std::vector<token_id>{2, 2});
    CHECK(t.encode("ba") == std::vector<token_id>{1, 0});
    CHECK(t.decode(std::vector<token_id>{2, 0}) == "ab a");
    CHECK(t.vocab_size() == 3);
    CHECK(t.piece(2) == "ab");
    CHECK(t.token_to_id("ab") == 2);
    CHECK_FALSE(t.token_to_id("zz").has_value());
    check_throws<invalid_argument>([&] { (void)t.decode(std::vector<token_id>{7}); }, {"id 7 has no token"});
}

TEST_CASE("malformed tokenizer.json files are format_errors naming the file and the place") {
    check_throws<format_error>([] { (void)load("{"); }, {"x/tokenizer.json", "malformed JSON"});
    check_throws<format_error>([] { (void)load("[1]"); }, {"top-level JSON value is an array"});
    check_throws<format_error>([] { (void)load(std::string("{\"a\":1}\0", 8)); }, {"NUL byte"});
    check_throws<format_error>([] { (void)load(R"({"model": {}, "model": {}})"); }, {"duplicate key \"model\""});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "vocab": {"a": 0, "a": 1}, "merges": []})")); },
                               {"model.vocab lists token \"a\" twice"});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []})")); },
                               {"gives id 0 to both \"a\" and \"b\""});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "vocab": {"a": 1.5}, "merges": []})")); },
                               {"model.vocab[\"a\"] is \"1.5\"", "expected a token id"});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]})")); },
                               {"model.merges[0]", "token \"c\" is not in model.vocab"});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]})")); },
                               {"token \"ab\" is not in model.vocab"});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]})")); },
                               {"is not two tokens separated by one space"});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]})")); },
                               {"has 1 element"});
    check_throws<format_error>([] { (void)load(file_with("", R"({"type": "BPE", "merges": []})")); }, {"model.vocab is missing"});
    check_throws<format_error>([] { (void)load(file_with("\"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": \"Isolated\", \"invert\": false}")); },
                               {"pre_tokenizer.pattern is missing"});
    check_throws<format_error>([] { (void)load(file_with("\"pre_tokenizer\": {\"type\": \"Digits\", \"individual_digits\": 1}")); },
                               {"pre_tokenizer.individual_digits is an integer 1, expected a boolean"});
    check_throws<format_error>([] { (void)load(file_with("\"decoder\": {\"type\": \"Strip\", \"content\": \"ab\", \"start\": 1, \"stop\": 0}")); },
                               {"decoder.content", "a string of one character"});
    check_throws<format_error>([] { (void)load(R"({"version": "2.0", "model": {}})"); }, {"version", "\"1.0\""});
    // Found by fuzz_tokenizer_json: a post-processor adding an id the vocabulary does not have.
    check_throws<format_error>([] { (void)load(file_with("\"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"</s>\", 6], \"cls\": [\"<s>\", 0]}")); },
                               {"post_processor adds id 6, which has no token"});
    check_throws<format_error>([] { (void)load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\\ud800\": 0}, \"merges\": []}}"); },
                               {"lone high surrogate"});
}

TEST_CASE("unsupported components are config_errors naming the component and the file") {
    check_throws<config_error>([] { (void)load(file_with("", R"({"type": "Unigram", "vocab": []})")); },
                               {"unsupported model \"Unigram\" in x/tokenizer.json", "expected one of: BPE"});
    check_throws<config_error>([] { (void)load(file_with("\"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}")); },
                               {"unsupported pre_tokenizer \"UnicodeScripts\" in x/tokenizer.json (at pre_tokenizer)"});
    check_throws<config_error>([] { (void)load(file_with("\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}]}")); },
                               {"unsupported normalizer \"Precompiled\"", "normalizer.normalizers[0]"});
    check_throws<config_error>([] { (void)load(file_with("\"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true}")); },
                               {"unsupported decoder \"WordPiece\""});
    check_throws<config_error>([] { (void)load(file_with("\"post_processor\": {\"type\": \"Frobnicate\"}")); },
                               {"unsupported post_processor \"Frobnicate\""});
    check_throws<config_error>([] { (void)load(file_with("\"truncation\": {\"max_length\": 8}")); }, {"unsupported truncation"});
    check_throws<config_error>([] { (void)load(file_with("", R"({"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []})")); },
                               {"unsupported BPE dropout 0.1"});
    check_throws<config_error>([] { (void)load(file_with("\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\", \"invert\": false}")); },
                               {"x/tokenizer.json: pre_tokenizer.pattern", "does not compile"});
    // dropout 0 is deterministic: accepted.
    CHECK(load(file_with("", R"({"type": "BPE", "dropout": 0.0, "vocab": {"a": 0}, "merges": []})")).encode("a") == std::vector<token_id>{0});
}

TEST_CASE("the shipped character vocabulary encodes, decodes and renders masks as char_tokenizer does") {
    const auto dir = std::filesystem::path(DDIFF_TEST_DATA) / ".." / ".." / "models" / "kjv-char";
    const auto t = tokenizer::load_dir(dir);
    const auto old = io::char_tokenizer::find(dir);
    REQUIRE(old.has_value());
    CHECK(t.is_character_level());
    const std::string text = "In the beginning God created the heaven and the earth.\n";
    const auto ids = t.encode(text);
    CHECK(ids == old->encode(text));
    CHECK(t.decode(ids) == text);
    const token_id mask = *t.token_to_id("<|mdm_mask|>");
    CHECK(mask == 63);
    std::vector<token_id> canvas = ids;
    canvas[3] = mask;
    canvas[4] = mask;
    CHECK(t.render(canvas, mask, "_") == old->decode(canvas, mask, "_"));
    CHECK(t.render(canvas, mask, "_") == "In __e beginning God created the heaven and the earth.\n");
    // Special tokens in the text are matched; skip_special_tokens drops them as char_tokenizer did.
    const auto with_eos = t.encode("Amen.<|eos|>");
    CHECK(with_eos.back() == 64);
    CHECK(t.decode(with_eos, true) == "Amen.");
    CHECK(t.decode(with_eos) == "Amen.<|eos|>");
    check_throws<invalid_argument>([&] { (void)t.encode("caf\u00e9"); }, {"character \"\u00e9\" at byte 3 is not in the vocabulary"});
    // Metadata from config.json.
    CHECK(t.metadata().mask_id == 63);
    CHECK(t.metadata().eos_ids == std::vector<token_id>{64});
    CHECK(t.metadata().pad_id == 65);
    CHECK(t.vocab_size() == 66);
}

TEST_CASE("a directory: tokenizer.json first, metadata from tokenizer_config / generation_config / config") {
    test::scratch_dir d;
    test::write_text(d / "tokenizer.json",
                     file_with(R"("decoder": {"type": "Fuse"})",
                               R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<m>": 3, "<e>": 4, "<e2>": 5}, "merges": ["a b"]})"));
    test::write_text(d / "vocab.json", R"({"ignored": 0})");  // a BPE vocab.json next to tokenizer.json is not read
    test::write_text(d / "config.json", R"({"mask_token_id": 3, "eos_token_id": 4, "bos_token_id": 0})");
    test::write_text(d / "generation_config.json", R"({"eos_token_id": [4, 5]})");
    test::write_text(d / "tokenizer_config.json",
                     R"({"bos_token": "a", "eos_token": {"content": "<e>", "lstrip": false}, "mask_token": "<m>", "pad_token": null,
                         "add_bos_token": true, "chat_template": [{"name": "default", "template": "{{ messages[0].content }}"},
                         {"name": "tool_use", "template": "T"}],
                         "added_tokens_decoder": {"6": {"content": "<new>", "special": true}}})");
    const auto t = tokenizer::load_dir(d.path());
    const auto& m = t.metadata();
    CHECK(m.mask_id == 3);
    CHECK(m.eos_id == 4);
    CHECK(m.eos_ids == std::vector<token_id>{4, 5});
    CHECK(m.bos_id == 0);
    CHECK(m.add_bos_token == true);
    CHECK_FALSE(m.pad_id.has_value());
    REQUIRE(m.chat_template.has_value());
    CHECK(*m.chat_template == "{{ messages[0].content }}");
    CHECK(m.chat_templates.size() == 2);
    CHECK(m.conflicts.empty());
    // added_tokens_decoder adds a token the tokenizer lacked, with the next id (as transformers does).
    CHECK(t.token_to_id("<new>") == 6);
    CHECK(t.encode("ab<new>a") == std::vector<token_id>{2, 6, 0});
    CHECK(t.decode(std::vector<token_id>{2, 6, 0}, true) == "aba");
    CHECK(t.vocab_size() == 7);

    test::write_text(d / "config.json", R"({"mask_token_id": 99})");
    check_throws<config_error>([&] { (void)tokenizer::load_dir(d.path()); }, {"config.json: mask_token_id = 99 is outside the vocabulary"});
    test::write_text(d / "config.json", R"({"mask_token_id": 2})");
    CHECK(tokenizer::load_dir(d.path()).metadata().conflicts.size() == 1);  // config 2 vs tokenizer_config <m> = 3

    test::scratch_dir e;
    test::write_text(e / "vocab.json", R"({"a": 0})");
    test::write_text(e / "merges.txt", "#version: 0.2\n");
    check_throws<config_error>([&] { (void)tokenizer::load_dir(e.path()); }, {"vocab.json and merges.txt without tokenizer.json"});
    test::scratch_dir empty;
    CHECK_FALSE(tokenizer::find_in_dir(empty.path()).has_value());
    check_throws<io_error>([&] { (void)tokenizer::load_dir(empty.path()); }, {"no tokenizer.json or vocab.json"});
}

TEST_CASE("the BPE builder from in-memory parts (GGUF metadata) reproduces the real Qwen3 tokenizer") {
    // GGUF stores tokens by id, merges as "a b", token types, and a pre-tokenizer name; with the
    // Qwen2 regex name the builder must encode exactly as the tokenizer.json does (NFC aside).
    const auto& real = test::cached_tokenizer("qwen3");
    io::bpe_spec s;
    s.kind = io::bpe_spec::style::byte_level;
    s.pre_regex = io::pre_tokenizer_regex_for("qwen2");
    const auto j = test::read_json(test::npm_tokenizer_dir("qwen3") / "tokenizer.json");
    const auto& vocab = j.at("model").at("vocab");
    s.tokens.resize(vocab.size());
    for (const auto& [tok, id] : vocab.items()) s.tokens[id.get<std::size_t>()] = tok;
    s.token_types.assign(s.tokens.size(), 1);
    for (const auto& a : j.at("added_tokens")) {
        s.tokens.push_back(a.at("content").get<std::string>());
        s.token_types.push_back(a.at("special").get<bool>() ? 3 : 4);
    }
    for (const auto& m : j.at("model").at("merges")) s.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    const auto built = tokenizer::from_bpe(s, "qwen3 parts");
    for (const auto& line : test::corpus()) {
        CAPTURE(line.name);
        if (line.name == "normalization") continue;  // the tokenizer.json has an NFC normalizer, GGUF does not say
        CHECK(built.encode(line.bytes) == real.encode(line.bytes));
    }
    check_throws<config_error>([] { (void)io::pre_tokenizer_regex_for("deepseek-coder"); }, {"unsupported tokenizer pre-tokenizer name"});
}
