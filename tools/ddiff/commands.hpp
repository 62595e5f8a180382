// The subcommands of the ddiff program, one file each; main.cpp picks one.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include <ddiff/runtime/session.hpp>

namespace ddiff::cli {

class command {
public:
    virtual ~command() = default;
    virtual bool selected() const = 0;
    virtual int run() = 0;
};

std::unique_ptr<command> make_generate(CLI::App& app);
std::unique_ptr<command> make_eval(CLI::App& app);

// The shipped model when it is present (build tree or installed data directory), else the oracle.
std::string default_model();

// runtime::session::open, compiled once (session.cpp: the models are instantiated there only).
runtime::session open_session(const runtime::model_options& o);

}  // namespace ddiff::cli
