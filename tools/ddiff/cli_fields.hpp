// The command line over the run-time front end's option fields (ddiff/runtime/fields.hpp):
// every field of an options struct becomes a flag --name (with '-' for '_'), its help the
// field's help plus its default; values are parsed and range-checked by the field itself, so
// the program and the server report the same errors.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ddiff/runtime/fields.hpp>

namespace ddiff::cli {

// A usage error: printed as one line, exit code 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline std::string text_of(bool) { return ""; }
inline std::string text_of(const std::string& s) { return s; }
inline std::string text_of(double v) { return runtime::detail::format_number(v); }
inline std::string text_of(const std::optional<double>& v) { return v ? text_of(*v) : ""; }
inline std::string text_of(const std::vector<token_id>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}
template <class T>
    requires std::is_integral_v<T>
std::string text_of(T v) {
    return std::to_string(v);
}

// Collects the flags of one subcommand and applies them to options structs after parsing.
class flags {
public:
    explicit flags(CLI::App& app) : app_(&app) {}

    // Declares the flags of every field of `options` (with its current values as defaults).
    template <class Options>
    void declare(Options& options) {
        options.for_each_field([&](const runtime::field_info& f, auto& value) { declare_one(f, value); });
    }

    // After parsing: every given flag of `options` parsed into its field (option_error on a bad value).
    template <class Options>
    void apply(Options& options) const {
        options.for_each_field([&](const runtime::field_info& f, auto& value) {
            if (!given(f.flag())) return;
            const auto it = text_.find(f.flag());
            runtime::parse_field(f, it == text_.end() ? std::string() : it->second, value);  // a switch has no text
        });
    }

    bool given(const std::string& flag) const { return app_->count("--" + flag) > 0; }

private:
    template <class T>
    void declare_one(const runtime::field_info& f, T& value) {
        const std::string name = "--" + f.flag();
        std::string help(f.help);
        if constexpr (std::is_same_v<T, bool>) {
            app_->add_flag(name)->description(help);
        } else {
            const std::string def = text_of(value);
            if (!def.empty()) help += " (default: " + def + ")";
            if (!f.choices.empty()) {
                help += "\n  one of:";
                for (auto c : f.choices) help += " " + std::string(c);
            }
            auto* o = app_->add_option(name, text_[f.flag()], help);
            if (!f.meta.empty()) o->type_name(std::string(f.meta));
        }
    }

    CLI::App* app_;
    std::map<std::string, std::string> text_;  // flag -> text given
};

// Runs CLI11's parser, turning its errors into one-line usage errors in ddiff's words.
inline void parse(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        throw;
    } catch (const CLI::ParseError& e) {
        throw usage_error(e.what());
    }
}

// Unknown flags (the subcommand allows extras so that this message names them).
inline void reject_extras(const CLI::App& sub, const std::string& command) {
    const auto extra = sub.remaining();
    if (!extra.empty()) {
        const std::string& a = extra.front();
        throw usage_error(command + ": " + (a.rfind("-", 0) == 0 ? "unknown option '" : "unexpected argument '") + a +
                          "' (see " + command + " --help)");
    }
}

}  // namespace ddiff::cli
