// The ddiff program: subcommands over the library's run-time front end (ddiff/runtime/).
// Parsing is CLI11's; every option is a field of the runtime's options structs, so its range
// and errors are the library's. Exit codes: 0 ok, 1 an error while running, 2 a usage error.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

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
}  // namespace ddiff::cli

int main(int argc, char** argv) {
    using namespace ddiff;
    CLI::App app("Discrete diffusion language models on a CPU: generate text, score it.", "ddiff");
    app.require_subcommand(1);
    const auto generate = cli::make_generate(app);
    const auto eval = cli::make_eval(app);
    std::string sub;
    try {
        bool known = false;
        for (const auto* c : app.get_subcommands([](CLI::App*) { return true; }))
            known = known || (argc >= 2 && c->get_name() == argv[1]);
        if (argc >= 2 && argv[1][0] != '-' && !known)
            throw cli::usage_error(std::string("ddiff: unknown command '") + argv[1] + "' (see ddiff --help)");
        if (argc >= 2) sub = argv[1];
        cli::parse(app, argc, argv);
        for (const auto* c : {generate.get(), eval.get()})
            if (c->selected()) return const_cast<cli::command*>(c)->run();
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
