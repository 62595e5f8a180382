// The one translation unit of the program that opens models (it instantiates every model).
#include <ddiff/runtime/session_open.hpp>

#include "commands.hpp"

namespace ddiff::cli {
runtime::session open_session(const runtime::model_options& o) { return runtime::session::open(o); }
}  // namespace ddiff::cli
