// The ddiff program: subcommands over the library's run-time front end (ddiff/runtime/).
// Parsing is CLI11's, in this file only; every flag is a field of a command's options, parsed
// and range-checked by the field (cli_fields.hpp). Exit codes: 0 ok, 1 an error while running,
// 2 a usage error.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <map>

#include <ddiff/core/error.hpp>
#include <ddiff/runtime/fields.hpp>

#include "cli_fields.hpp"
#include "commands.hpp"

namespace ddiff::cli {
std::string default_model() {
    for (const char* dir : {DDIFF_SOURCE_MODEL_DIR, DDIFF_INSTALLED_MODEL_DIR})
        if (std::filesystem::exists(std::filesystem::path(dir) / "config.json")) return dir;
    return "markov";
}

namespace {
// One subcommand's flags: declared from its fields, the given text parsed into them after.
struct subcommand {
    command* cmd;
    CLI::App* app;
    std::map<std::string, std::string> text;  // flag -> the text given
    std::map<std::string, std::pair<runtime::field_info, field_ref>> field;

    subcommand(CLI::App& parent, command& c) : cmd(&c), app(parent.add_subcommand(c.name(), c.summary())) {
        app->allow_extras();  // unknown flags are reported below, in ddiff's words
        const std::string footer = c.footer();
        if (!footer.empty()) app->footer(footer);
        c.fields([&](const runtime::field_info& f, field_ref r) {
            const std::string flag = f.flag(), name = "--" + flag;
            std::string help(f.help);
            field.insert_or_assign(flag, std::pair{f, r});
            if (std::holds_alternative<bool*>(r)) {
                app->add_flag(name)->description(help);
                return;
            }
            const std::string def = text_of(r);
            if (!def.empty()) help += " (default: " + def + ")";
            if (!f.choices.empty()) {
                help += "\n  one of:";
                for (auto ch : f.choices) help += " " + std::string(ch);
            }
            auto* o = app->add_option(name, text[flag], help);
            if (!f.meta.empty()) o->type_name(std::string(f.meta));
        });
    }

    int run() {
        const auto extra = app->remaining();
        const std::string who = std::string("ddiff ") + cmd->name();
        if (!extra.empty())
            throw usage_error(who + ": " + (extra.front().rfind("-", 0) == 0 ? "unknown option '" : "unexpected argument '") +
                              extra.front() + "' (see " + who + " --help)");
        given_flags given;
        for (auto& [flag, f] : field) {
            if (app->count("--" + flag) == 0) continue;
            given.insert(flag);
            parse_into(f.first, text[flag], f.second);
        }
        return cmd->run(given);
    }
};
}  // namespace
}  // namespace ddiff::cli

int main(int argc, char** argv) {
    using namespace ddiff;
    CLI::App app("Discrete diffusion language models on a CPU: generate text, score it, tokenize it.", "ddiff");
    app.require_subcommand(1);
    std::vector<std::unique_ptr<cli::command>> commands;
    commands.push_back(cli::make_generate());
    commands.push_back(cli::make_eval());
    commands.push_back(cli::make_tokenize());
    commands.push_back(cli::make_detokenize());
    commands.push_back(cli::make_inspect());
    commands.push_back(cli::make_serve());
    std::vector<cli::subcommand> subs;
    subs.reserve(commands.size());
    for (auto& c : commands) subs.emplace_back(app, *c);
    std::string sub = argc >= 2 ? argv[1] : "";
    try {
        bool known = false;
        for (const auto& s : subs) known = known || sub == s.cmd->name();
        if (argc >= 2 && sub[0] != '-' && !known)
            throw cli::usage_error("ddiff: unknown command '" + sub + "' (see ddiff --help)");
        try {
            app.parse(argc, argv);
        } catch (const CLI::CallForHelp&) {
            throw;
        } catch (const CLI::ParseError& e) {
            throw cli::usage_error(std::string("ddiff: ") + e.what());
        }
        for (auto& s : subs)
            if (s.app->parsed()) return s.run();
        return 2;
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const cli::usage_error& e) {
        std::cerr << e.what() << '\n';
        if (argc < 2) std::cerr << app.help();
        return 2;
    } catch (const runtime::option_error& e) {
        std::cerr << "ddiff " << sub << ": --" << runtime::field_info::flag_of(e.field()) << " = '" << e.value()
                  << "', expected " << e.expected() << '\n';
        return 2;
    } catch (const ddiff::error& e) {
        std::cerr << "ddiff: " << e.what() << '\n';
        return 1;
    }
}
