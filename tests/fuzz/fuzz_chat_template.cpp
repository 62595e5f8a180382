// libFuzzer target: arbitrary text as a chat template, rendered with a small conversation.
// Parsing may throw only format_error, rendering only invalid_argument (raise_exception, type
// errors, the step and output bounds); the output must be valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ddiff/io/tokenizer/chat_template.hpp"

using namespace ddiff;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<io::chat_template> t;
    try {
        t.emplace(text, "fuzz");
    } catch (const format_error&) {
        return 0;
    }
    static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi \u00e9 "},
                     {"role": "assistant", "content": "<think>x</think>\n\nHello"}, {"role": "user", "content": "2 + 2?"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"a": [1, 2.5, null, true]}}}],
        "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true, "n": 3})");
    try {
        const std::string out = t->render(ctx);
        if (!io::tok::is_valid_utf8(out)) __builtin_trap();
    } catch (const invalid_argument&) {
    }
    return 0;
}
