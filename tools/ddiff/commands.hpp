// The subcommands of the ddiff program, one file each; main.cpp declares their flags (from
// their option fields) and runs the one given.
#pragma once

#include <memory>
#include <string>

#include <ddiff/runtime/session.hpp>

#include "cli_fields.hpp"

namespace ddiff::cli {

class command {
public:
    virtual ~command() = default;
    virtual const char* name() const = 0;
    virtual const char* summary() const = 0;
    virtual std::string footer() const { return {}; }
    // Every option field of the command (defaults as set now).
    virtual void fields(const field_visitor& v) = 0;
    // After the given flags were parsed into the fields.
    virtual int run(const given_flags& given) = 0;
};

std::unique_ptr<command> make_generate();
std::unique_ptr<command> make_eval();

// The shipped model when it is present (build tree or installed data directory), else the oracle.
std::string default_model();

// runtime::session::open, compiled once (session.cpp: the models are instantiated there only).
runtime::session open_session(const runtime::model_options& o);

}  // namespace ddiff::cli
