// Command-line options for the ddiff program: declared once with their help text, parsed
// strictly (an unknown flag or a bad value is a one-line error, exit code 2).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ddiff::cli {

// A usage error: printed as one line, exit code 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct option {
    std::string name;      // without the leading "--"
    std::string meta;      // value placeholder; empty for a switch
    std::string fallback;  // default value shown in --help
    std::string help;
};

class options {
public:
    options(std::string command, std::string summary, std::vector<option> spec)
        : command_(std::move(command)), summary_(std::move(summary)), spec_(std::move(spec)) {}

    // Parses argv[first..argc); throws usage_error on anything not in the spec.
    void parse(int argc, char** argv, int first) {
        for (int i = first; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "-h" || a == "--help") {
                help_ = true;
                continue;
            }
            if (a.rfind("--", 0) != 0) throw usage_error(command_ + ": unexpected argument '" + a + "'" + see());
            std::string name = a.substr(2), value;
            bool has_inline = false;
            if (const auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_inline = true;
            }
            const option* o = find(name);
            if (!o) throw usage_error(command_ + ": unknown option '--" + name + "'" + see());
            if (o->meta.empty()) {
                if (has_inline) throw usage_error(command_ + ": option '--" + name + "' takes no value");
                values_[name] = "1";
                continue;
            }
            if (!has_inline) {
                if (i + 1 >= argc) throw usage_error(command_ + ": option '--" + name + "' needs a value " + o->meta);
                value = argv[++i];
            }
            values_[name] = value;
        }
    }

    bool help() const { return help_; }
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    bool flag(const std::string& name) const { return has(name); }

    std::string str(const std::string& name) const {
        if (auto it = values_.find(name); it != values_.end()) return it->second;
        return spec_of(name).fallback;
    }

    // An integer in [lo, hi], or a usage error naming the option and the range.
    std::int64_t integer(const std::string& name, std::int64_t lo, std::int64_t hi) const {
        const std::string s = str(name);
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(s.c_str(), &end, 10);
        if (s.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
            throw usage_error(command_ + ": --" + name + " = '" + s + "', expected an integer in [" + std::to_string(lo) +
                              ", " + std::to_string(hi) + "]");
        return v;
    }

    // A finite number in [lo, hi].
    double number(const std::string& name, double lo, double hi) const {
        const std::string s = str(name);
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0' || !(v >= lo && v <= hi))
            throw usage_error(command_ + ": --" + name + " = '" + s + "', expected a number in [" + fmt(lo) + ", " +
                              fmt(hi) + "]");
        return v;
    }

    // One of the listed choices.
    std::string choice(const std::string& name, const std::vector<std::string>& allowed) const {
        const std::string s = str(name);
        for (const auto& a : allowed)
            if (a == s) return s;
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        throw usage_error(command_ + ": --" + name + " = '" + s + "', expected one of: " + list);
    }

    std::string usage() const {
        std::string out = "usage: " + command_ + " [options]\n\n" + summary_ + "\n\noptions:\n";
        for (const auto& o : spec_) {
            std::string head = "  --" + o.name + (o.meta.empty() ? "" : " " + o.meta);
            if (head.size() < 28) head.resize(28, ' ');
            else head += "\n" + std::string(28, ' ');
            out += head + o.help + (o.fallback.empty() ? "" : " (default: " + o.fallback + ")") + "\n";
        }
        out += "  --help                    show this help\n";
        return out;
    }

private:
    static std::string fmt(double x) {
        std::string s = std::to_string(x);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }
    std::string see() const { return " (see " + command_ + " --help)"; }
    const option* find(const std::string& name) const {
        for (const auto& o : spec_)
            if (o.name == name) return &o;
        return nullptr;
    }
    const option& spec_of(const std::string& name) const {
        if (const option* o = find(name)) return *o;
        throw std::logic_error("ddiff cli: option --" + name + " is not declared");
    }

    std::string command_, summary_;
    std::vector<option> spec_;
    std::map<std::string, std::string> values_;
    bool help_ = false;
};

}  // namespace ddiff::cli
