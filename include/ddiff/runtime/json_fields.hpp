// Option fields read from a JSON object (a server's request body): each field of an options
// struct (model_options, decode_options, policy_params, ...) is the key of its name, checked
// with the same ranges and reported with the same option_error as the command line's flag.
// JSON types are strict: an integer field takes a JSON integer (not 8.0 nor "8"), a number
// field any JSON number, a name field a string among its choices, a switch true or false, an
// id list an array of non-negative integers; null means "not given".
//
//   ddiff::runtime::decode_options o;
//   auto given = ddiff::runtime::read_fields(body, o, [](std::string_view k) { return k != "length"; });
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ddiff/runtime/fields.hpp"

namespace ddiff::runtime {

namespace detail {
// A JSON value as an error message shows it: strings without quotes, everything ASCII-only
// (non-ASCII escaped) and cut to 64 characters.
inline std::string json_text(const nlohmann::json& j) {
    std::string s = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    if (j.is_string() && s.size() >= 2) s = s.substr(1, s.size() - 2);
    if (s.size() > 64) s = s.substr(0, 61) + "...";
    return s;
}
inline bool json_is_integer(const nlohmann::json& j) { return j.is_number_integer() || j.is_number_unsigned(); }
}  // namespace detail

// One field from one JSON value (not null), checked; option_error naming the field otherwise.
template <class T>
    requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
void read_field(const field_info& f, const nlohmann::json& j, T& out) {
    if (!detail::json_is_integer(j))
        throw option_error(std::string(f.name), detail::json_text(j), detail::range_text(f, true));
    if (j.is_number_unsigned()) {
        const auto v = j.get<std::uint64_t>();
        if (static_cast<double>(v) > f.hi || v > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            throw option_error(std::string(f.name), detail::json_text(j), detail::range_text(f, true));
        check_field(f, static_cast<T>(v));
        out = static_cast<T>(v);
    } else {
        const auto v = j.get<std::int64_t>();
        if (!detail::in_range(f, static_cast<double>(v)) || v < 0 ||
            static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            throw option_error(std::string(f.name), detail::json_text(j), detail::range_text(f, true));
        out = static_cast<T>(v);
    }
}
inline void read_field(const field_info& f, const nlohmann::json& j, double& out) {
    if (!j.is_number()) throw option_error(std::string(f.name), detail::json_text(j), detail::range_text(f, false));
    const double v = j.get<double>();
    check_field(f, v);
    out = v;
}
inline void read_field(const field_info& f, const nlohmann::json& j, std::optional<double>& out) {
    double v = 0.0;
    read_field(f, j, v);
    out = v;
}
inline void read_field(const field_info& f, const nlohmann::json& j, std::string& out) {
    if (!j.is_string())
        throw option_error(std::string(f.name), detail::json_text(j),
                           f.choices.empty() ? std::string("a string") : detail::choices_text(f));
    std::string v = j.get<std::string>();
    check_field(f, v);
    out = std::move(v);
}
inline void read_field(const field_info& f, const nlohmann::json& j, bool& out) {
    if (!j.is_boolean()) throw option_error(std::string(f.name), detail::json_text(j), "true or false");
    out = j.get<bool>();
}
inline void read_field(const field_info& f, const nlohmann::json& j, std::vector<token_id>& out) {
    if (!j.is_array()) throw option_error(std::string(f.name), detail::json_text(j), "an array of token ids");
    std::vector<token_id> v;
    v.reserve(j.size());
    for (const auto& item : j) {
        const bool ok = (item.is_number_unsigned() && item.get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<token_id>::max())) ||
                        (item.is_number_integer() && item.get<std::int64_t>() >= 0 &&
                         item.get<std::int64_t>() <= std::int64_t(std::numeric_limits<token_id>::max()));
        if (!ok) throw option_error(std::string(f.name) + " item", detail::json_text(item), "a non-negative token id");
        v.push_back(static_cast<token_id>(item.get<std::int64_t>()));
    }
    out = std::move(v);
}

// Every field of `options` whose name is a key of `body` (an object) and that `accept`s (all
// when empty), read and checked; returns the names read. Keys that name no field are left to
// the caller.
template <class Options>
std::vector<std::string> read_fields(const nlohmann::json& body, Options& options,
                                     const std::function<bool(std::string_view)>& accept = {}) {
    std::vector<std::string> read;
    if (!body.is_object()) return read;
    options.for_each_field([&](const field_info& f, auto& value) {
        if (accept && !accept(f.name)) return;
        const auto it = body.find(std::string(f.name));
        if (it == body.end() || it->is_null()) return;
        read_field(f, *it, value);
        read.emplace_back(f.name);
    });
    return read;
}

}  // namespace ddiff::runtime
