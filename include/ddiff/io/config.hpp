// Typed, checked reading of config.json (or any JSON object of settings): a missing key, a wrong
// JSON type or an out-of-range value is a config_error naming the file, the key, what was found
// and what was expected. Model-specific config structs are built on json_config.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/io/json.hpp"

namespace ddiff::io {

// The C++ types a setting can be read as: bool, integers, floating point, std::string, and
// std::vector of those (nested vectors too).
// Character types are left out: std::in_range (and common sense) reject them as integers.
template <class T>
inline constexpr bool is_config_integer_v =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> && !std::is_same_v<T, wchar_t> &&
    !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>;
template <class T>
inline constexpr bool is_config_value_v =
    std::is_same_v<T, bool> || is_config_integer_v<T> || std::is_floating_point_v<T> || std::is_same_v<T, std::string>;
template <class T, class A>
inline constexpr bool is_config_value_v<std::vector<T, A>> = is_config_value_v<T>;

template <class T>
concept config_value = is_config_value_v<T>;

namespace detail {

template <class T>
std::string expected_kind() {
    if constexpr (std::is_same_v<T, bool>) return "a boolean";
    else if constexpr (is_config_integer_v<T>) return "an integer";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else if constexpr (std::is_same_v<T, std::string>) return "a string";
    else return "an array of elements each " + expected_kind<typename T::value_type>();
}

// Shortest round-trip text of a number, as JSON writes it (0.1, not 0.10000000000000001).
template <class T>
std::string number_text(T v) {
    return nlohmann::json(v).dump();
}

}  // namespace detail

class json_config {
public:
    // Reads and parses a file: io_error when it cannot be read, format_error when it is not a
    // JSON object (malformed, duplicate keys, nested deeper than 64 levels).
    static json_config load(const std::filesystem::path& file) {
        return parse(detail::read_text_file(file), file.string());
    }
    // Parses text; `source` names it in messages (the fuzzing and test entry point).
    static json_config parse(std::string_view text, std::string source = "<memory>") {
        auto root = std::make_shared<const nlohmann::json>(detail::parse_json_strict(text, source));
        if (!root->is_object())
            ddiff::detail::fail<format_error>(source, ": top-level JSON value is ", detail::describe(*root),
                                              ", expected an object");
        return json_config(root, root.get(), std::move(source), "");
    }

    const std::string& source() const noexcept { return source_; }
    // The key path of this section ("" at the top, "rope_scaling." inside a section).
    const std::string& prefix() const noexcept { return prefix_; }
    const nlohmann::json& json() const noexcept { return *node_; }

    // Present, even if null.
    bool contains(std::string_view key) const { return node_->find(key) != node_->end(); }
    // Present and not null (transformers writes null for "unset", e.g. "rope_scaling": null).
    bool has_value(std::string_view key) const {
        const auto it = node_->find(key);
        return it != node_->end() && !it->is_null();
    }
    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        out.reserve(node_->size());
        for (const auto& [k, v] : node_->items()) out.push_back(k);
        return out;
    }

    // Required: config_error when the key is missing, null, of another JSON type, or does not fit
    // T. An integer may be written 64 or 64.0 (JSON does not tell them apart; 64.5 is an error);
    // numbers may be integers.
    template <config_value T>
    T get(std::string_view key) const {
        const auto it = node_->find(key);
        if (it == node_->end())
            ddiff::detail::fail<config_error>(source_, ": missing key ", key_name(key), ", expected ",
                                              detail::expected_kind<T>());
        return convert<T>(*it, prefix_ + std::string(key));
    }
    // Optional: `fallback` when the key is missing or null; a present value must still be valid.
    template <config_value T>
    T get(std::string_view key, const std::type_identity_t<T>& fallback) const {
        return has_value(key) ? get<T>(key) : fallback;
    }
    template <config_value T>
    std::optional<T> get_optional(std::string_view key) const {
        if (!has_value(key)) return std::nullopt;
        return get<T>(key);
    }
    // Required and within [lo, hi] (config_error naming the range otherwise).
    template <config_value T>
        requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
    T get_in(std::string_view key, std::type_identity_t<T> lo, std::type_identity_t<T> hi) const {
        const T v = get<T>(key);
        if (!(lo <= v && v <= hi))
            ddiff::detail::fail<config_error>(source_, ": key ", key_name(key), " = ", detail::number_text(v),
                                              " is out of range, expected ", detail::expected_kind<T>(), " in [",
                                              detail::number_text(lo), ", ", detail::number_text(hi), "]");
        return v;
    }
    // Optional and, when present, within [lo, hi].
    template <config_value T>
        requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
    T get_in(std::string_view key, std::type_identity_t<T> lo, std::type_identity_t<T> hi,
             const std::type_identity_t<T>& fallback) const {
        return has_value(key) ? get_in<T>(key, lo, hi) : fallback;
    }

    // A nested object ("rope_scaling": {"type": ..., "factor": ...}); its messages name keys as
    // "rope_scaling.factor". config_error when missing or not an object.
    json_config section(std::string_view key) const {
        const auto it = node_->find(key);
        if (it == node_->end())
            ddiff::detail::fail<config_error>(source_, ": missing key ", key_name(key), ", expected an object");
        if (!it->is_object())
            ddiff::detail::fail<config_error>(source_, ": key ", key_name(key), " is ", detail::describe(*it),
                                              ", expected an object");
        return json_config(root_, &*it, source_, prefix_ + std::string(key) + ".");
    }

private:
    json_config(std::shared_ptr<const nlohmann::json> root, const nlohmann::json* node, std::string source,
                std::string prefix)
        : root_(std::move(root)), node_(node), source_(std::move(source)), prefix_(std::move(prefix)) {}

    std::string key_name(std::string_view key) const { return detail::quote_str(prefix_ + std::string(key)); }

    template <class T>
    [[noreturn]] void fail_type(const nlohmann::json& j, const std::string& path) const {
        ddiff::detail::fail<config_error>(source_, ": key ", detail::quote_str(path), " is ", detail::describe(j),
                                          ", expected ", detail::expected_kind<T>());
    }
    template <class T, class Bound>
    [[noreturn]] void fail_range(const nlohmann::json& j, const std::string& path, Bound lo, Bound hi) const {
        ddiff::detail::fail<config_error>(source_, ": key ", detail::quote_str(path), " = ", j.dump(),
                                          " is out of range, expected ", detail::expected_kind<T>(), " in [",
                                          detail::number_text(lo), ", ", detail::number_text(hi), "]");
    }

    template <class T>
    T convert(const nlohmann::json& j, const std::string& path) const {
        using vt = nlohmann::json::value_t;
        if constexpr (std::is_same_v<T, bool>) {
            if (!j.is_boolean()) fail_type<T>(j, path);
            return j.get<bool>();
        } else if constexpr (is_config_integer_v<T>) {
            constexpr T lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
            if (j.type() == vt::number_unsigned) {
                const auto v = j.get<std::uint64_t>();
                if (!std::in_range<T>(v)) fail_range<T>(j, path, lo, hi);
                return static_cast<T>(v);
            }
            if (j.type() == vt::number_float) {
                // JSON does not tell 4 from 4.0 and Hub configs hold both ("mlp_ratio": 4.0): an
                // integral value is accepted, anything with a fraction stays an error.
                const double d = j.get<double>();
                if (std::trunc(d) != d) fail_type<T>(j, path);
                // Exact range test in double: 2^63 and -2^63 are exactly representable.
                constexpr double two63 = 9223372036854775808.0;
                if constexpr (std::is_signed_v<T>) {
                    if (!(d >= -two63 && d < two63) || !std::in_range<T>(static_cast<std::int64_t>(d)))
                        fail_range<T>(j, path, lo, hi);
                    return static_cast<T>(static_cast<std::int64_t>(d));
                } else {
                    if (!(d >= 0.0 && d < 2.0 * two63) || !std::in_range<T>(static_cast<std::uint64_t>(d)))
                        fail_range<T>(j, path, lo, hi);
                    return static_cast<T>(static_cast<std::uint64_t>(d));
                }
            }
            if (j.type() != vt::number_integer) fail_type<T>(j, path);
            const auto v = j.get<std::int64_t>();
            if (!std::in_range<T>(v)) fail_range<T>(j, path, lo, hi);
            return static_cast<T>(v);
        } else if constexpr (std::is_floating_point_v<T>) {
            if (!j.is_number()) fail_type<T>(j, path);
            const double v = j.get<double>();
            // JSON has no inf or NaN; a finite double beyond T's range would silently become inf.
            if (std::abs(v) > static_cast<double>(std::numeric_limits<T>::max()))
                fail_range<T>(j, path, std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max());
            return static_cast<T>(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
            if (!j.is_string()) fail_type<T>(j, path);
            return j.get<std::string>();
        } else {
            if (!j.is_array()) fail_type<T>(j, path);
            T out;
            out.reserve(j.size());
            for (std::size_t i = 0; i < j.size(); ++i)
                out.push_back(convert<typename T::value_type>(j[i], path + "[" + std::to_string(i) + "]"));
            return out;
        }
    }

    std::shared_ptr<const nlohmann::json> root_;  // keeps node_ alive; shared by sections
    const nlohmann::json* node_;                  // an object
    std::string source_;
    std::string prefix_;
};

}  // namespace ddiff::io
