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
std::unique_ptr<command> make_tokenize();
std::unique_ptr<command> make_detokenize();
std::unique_ptr<command> make_inspect();

// The shipped model when it is present (build tree or installed data directory), else the oracle.
std::string default_model();

// Compiled once each: the models in family_*.cpp, the tokenizer engine in codec.cpp.
runtime::session open_session(const runtime::model_options& o);             // runtime::session::open
std::unique_ptr<runtime::text_codec> open_codec(const runtime::model_options& o);  // the tokenizer alone
std::string describe_model(const std::string& spec);  // ddiff inspect: what the files say, weights not loaded

}  // namespace ddiff::cli
