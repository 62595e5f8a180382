// Run-time option fields, declared once with their name, help and accepted range, so that the
// CLI (flags), the server (JSON keys) and validation share one description: a front end
// visits a struct's fields with `options.for_each_field(visitor)` (gemma.cpp's ForEach pattern).
// Values that break a range are option_errors naming the field, the value and what is accepted.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"

namespace ddiff::runtime {

// A bad option value: `field = 'value', expected ...`, field in snake_case (the JSON key). The
// command line shows it as --field with '-' for '_'; the server reports it as the OpenAI
// error's param.
class option_error : public invalid_argument {
public:
    option_error(std::string field, std::string value, std::string expected)
        : invalid_argument(field + " = '" + value + "', expected " + expected),
          field_(std::move(field)), value_(std::move(value)), expected_(std::move(expected)) {}
    const std::string& field() const noexcept { return field_; }
    const std::string& value() const noexcept { return value_; }
    const std::string& expected() const noexcept { return expected_; }

private:
    std::string field_, value_, expected_;
};

// How a field's accepted values are described.
struct field_info {
    std::string_view name;  // snake_case: the JSON key; the command line flag is --name with '-' for '_'
    std::string_view meta = {};  // placeholder in --help (empty: a switch)
    std::string_view help = {};
    double lo = 0.0, hi = 0.0;  // numbers: the accepted range
    bool lo_open = false;       // (lo, hi] instead of [lo, hi]
    std::vector<std::string_view> choices = {};  // names: the accepted ones

    std::string flag() const { return flag_of(name); }
    static std::string flag_of(std::string_view name) {
        std::string f(name);
        for (char& c : f)
            if (c == '_') c = '-';
        return f;
    }
};

namespace detail {
// A number as a person writes it: 0.9, 1e-06 -> 1e-06, 1048576.
inline std::string format_number(double x) {
    if (x == std::floor(x) && std::abs(x) < 1e15) return std::to_string(static_cast<long long>(x));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", x);
    return buf;
}
inline std::string range_text(const field_info& f, bool integer) {
    return std::string(integer ? "an integer in " : "a number in ") + (f.lo_open ? "(" : "[") + format_number(f.lo) +
           ", " + format_number(f.hi) + "]";
}
inline std::string choices_text(const field_info& f) {
    std::string s = "one of: ";
    for (std::size_t i = 0; i < f.choices.size(); ++i) s += (i ? ", " : "") + std::string(f.choices[i]);
    return s;
}
inline bool in_range(const field_info& f, double v) {
    return std::isfinite(v) && (f.lo_open ? v > f.lo : v >= f.lo) && v <= f.hi;
}
}  // namespace detail

// Range and choice checks of values already typed (the server's JSON, code that fills options).
template <class T>
    requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
void check_field(const field_info& f, T v) {
    if (!detail::in_range(f, static_cast<double>(v)))
        throw option_error(std::string(f.name), std::to_string(v), detail::range_text(f, true));
}
inline void check_field(const field_info& f, double v) {
    if (!detail::in_range(f, v)) throw option_error(std::string(f.name), detail::format_number(v), detail::range_text(f, false));
}
inline void check_field(const field_info& f, const std::optional<double>& v) {
    if (v) check_field(f, *v);
}
inline void check_field(const field_info& f, const std::string& v) {
    if (f.choices.empty()) return;
    for (auto c : f.choices)
        if (c == v) return;
    throw option_error(std::string(f.name), v, detail::choices_text(f));
}
inline void check_field(const field_info&, bool) {}
inline void check_field(const field_info&, const std::vector<token_id>&) {}

// Parsing a field's value from text (the command line), then checking it.
template <class T>
    requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
void parse_field(const field_info& f, const std::string& s, T& out) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || !detail::in_range(f, static_cast<double>(v)))
        throw option_error(std::string(f.name), s, detail::range_text(f, true));
    out = static_cast<T>(v);
}
inline void parse_field(const field_info& f, const std::string& s, double& out) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !detail::in_range(f, v)) throw option_error(std::string(f.name), s, detail::range_text(f, false));
    out = v;
}
inline void parse_field(const field_info& f, const std::string& s, std::optional<double>& out) {
    double v = 0.0;
    parse_field(f, s, v);
    out = v;
}
inline void parse_field(const field_info& f, const std::string& s, std::string& out) {
    check_field(f, s);
    out = s;
}
inline void parse_field(const field_info&, const std::string&, bool& out) { out = true; }
// Comma- or space-separated non-negative token ids (checked against a vocabulary later).
inline void parse_field(const field_info& f, const std::string& s, std::vector<token_id>& out) {
    out.clear();
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t j = s.find_first_of(", ", i);
        if (j == std::string::npos) j = s.size();
        const std::string item = s.substr(i, j - i);
        if (!item.empty()) {
            errno = 0;
            char* end = nullptr;
            const long v = std::strtol(item.c_str(), &end, 10);
            if (*end != '\0' || errno == ERANGE || v < 0 || v > std::numeric_limits<token_id>::max())
                throw option_error(std::string(f.name) + " item", item, "a non-negative token id");
            out.push_back(static_cast<token_id>(v));
        }
        i = j + 1;
    }
}

// Token ids against a vocabulary of V.
inline void check_ids(const field_info& f, const std::vector<token_id>& ids, std::size_t vocab) {
    for (token_id v : ids)
        if (v < 0 || static_cast<std::size_t>(v) >= vocab)
            throw option_error(std::string(f.name) + " item", std::to_string(v),
                               "a token id in [0, " + std::to_string(vocab) + ")");
}

}  // namespace ddiff::runtime
