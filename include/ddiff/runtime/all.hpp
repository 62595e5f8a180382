// The whole run-time front end in one include: options, registry, session, the model opener and
// the decode of every step rule (instantiated where decode() is called).
#pragma once

#include "ddiff/runtime/decode.hpp"
#include "ddiff/runtime/fields.hpp"
#include "ddiff/runtime/options.hpp"
#include "ddiff/runtime/registry.hpp"
#include "ddiff/runtime/session.hpp"
#include "ddiff/runtime/session_open.hpp"
