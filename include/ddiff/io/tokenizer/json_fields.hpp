// Typed reading of the fields of tokenizer.json components, with errors that name the file, the
// JSON path ("pre_tokenizer.pretokenizers[0].behavior"), what was found and what was expected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ddiff/core/error.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io::tok::json_fields {

using json = nlohmann::json;

struct where {
    std::string_view source;  // the file
    std::string path;         // JSON path of the object being read
    where at(std::string_view key) const { return {source, path.empty() ? std::string(key) : path + "." + std::string(key)}; }
    where index(std::size_t i) const { return {source, path + "[" + std::to_string(i) + "]"}; }
};

[[noreturn]] inline void bad(const where& w, const json& found, std::string_view expected) {
    ddiff::detail::fail<format_error>(w.source, ": ", w.path, " is ", io::detail::describe(found), ", expected ", expected);
}
[[noreturn]] inline void missing(const where& w, std::string_view expected) {
    ddiff::detail::fail<format_error>(w.source, ": ", w.path, " is missing, expected ", expected);
}
// An unsupported component: config_error `unsupported pre_tokenizer "X" in FILE (at PATH), expected one of ...`.
[[noreturn]] inline void unsupported(const where& w, std::string_view kind, std::string_view name,
                                     std::string_view supported) {
    ddiff::detail::fail<config_error>("unsupported ", kind, " ", io::detail::quote_str(name), " in ", w.source, " (at ",
                                      w.path, "), expected one of: ", supported);
}

inline void require_object(const json& j, const where& w) {
    if (!j.is_object()) bad(w, j, "an object");
}
inline const json* find(const json& obj, std::string_view key) {
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}
inline const json& field(const json& obj, std::string_view key, const where& w, std::string_view expected) {
    const json* f = find(obj, key);
    if (!f) missing(w.at(key), expected);
    return *f;
}
inline bool get_bool(const json& obj, std::string_view key, const where& w) {
    const json& f = field(obj, key, w, "a boolean");
    if (!f.is_boolean()) bad(w.at(key), f, "a boolean");
    return f.get<bool>();
}
// Absent or null -> fallback (serde's Option / #[serde(default)]).
inline bool opt_bool(const json& obj, std::string_view key, const where& w, bool fallback) {
    const json* f = find(obj, key);
    if (!f || f->is_null()) return fallback;
    if (!f->is_boolean()) bad(w.at(key), *f, "a boolean");
    return f->get<bool>();
}
inline std::optional<bool> maybe_bool(const json& obj, std::string_view key, const where& w) {
    const json* f = find(obj, key);
    if (!f || f->is_null()) return std::nullopt;
    if (!f->is_boolean()) bad(w.at(key), *f, "a boolean");
    return f->get<bool>();
}
inline std::string get_string(const json& obj, std::string_view key, const where& w) {
    const json& f = field(obj, key, w, "a string");
    if (!f.is_string()) bad(w.at(key), f, "a string");
    return f.get<std::string>();
}
inline std::optional<std::string> opt_string(const json& obj, std::string_view key, const where& w) {
    const json* f = find(obj, key);
    if (!f || f->is_null()) return std::nullopt;
    if (!f->is_string()) bad(w.at(key), *f, "a string or null");
    return f->get<std::string>();
}
inline std::uint64_t get_uint(const json& obj, std::string_view key, const where& w, std::uint64_t max) {
    const json& f = field(obj, key, w, "an integer >= 0");
    const auto v = io::detail::as_u64(f);
    if (!v || *v > max) bad(w.at(key), f, "an integer in [0, " + std::to_string(max) + "]");
    return *v;
}
// A string of exactly one character (serde's char).
inline char32_t get_char(const json& obj, std::string_view key, const where& w) {
    const std::string s = get_string(obj, key, w);
    if (s.empty() || char_count(s) != 1) bad(w.at(key), json(s), "a string of one character");
    std::size_t i = 0;
    return next_char(s, i);
}
// The "type" of a tagged component.
inline std::string type_of(const json& obj, const where& w, std::string_view kind) {
    require_object(obj, w);
    const json* t = find(obj, "type");
    if (!t) ddiff::detail::fail<format_error>(w.source, ": ", w.path, " has no \"type\", expected a tagged ", kind);
    if (!t->is_string()) bad(w.at("type"), *t, "a string");
    return t->get<std::string>();
}

}  // namespace ddiff::io::tok::json_fields
