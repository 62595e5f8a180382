// libFuzzer target: arbitrary bytes encoded by each committed synthetic tokenizer.json (together
// they use every supported normalizer, pre-tokenizer, model option, added-token rule,
// post-processor and decoder). Nothing may throw (their unk tokens exist, their regexes are
// linear), every id is below vocab_size(), and decoding the ids gives valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/io/tokenizer/tokenizer.hpp"

using namespace ddiff;

namespace {
struct entry {
    io::tokenizer tok;
};
const std::vector<entry>& tokenizers() {
    static const std::vector<entry> all = [] {
        const std::string dir = std::string(DDIFF_TEST_DATA) + "/tokenizer/synthetic/";
        std::vector<entry> v;
        for (const char* name : {"bytelevel_roberta", "split_digits_template", "split_merged", "contiguous_punct",
                                 "whitespace_suffix_unk", "metaspace_first_fallback", "prefix_metaspace"})
            v.push_back({io::tokenizer::from_json_file(dir + name + ".json")});
        return v;
    }();
    return all;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const auto& [tok] : tokenizers()) {
        for (bool special : {false, true}) {
            const auto ids = tok.encode(text, special);
            for (token_id id : ids)
                if (id < 0 || static_cast<std::size_t>(id) >= tok.vocab_size()) __builtin_trap();
            const std::string d = tok.decode(ids, special);
            if (!io::tok::is_valid_utf8(d)) __builtin_trap();
        }
    }
    return 0;
}
