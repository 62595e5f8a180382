// The ddiff program as the server tests run it: `ddiff serve --port 0` started on a free
// loopback port (the port read from its first line), stopped with a signal; and `ddiff generate`
// run to completion for the output the server must equal.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../../tools/ddiff/server/listening.hpp"

extern char** environ;

namespace ddiff::test {

using json = nlohmann::json;

// Starts `program args...` with stdout (and, unless keep_stderr, stderr) on a pipe; returns the pid.
inline pid_t spawn(const std::vector<std::string>& argv, int& out_fd, bool merge_stderr) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // fork + exec rather than posix_spawn: the child dies with the test (a test killed by
    // ctest's timeout leaves no server behind).
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        if (merge_stderr) dup2(p[1], 2);
        execv(args[0], args.data());
        _exit(127);
    }
    const int rc = pid < 0 ? -1 : 0;
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        throw std::runtime_error("cannot start " + argv[0]);
    }
    out_fd = p[0];
    return pid;
}

// Runs a program to its end: its exit code and output (stdout, then stderr when merged).
struct run_result {
    int code = -1;
    std::string out;
};
inline run_result run(const std::vector<std::string>& argv, bool merge_stderr = false) {
    int fd = -1;
    const pid_t pid = spawn(argv, fd, merge_stderr);
    run_result r;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) != 0;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        r.out.append(buf, std::size_t(n));
    }
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// ddiff generate ... --print-ids --no-progress: the token ids of each sample line.
inline std::vector<std::vector<int>> cli_ids(std::vector<std::string> args) {
    args.insert(args.begin(), {DDIFF_PROGRAM, "generate"});
    args.insert(args.end(), {"--print-ids", "--no-progress"});
    const auto r = run(args);
    if (r.code != 0) throw std::runtime_error("ddiff generate failed: " + r.out);
    std::vector<std::vector<int>> rows;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream is(line);
        std::vector<int> ids;
        for (int v; is >> v;) ids.push_back(v);
        rows.push_back(std::move(ids));
    }
    return rows;
}

// ddiff generate ... --no-progress: stdout as printed.
inline std::string cli_text(std::vector<std::string> args) {
    args.insert(args.begin(), {DDIFF_PROGRAM, "generate"});
    args.push_back("--no-progress");
    const auto r = run(args);
    if (r.code != 0) throw std::runtime_error("ddiff generate failed: " + r.out);
    return r.out;
}

// A `ddiff serve` process on a free loopback port for the duration of a test.
class server_process {
public:
    explicit server_process(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {DDIFF_PROGRAM, "serve", "--port", "0"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        pid_ = spawn(argv, out_, /*merge_stderr=*/false);
        std::string line;
        port_ = ddiff::serve::read_listening_port(out_, std::chrono::seconds(120), line);
        if (port_ < 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            throw std::runtime_error("ddiff serve did not start: '" + line + "'");
        }
    }
    ~server_process() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        close(out_);
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    httplib::Client client(double read_timeout = 300) const {
        httplib::Client c("127.0.0.1", port_);
        c.set_tcp_nodelay(true);  // as curl and the OpenAI SDKs: else Nagle holds the body behind the headers (+40 ms)
        c.set_read_timeout(std::chrono::milliseconds(long(read_timeout * 1000)));
        c.set_write_timeout(std::chrono::seconds(30));
        return c;
    }
    // Sends `sig` and waits for the exit: the exit code, or 128 + the signal that killed it.
    int stop(int sig = SIGTERM) {
        kill(pid_, sig);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    // Resident memory (kB) of the server process.
    long rss_kb() const {
        std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
        for (std::string line; std::getline(f, line);)
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        return -1;
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    int port_ = 0;
};

// A Prometheus counter or gauge of GET /metrics (the sum of the lines whose name and labels
// start with `prefix`).
inline double metric(httplib::Client& c, const std::string& prefix) {
    const auto r = c.Get("/metrics");
    if (!r || r->status != 200) throw std::runtime_error("GET /metrics failed");
    double sum = 0;
    std::istringstream is(r->body);
    for (std::string line; std::getline(is, line);)
        if (line.rfind(prefix, 0) == 0) sum += std::stod(line.substr(line.rfind(' ') + 1));
    return sum;
}

// The events of a Server-Sent Events body: the `data:` payload of each, with its `event:` name.
struct sse_event {
    std::string event, data;
};
inline std::vector<sse_event> parse_sse(const std::string& body, bool& well_formed) {
    std::vector<sse_event> out;
    well_formed = true;
    std::size_t i = 0;
    while (i < body.size()) {
        const std::size_t end = body.find("\n\n", i);
        if (end == std::string::npos) {
            well_formed = false;  // an event not terminated by a blank line
            break;
        }
        sse_event e;
        std::istringstream is(body.substr(i, end - i));
        for (std::string line; std::getline(is, line);) {
            if (line.rfind("data: ", 0) == 0) e.data += line.substr(6);
            else if (line.rfind("event: ", 0) == 0) e.event = line.substr(7);
            else well_formed = false;
        }
        out.push_back(std::move(e));
        i = end + 2;
    }
    return out;
}

}  // namespace ddiff::test
