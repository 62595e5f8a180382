// The first line `ddiff serve` prints on stdout, "ddiff serve: listening on http://127.0.0.1:PORT
// (...)", read back by a parent process (the tests' server_process, bench_serve) to learn the port
// it chose for --port 0.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>

namespace ddiff::serve {

// Reads fd up to the first newline or until `timeout` passes; `line` gets what was read. Returns the
// port, or -1 when the line is not the listening line (the server failed, or is too slow).
inline int read_listening_port(int fd, std::chrono::seconds timeout, std::string& line) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (line.find('\n') == std::string::npos) {
        pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) break;
        char c;
        if (read(fd, &c, 1) != 1) break;
        line.push_back(c);
    }
    std::smatch m;
    if (!std::regex_search(line, m, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)"))) return -1;
    return std::stoi(m[1]);
}

}  // namespace ddiff::serve
