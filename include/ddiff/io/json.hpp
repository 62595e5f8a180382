// Strict JSON parsing shared by the safetensors, index and config readers, and the helpers that
// describe JSON values in error messages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "ddiff/core/error.hpp"
#include "ddiff/io/mapped_file.hpp"

namespace ddiff::io::detail {

// A string for an error message: JSON-quoted (control characters escaped, invalid UTF-8
// replaced) and cut at max_bytes, so a hostile name cannot flood or garble the message.
inline std::string quote_str(std::string_view s, std::size_t max_bytes = 100) {
    bool cut = false;
    if (s.size() > max_bytes) {
        std::size_t n = max_bytes;
        // Back off to a UTF-8 character boundary (continuation bytes are 10xxxxxx).
        while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0u) == 0x80u) --n;
        s = s.substr(0, n);
        cut = true;
    }
    std::string out = nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (cut) out.insert(out.size() - 1, "...");
    return out;
}

// "a string \"abc\"", "an integer 5", "an array of 3 elements", ...: what was found.
inline std::string describe(const nlohmann::json& j) {
    using vt = nlohmann::json::value_t;
    const auto dump = [&] { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
    switch (j.type()) {
        case vt::null: return "null";
        case vt::boolean: return std::string("a boolean ") + (j.get<bool>() ? "true" : "false");
        case vt::number_integer:
        case vt::number_unsigned: return "an integer " + dump();
        case vt::number_float: return "a floating-point number " + dump();
        case vt::string: return "a string " + quote_str(j.get_ref<const std::string&>());
        case vt::array: return "an array of " + std::to_string(j.size()) + " element(s)";
        case vt::object: return "an object with " + std::to_string(j.size()) + " key(s)";
        default: return "a " + std::string(j.type_name()) + " value";
    }
}

// A JSON integer >= 0 that fits in 64 bits; nullopt for anything else (negative numbers,
// 1.0, integers beyond 2^64 which nlohmann turns into floating-point numbers).
inline std::optional<std::uint64_t> as_u64(const nlohmann::json& j) {
    if (j.type() == nlohmann::json::value_t::number_unsigned) return j.get<std::uint64_t>();
    if (j.type() == nlohmann::json::value_t::number_integer) {
        const std::int64_t v = j.get<std::int64_t>();
        if (v >= 0) return static_cast<std::uint64_t>(v);
    }
    return std::nullopt;
}

// Parses `text` as exactly one JSON value (trailing whitespace only), with three checks that
// nlohmann does not make:
//  - no NUL byte anywhere (see below).
//  - a key repeated in one object is an error. RFC 8259 section 4 leaves duplicate names
//    undefined and parsers disagree on which copy wins (nlohmann keeps one, Python the last),
//    so a file with two "model.embed.weight" entries could mean different tensors to
//    different readers.
//  - nesting deeper than max_depth containers is an error, so hostile input cannot build an
//    arbitrarily deep tree.
// Every failure is a format_error naming `source`.
inline nlohmann::json parse_json_strict(std::string_view text, std::string_view source, int max_depth = 64) {
    using event = nlohmann::json::parse_event_t;
    std::vector<std::unordered_set<std::string>> open_objects;  // keys seen, one set per open object
    auto callback = [&](int depth, event ev, nlohmann::json& parsed) -> bool {
        switch (ev) {
            case event::object_start:
            case event::array_start:
                if (depth >= max_depth)
                    ddiff::detail::fail<format_error>(source, ": JSON nested deeper than ", max_depth,
                                                     " levels, expected at most ", max_depth);
                if (ev == event::object_start) open_objects.emplace_back();
                break;
            case event::key: {
                const auto& k = parsed.get_ref<const std::string&>();
                if (!open_objects.empty() && !open_objects.back().insert(k).second)
                    ddiff::detail::fail<format_error>(source, ": duplicate key ", quote_str(k),
                                                     " in one JSON object, expected each key once");
                break;
            }
            case event::object_end:
                if (!open_objects.empty()) open_objects.pop_back();
                break;
            default: break;
        }
        return true;
    };
    // nlohmann's lexer stops at a NUL byte as if the input ended there, so "{}\0<anything>"
    // would parse; RFC 8259 allows no raw NUL anywhere (inside strings it must be \u0000).
    if (const auto nul = text.find('\0'); nul != std::string_view::npos)
        ddiff::detail::fail<format_error>(source, ": malformed JSON (NUL byte at offset ", nul,
                                         ", expected none: JSON text cannot contain raw NUL)");
    try {
        return nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                                     /*ignore_comments=*/false);
    } catch (const nlohmann::json::exception& e) {
        ddiff::detail::fail<format_error>(source, ": malformed JSON (", e.what(), ")");
    }
}

// The whole file as text (through a read-only mapping, which also rejects directories and
// other non-regular files). io_error when it cannot be read.
inline std::string read_text_file(const std::filesystem::path& path) {
    const mapped_file file(path);
    const auto bytes = file.bytes();
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace ddiff::io::detail
