// The commands' options as the command line sees them, without CLI11 (only main.cpp parses):
// a command lists its option fields (ddiff/runtime/fields.hpp) through a field_visitor; main.cpp
// declares a flag --name (with '-' for '_') per field and parses the given text into it, so
// the program and the server check values with the same code and report the same errors.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <ddiff/runtime/fields.hpp>

namespace ddiff::cli {

// A usage error: printed as one line, exit code 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A reference to one option value of any field type.
// (std::size_t is std::uint64_t on the 64-bit platforms ddiff builds on.)
static_assert(std::is_same_v<std::size_t, std::uint64_t>, "ddiff cli: expected a 64-bit std::size_t");
using field_ref = std::variant<bool*, std::string*, double*, std::optional<double>*, std::vector<token_id>*,
                               std::uint32_t*, std::uint64_t*>;
using field_visitor = std::function<void(const runtime::field_info&, field_ref)>;

// Every field of an options struct, as field_refs.
template <class Options>
void visit_fields(Options& o, const field_visitor& v) {
    o.for_each_field([&](const runtime::field_info& f, auto& value) { v(f, field_ref(&value)); });
}

// The flags given on the command line.
using given_flags = std::set<std::string>;

inline std::string text_of(const field_ref& r) {
    return std::visit(
        [](auto* p) -> std::string {
            using T = std::remove_pointer_t<decltype(p)>;
            if constexpr (std::is_same_v<T, bool>)
                return "";
            else if constexpr (std::is_same_v<T, std::string>)
                return *p;
            else if constexpr (std::is_same_v<T, double>)
                return runtime::detail::format_number(*p);
            else if constexpr (std::is_same_v<T, std::optional<double>>)
                return *p ? runtime::detail::format_number(**p) : "";
            else if constexpr (std::is_same_v<T, std::vector<token_id>>) {
                std::string s;
                for (std::size_t i = 0; i < p->size(); ++i) s += (i ? "," : "") + std::to_string((*p)[i]);
                return s;
            } else
                return std::to_string(*p);
        },
        r);
}

inline void parse_into(const runtime::field_info& f, const std::string& text, const field_ref& r) {
    std::visit([&](auto* p) { runtime::parse_field(f, text, *p); }, r);
}

}  // namespace ddiff::cli
