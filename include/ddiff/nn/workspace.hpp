// A workspace sized once: one 64-byte aligned arena handed out by a bump pointer, so the
// forward passes of the nn blocks never allocate. Each block states how much it needs
// (workspace_floats(max_tokens, threads)); take() throws shape_error when that was too little.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <span>

#include "ddiff/core/error.hpp"
#include "ddiff/core/thread_pool.hpp"

namespace ddiff::nn {

using ddiff::thread_pool;

class workspace {
public:
    workspace() = default;
    explicit workspace(std::size_t floats) : capacity_(round(floats)) {
        if (capacity_) data_.reset(static_cast<float*>(::operator new(capacity_ * sizeof(float), std::align_val_t{64})));
    }

    // n floats, 64-byte aligned, uninitialised.
    std::span<float> take(std::size_t n) {
        const std::size_t r = round(n);
        if (used_ + r > capacity_)
            ddiff::detail::fail<shape_error>("nn::workspace: need ", used_ + r, " floats, sized for ",
                                             capacity_, " (size it with the block's workspace_floats "
                                             "for the largest token count)");
        float* p = data_.get() + used_;
        used_ += r;
        return {p, n};
    }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t used() const noexcept { return used_; }
    std::size_t high_water() const noexcept { return high_; }

    // Restores the bump pointer on scope exit (a block's temporaries are released after it).
    class scope {
    public:
        explicit scope(workspace& ws) noexcept : ws_(ws), mark_(ws.used_) {}
        ~scope() {
            if (ws_.used_ > ws_.high_) ws_.high_ = ws_.used_;
            ws_.used_ = mark_;
        }
        scope(const scope&) = delete;
        scope& operator=(const scope&) = delete;

    private:
        workspace& ws_;
        std::size_t mark_;
    };

    // Rounds a float count up to whole 64-byte lines (what take() consumes).
    static constexpr std::size_t round(std::size_t n) noexcept { return (n + 15) / 16 * 16; }

private:
    struct aligned_free {
        void operator()(float* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
    };
    std::unique_ptr<float, aligned_free> data_;
    std::size_t capacity_ = 0, used_ = 0, high_ = 0;
};

namespace detail {
// Splits rows [0, rows) into one contiguous range per pool thread when the work is large enough
// to pay for a fork-join; f(r0, r1).
template <class F>
void parallel_rows(thread_pool& pool, std::size_t rows, std::size_t work_per_row, F&& f) {
    const std::size_t threads = (rows * work_per_row < 32768) ? 1 : std::min(pool.size(), rows);
    if (threads <= 1) {
        f(std::size_t{0}, rows);
        return;
    }
    pool.run(threads, [&](std::size_t t, std::size_t) { f(rows * t / threads, rows * (t + 1) / threads); });
}
}  // namespace detail

}  // namespace ddiff::nn
