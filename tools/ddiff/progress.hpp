// A progress bar on stderr for runs longer than a second, when stderr is a terminal.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace ddiff::cli {

class progress_bar {
public:
    explicit progress_bar(bool enabled)
        : enabled_(enabled && isatty(fileno(stderr))), start_(std::chrono::steady_clock::now()) {}
    void update(double fraction, std::size_t item, std::size_t items) {
        if (!enabled_) return;
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        if (secs < 1.0) return;
        const int width = 30, filled = static_cast<int>(fraction * width + 0.5);
        std::fprintf(stderr, "\r[%s%s] sample %zu/%zu %5.1f%% %.1fs", std::string(std::size_t(filled), '#').c_str(),
                     std::string(std::size_t(width - filled), ' ').c_str(), item + 1, items, 100.0 * fraction, secs);
        shown_ = true;
    }
    ~progress_bar() {
        if (shown_) std::fprintf(stderr, "\n");
    }

private:
    bool enabled_, shown_ = false;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace ddiff::cli
