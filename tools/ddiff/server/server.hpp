// ddiff serve: the HTTP layer (cpp-httplib): routes, authentication, errors, Server-Sent
// Events, the page, and the shutdown on SIGINT / SIGTERM. The model is reached only through
// the session the caller opened (tools/ddiff/session.cpp), so this translation unit compiles
// neither a model nor a decoder.
#pragma once

#include <string>

#include <ddiff/runtime/session.hpp>

#include "request.hpp"
#include "scheduler.hpp"

namespace ddiff::serve {

struct server_options {
    std::string host = "127.0.0.1";
    int port = 8080;             // 0: any free port (printed)
    std::string api_key;         // empty: no authentication
    double timeout = 60.0;       // seconds from arrival to answer (0: none)
    std::size_t max_body = 1 << 20;
    limits lim;
    scheduler_options sched;
};

// Serves until SIGINT or SIGTERM; returns the exit code. Prints "ddiff serve: listening on
// http://HOST:PORT ..." on stdout once the socket is bound.
int run_server(runtime::session& session, const model_facts& model, const server_options& o);

}  // namespace ddiff::serve
