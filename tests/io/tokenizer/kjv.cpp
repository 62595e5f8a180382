// The whole King James Bible (4.1 MB, one string) encoded by ddiff with the real Qwen3, LLaMA-3,
// LLaMA-2, Gemma 3 and GPT-2 tokenizer.json files gives exactly HF's ids: same count and the same
// FNV-1a 64 hash of the ids (tools/tokenizer/make_goldens.mjs computed both from HF's encode).
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "tokenizer_test_util.hpp"

using namespace ddiff;

namespace {
std::string fnv1a64(const std::vector<token_id>& ids) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (token_id id : ids)
        for (int k = 0; k < 4; ++k) {
            h ^= (static_cast<std::uint32_t>(id) >> (8 * k)) & 0xFF;
            h *= 0x100000001b3ull;
        }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}
std::string kjv_text() {
    const auto p = test::reference_data_dir() / "kjv.txt";
    std::ifstream in(p, std::ios::binary);
    if (!in) FAIL("KJV text " << p.string() << " is missing: run scripts/tokenizer-data.sh (scripts/test.sh does)");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
}  // namespace

TEST_CASE("the whole KJV encodes to HF's ids with each real tokenizer") {
    const std::string text = kjv_text();
    for (const char* fam : {"qwen3", "llama3", "llama2", "gemma3", "gpt2"}) {
        CAPTURE(fam);
        const auto g = test::read_json(test::tokenizer_test_data() / "goldens" / (std::string(fam) + ".json")).at("kjv");
        REQUIRE(text.size() == g.at("bytes").get<std::size_t>());
        const auto ids = test::cached_tokenizer(fam).encode(text, false);
        CHECK(ids.size() == g.at("tokens").get<std::size_t>());
        CHECK(fnv1a64(ids) == g.at("fnv1a64").get<std::string>());
    }
}
