// Typed exceptions: every bad input names what was wrong and what was expected.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ddiff {

// Base of every exception ddiff throws on bad input.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A parameter outside its valid range (t outside [0, 1], steps = 0, eps <= 0, ...).
class invalid_argument : public error {
public:
    using error::error;
};

// Tensor shapes or sizes that do not agree.
class shape_error : public error {
public:
    using error::error;
};

// A corrupt or inconsistent file (safetensors header, JSON, text corpus).
class format_error : public error {
public:
    using error::error;
};

// A configuration value that is unknown or unsupported.
class config_error : public error {
public:
    using error::error;
};

// A file that cannot be opened or read.
class io_error : public error {
public:
    using error::error;
};

namespace detail {
template <class E = invalid_argument, class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
    std::ostringstream os;
    os.precision(17);
    (os << ... << std::forward<Parts>(parts));
    throw E(os.str());
}

// Throws invalid_argument "<where>: <name> = <value>, expected <what>" unless ok.
template <class T>
void require(bool ok, const char* where, const char* name, const T& value, const char* expected) {
    if (!ok) fail<invalid_argument>(where, ": ", name, " = ", value, ", expected ", expected);
}
}  // namespace detail

}  // namespace ddiff
