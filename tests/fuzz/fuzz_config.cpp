// libFuzzer target: arbitrary text through the config.json reader (the typed getters on each key,
// sections recursively), the model configs built on it (the Qwen family with the text also as
// its tokenizer_config.json, the DiT / BD3-LM one, LLaDA's) and the model.safetensors.index.json
// parser. Parsing may only throw format_error and getters only config_error; anything else
// escapes and aborts.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/io/checkpoint.hpp"
#include "ddiff/io/config.hpp"
#include "ddiff/model/dit.hpp"
#include "ddiff/model/llada.hpp"
#include "ddiff/model/qwen.hpp"

using namespace ddiff;
using namespace ddiff::io;

namespace {

template <class F>
void allow_config_errors(F&& f) {
    try {
        f();
    } catch (const config_error&) {
    }
}

// Each getter as a plain function, so a subset can be picked per key.
using getter = void (*)(const json_config&, const std::string&);
constexpr getter getters[] = {
    [](const json_config& c, const std::string& k) { (void)c.get<int>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<std::int8_t>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<std::uint64_t>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<std::size_t>(k, 3); },
    [](const json_config& c, const std::string& k) { (void)c.get<float>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<double>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<bool>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<std::string>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<std::vector<int>>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<std::vector<std::vector<double>>>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get<std::vector<std::string>>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get_optional<long>(k); },
    [](const json_config& c, const std::string& k) { (void)c.get_in<int>(k, -5, 5); },
    [](const json_config& c, const std::string& k) { (void)c.get_in<double>(k, 0.0, 1.0, 0.5); },
};
constexpr std::size_t n_getters = sizeof(getters) / sizeof(getters[0]);

// Every getter on the first 8 keys of each object, then 3 rotating getters per key: a thrown
// config_error costs ~15 us under ASan, and calling all 14 on every key of a large config
// made the target 10x slower without reaching new code.
void exercise(const json_config& c, int depth) {
    const auto keys = c.keys();
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const std::string& k = keys[i];
        if (!c.contains(k)) __builtin_trap();
        if (i < 8) {
            for (getter g : getters) allow_config_errors([&] { g(c, k); });
        } else {
            for (std::size_t j = 0; j < 3; ++j) allow_config_errors([&] { getters[(3 * i + j) % n_getters](c, k); });
        }
        if (depth < 4 && (i < 8 || c.json().at(k).is_object())) allow_config_errors([&] { exercise(c.section(k), depth + 1); });
    }
    allow_config_errors([&] { (void)c.get<int>("d_model"); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<json_config> c;
    try {
        c.emplace(json_config::parse(text, "fuzz config"));
    } catch (const format_error&) {
    }
    if (c) {
        exercise(*c, 0);
        allow_config_errors([&] { (void)model::qwen_config::from_json(*c, &*c); });
        allow_config_errors([&] { (void)model::dit_config::from_json(*c); });
        allow_config_errors([&] { (void)model::llada_config::from_json(*c); });
    }
    try {
        const auto map = parse_weight_map(text, "fuzz index");
        if (map.empty()) __builtin_trap();
        for (const auto& e : map)
            if (e.shard.empty() || e.shard.find('/') != std::string::npos) __builtin_trap();
    } catch (const format_error&) {
    }
    return 0;
}
