// Running a peer (PyTorch, Hugging Face tokenizers) as a child process of a benchmark.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace ddiff::bench {

// Runs argv with env and returns its stdout (empty on failure, with the reason in err; the child's
// stderr passes through).
inline std::string run_child(const std::vector<std::string>& args, const std::vector<std::string>& env, std::string& err) {
    int out[2];
    if (pipe(out) != 0) {
        err = "pipe failed";
        return {};
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    std::vector<char*> av, ev;
    for (const auto& a : args) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
    ev.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, av[0], &fa, nullptr, av.data(), ev.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    std::string text;
    if (rc == 0) {
        char buf[65536];
        for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, std::size_t(n));
    }
    close(out[0]);
    if (rc != 0) {
        err = std::string("cannot start ") + av[0] + ": " + std::strerror(rc);
        return {};
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        err = args[1] + " failed (status " + std::to_string(status) + "); its stderr is above";
        return {};
    }
    return text;
}

}  // namespace ddiff::bench
