// libFuzzer target: arbitrary text as a tokenizer.json. Loading may throw only format_error or
// config_error; a file that loads is then used: encode of a few strings (invalid_argument allowed:
// a missing unk token, a regex that backtracks without bound), decode of every id below
// vocab_size() one at a time and all together (invalid_argument allowed for ids with no token),
// and every decoded text must be valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/io/tokenizer/tokenizer.hpp"

using namespace ddiff;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<io::tokenizer> tok;
    try {
        tok = io::tokenizer::from_json(text, "fuzz/tokenizer.json");
    } catch (const format_error&) {
        return 0;
    } catch (const config_error&) {
        return 0;
    }
    static const char* samples[] = {"", "Hello world", "  a  b\n\n1234 it's", "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "\xff\xfe"};
    for (const char* s : samples) {
        for (bool special : {false, true}) {
            try {
                const auto ids = tok->encode(s, special);
                for (token_id id : ids)
                    if (id < 0 || static_cast<std::size_t>(id) >= tok->vocab_size()) __builtin_trap();
                const std::string d = tok->decode(ids);
                if (!io::tok::is_valid_utf8(d)) __builtin_trap();
            } catch (const invalid_argument&) {
            }
        }
    }
    const std::size_t n = std::min<std::size_t>(tok->vocab_size(), 512);
    std::vector<token_id> all;
    for (std::size_t i = 0; i < n; ++i) {
        const token_id id = static_cast<token_id>(i);
        try {
            const std::string d = tok->decode(std::span<const token_id>(&id, 1), i % 2 == 0);
            if (!io::tok::is_valid_utf8(d)) __builtin_trap();
            (void)tok->piece(id);
            all.push_back(id);
        } catch (const invalid_argument&) {
        }
    }
    if (!io::tok::is_valid_utf8(tok->decode(all))) __builtin_trap();
    return 0;
}
