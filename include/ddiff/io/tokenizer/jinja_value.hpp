// Values of the chat-template interpreter (io/tokenizer/chat_template.hpp): the Python objects
// a Jinja2 template sees (None, bool, int, float, str, list, dict, callables, jinja2's Undefined)
// with Python's semantics for truth, equality, ordering, str() / repr() and json.dumps, since a
// rendering must be byte-identical to jinja2's.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ddiff/core/error.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io::jinja {

struct value;
struct dict_object;
using list_ptr = std::shared_ptr<std::vector<value>>;
using dict_ptr = std::shared_ptr<dict_object>;
using kwargs = std::vector<std::pair<std::string, value>>;
using function = std::function<value(std::vector<value>& args, kwargs& kw)>;

struct value {
    enum class kind : std::uint8_t { undefined, none, boolean, integer, floating, string, list, dict, function };
    kind k = kind::undefined;
    bool b = false;
    long long i = 0;
    double f = 0;
    std::string s;  // string; for undefined, the name that was looked up (messages)
    list_ptr l;
    dict_ptr d;
    std::shared_ptr<function> fn;

    static value undefined(std::string name = {}) {
        value v;
        v.s = std::move(name);
        return v;
    }
    static value none() {
        value v;
        v.k = kind::none;
        return v;
    }
    static value boolean(bool x) {
        value v;
        v.k = kind::boolean;
        v.b = x;
        return v;
    }
    static value integer(long long x) {
        value v;
        v.k = kind::integer;
        v.i = x;
        return v;
    }
    static value floating(double x) {
        value v;
        v.k = kind::floating;
        v.f = x;
        return v;
    }
    static value string(std::string x) {
        value v;
        v.k = kind::string;
        v.s = std::move(x);
        return v;
    }
    static value list(std::vector<value> x = {}) {
        value v;
        v.k = kind::list;
        v.l = std::make_shared<std::vector<value>>(std::move(x));
        return v;
    }
    static value dict();  // defined below
    static value callable(function f) {
        value v;
        v.k = kind::function;
        v.fn = std::make_shared<function>(std::move(f));
        return v;
    }

    bool is_undefined() const noexcept { return k == kind::undefined; }
    bool is_none() const noexcept { return k == kind::none; }
    bool is_string() const noexcept { return k == kind::string; }
    bool is_number() const noexcept { return k == kind::integer || k == kind::floating || k == kind::boolean; }
    bool is_list() const noexcept { return k == kind::list; }
    bool is_dict() const noexcept { return k == kind::dict; }

    static value from_json(const nlohmann::ordered_json& j);
};

struct dict_object {
    std::vector<std::pair<std::string, value>> items;  // insertion order, as a Python dict
    bool is_namespace = false;                          // jinja2's namespace(): attributes can be set
    const value* find(std::string_view key) const {
        for (const auto& [k, v] : items)
            if (k == key) return &v;
        return nullptr;
    }
    void set(const std::string& key, value v) {
        for (auto& [k, old] : items)
            if (k == key) {
                old = std::move(v);
                return;
            }
        items.emplace_back(key, std::move(v));
    }
};

inline value value::dict() {
    value v;
    v.k = kind::dict;
    v.d = std::make_shared<dict_object>();
    return v;
}

inline value value::from_json(const nlohmann::ordered_json& j) {
    using t = nlohmann::ordered_json::value_t;
    switch (j.type()) {
        case t::null: return none();
        case t::boolean: return boolean(j.get<bool>());
        case t::number_integer: return integer(j.get<long long>());
        case t::number_unsigned: {
            const auto u = j.get<unsigned long long>();
            if (u > static_cast<unsigned long long>(INT64_MAX)) return floating(static_cast<double>(u));
            return integer(static_cast<long long>(u));
        }
        case t::number_float: return floating(j.get<double>());
        case t::string: return string(j.get<std::string>());
        case t::array: {
            value v = list();
            for (const auto& e : j) v.l->push_back(from_json(e));
            return v;
        }
        case t::object: {
            value v = dict();
            for (const auto& [k, e] : j.items()) v.d->items.emplace_back(k, from_json(e));
            return v;
        }
        default: ddiff::detail::fail<invalid_argument>("chat template: unsupported JSON value in the context");
    }
}

// Python's str.isspace() characters (what str.strip(), split() and jinja2's trim use).
inline bool py_isspace(char32_t c) noexcept {
    if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

inline const char* type_name(const value& v) {
    switch (v.k) {
        case value::kind::undefined: return "Undefined";
        case value::kind::none: return "NoneType";
        case value::kind::boolean: return "bool";
        case value::kind::integer: return "int";
        case value::kind::floating: return "float";
        case value::kind::string: return "str";
        case value::kind::list: return "list";
        case value::kind::dict: return "dict";
        case value::kind::function: return "function";
    }
    return "?";
}

inline bool truthy(const value& v) {
    switch (v.k) {
        case value::kind::undefined:
        case value::kind::none: return false;
        case value::kind::boolean: return v.b;
        case value::kind::integer: return v.i != 0;
        case value::kind::floating: return v.f != 0.0;
        case value::kind::string: return !v.s.empty();
        case value::kind::list: return !v.l->empty();
        case value::kind::dict: return !v.d->items.empty();
        case value::kind::function: return true;
    }
    return false;
}

inline double as_double(const value& v) {
    return v.k == value::kind::floating ? v.f : v.k == value::kind::boolean ? (v.b ? 1.0 : 0.0) : static_cast<double>(v.i);
}

// Python ==.
inline bool equal(const value& a, const value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.k != value::kind::floating && b.k != value::kind::floating)
            return (a.k == value::kind::boolean ? a.b : a.i) == (b.k == value::kind::boolean ? b.b : b.i);
        return as_double(a) == as_double(b);
    }
    if (a.k != b.k) return false;
    switch (a.k) {
        case value::kind::undefined:
        case value::kind::none: return true;
        case value::kind::string: return a.s == b.s;
        case value::kind::list:
            if (a.l->size() != b.l->size()) return false;
            for (std::size_t i = 0; i < a.l->size(); ++i)
                if (!equal((*a.l)[i], (*b.l)[i])) return false;
            return true;
        case value::kind::dict:
            if (a.d->items.size() != b.d->items.size()) return false;
            for (const auto& [k, v] : a.d->items) {
                const value* o = b.d->find(k);
                if (!o || !equal(v, *o)) return false;
            }
            return true;
        case value::kind::function: return a.fn == b.fn;
        default: return false;
    }
}

// Python repr() of a float: the shortest round-trip digits, positional for exponents in
// [-4, 16), else scientific with a two-digit exponent; "1.0", "0.1", "1e+16", "inf", "nan".
inline std::string float_repr(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    std::string sci(buf, r.ptr);  // "-1.2345e+02"
    const auto e = sci.find('e');
    const int exp = std::stoi(sci.substr(e + 1));
    std::string mant = sci.substr(0, e);
    const bool neg = mant[0] == '-';
    if (neg) mant.erase(0, 1);
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    std::string out;
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            if (static_cast<int>(digits.size()) <= exp + 1) {
                out = digits + std::string(static_cast<std::size_t>(exp + 1) - digits.size(), '0') + ".0";
            } else {
                out = digits.substr(0, static_cast<std::size_t>(exp + 1)) + "." + digits.substr(static_cast<std::size_t>(exp + 1));
            }
        } else {
            out = "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    }
    return neg ? "-" + out : out;
}

// Python repr() of a str.
inline std::string string_repr(const std::string& s) {
    const bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
    const char q = has_single && !has_double ? '"' : '\'';
    std::string out(1, q);
    std::size_t i = 0;
    while (i < s.size()) {
        const char32_t c = tok::next_char(s, i);
        if (c == static_cast<char32_t>(q) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) || c == 0xAD) {
            char b[16];
            std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
            out += b;
        } else {
            tok::append_utf8(out, c);  // printable (Python's isprintable covers the rest of what templates hold)
        }
    }
    out += q;
    return out;
}

std::string repr(const value& v);

// Python str() (what {{ x }} prints; jinja2's Undefined prints nothing).
inline std::string to_str(const value& v) {
    switch (v.k) {
        case value::kind::undefined: return "";
        case value::kind::none: return "None";
        case value::kind::boolean: return v.b ? "True" : "False";
        case value::kind::integer: return std::to_string(v.i);
        case value::kind::floating: return float_repr(v.f);
        case value::kind::string: return v.s;
        default: return repr(v);
    }
}

inline std::string repr(const value& v) {
    switch (v.k) {
        case value::kind::string: return string_repr(v.s);
        case value::kind::list: {
            std::string out = "[";
            for (std::size_t i = 0; i < v.l->size(); ++i) {
                if (i) out += ", ";
                out += repr((*v.l)[i]);
            }
            return out + "]";
        }
        case value::kind::dict: {
            if (v.d->is_namespace) return "<Namespace>";
            std::string out = "{";
            bool first = true;
            for (const auto& [k, e] : v.d->items) {
                if (!first) out += ", ";
                first = false;
                out += string_repr(k) + ": " + repr(e);
            }
            return out + "}";
        }
        case value::kind::function: return "<function>";
        default: return to_str(v);
    }
}

// Python json.dumps(x, ensure_ascii, indent, separators, sort_keys) (transformers' tojson filter).
struct json_options {
    bool ensure_ascii = false;
    std::optional<std::string> indent;  // None, or the indent unit
    std::string item_sep = ", ", key_sep = ": ";
    bool sort_keys = false;
};

inline void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    std::size_t i = 0;
    while (i < s.size()) {
        const char32_t c = tok::next_char(s, i);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
                    char b[16];
                    if (c >= 0x10000) {
                        const char32_t v = c - 0x10000;
                        std::snprintf(b, sizeof b, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
                    } else {
                        std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
                    }
                    out += b;
                } else {
                    tok::append_utf8(out, c);
                }
        }
    }
    out += '"';
}

inline void to_json(std::string& out, const value& v, const json_options& o, int depth) {
    const auto newline = [&](int d) {
        if (!o.indent) return;
        out += '\n';
        for (int k = 0; k < d; ++k) out += *o.indent;
    };
    switch (v.k) {
        case value::kind::none: out += "null"; return;
        case value::kind::boolean: out += v.b ? "true" : "false"; return;
        case value::kind::integer: out += std::to_string(v.i); return;
        case value::kind::floating:
            if (std::isnan(v.f)) out += "NaN";
            else if (std::isinf(v.f)) out += v.f > 0 ? "Infinity" : "-Infinity";
            else out += float_repr(v.f);
            return;
        case value::kind::string: json_string(out, v.s, o.ensure_ascii); return;
        case value::kind::list: {
            if (v.l->empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (std::size_t i = 0; i < v.l->size(); ++i) {
                if (i) out += o.item_sep;
                newline(depth + 1);
                to_json(out, (*v.l)[i], o, depth + 1);
            }
            newline(depth);
            out += ']';
            return;
        }
        case value::kind::dict: {
            if (v.d->items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<std::string, value>*> items;
            for (const auto& e : v.d->items) items.push_back(&e);
            if (o.sort_keys)
                std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
            out += '{';
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (i) out += o.item_sep;
                newline(depth + 1);
                json_string(out, items[i]->first, o.ensure_ascii);
                out += o.key_sep;
                to_json(out, items[i]->second, o, depth + 1);
            }
            newline(depth);
            out += '}';
            return;
        }
        case value::kind::undefined:
            ddiff::detail::fail<invalid_argument>("chat template: tojson of an undefined value", v.s.empty() ? "" : " '",
                                                  v.s, v.s.empty() ? "" : "'");
        case value::kind::function: ddiff::detail::fail<invalid_argument>("chat template: tojson of a function");
    }
}

}  // namespace ddiff::io::jinja
