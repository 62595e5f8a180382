// A small persistent fork-join pool (std::thread + C++20 atomic wait) for the GEMMs, the nn
// blocks and any other layer (core/ is the bottom layer, so every layer may use it): run(n, f)
// calls f(task, thread) for task 0..n-1 spread over the pool's threads and returns when all
// are done. Each thread owns a scratch buffer allocated once, at construction.
//
// Why std::thread and not OpenMP: the library is header-only and must not force -fopenmp (and
// its runtime) on consumers; the work is split into a few coarse pieces (row ranges, or GEMM
// units taken from an atomic counter), so a pool of a few persistent threads woken by a futex
// (std::atomic::wait/notify) is all that is needed, and it costs ~5-20 us per fork-join.
// Determinism: callers split work so that every output element is computed by the same
// instruction sequence whatever the thread count, so results do not depend on it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <thread>
#include <type_traits>
#include <vector>

#include "ddiff/core/error.hpp"

namespace ddiff {

class thread_pool {
public:
    // threads = total workers including the calling thread (>= 1).
    // scratch_bytes: per-thread scratch (64-byte aligned); the GEMM needs
    // simd::gemm_config<Arch>::scratch_bytes (390 KiB on AVX-512).
    explicit thread_pool(std::size_t threads = 1, std::size_t scratch_bytes = std::size_t{1} << 19) {
        ddiff::detail::require(threads >= 1 && threads <= 256, "thread_pool", "threads", threads,
                               "in [1, 256]");
        n_ = threads;
        scratch_bytes_ = (scratch_bytes + 63) / 64 * 64;
        if (scratch_bytes_ > 0)
            scratch_.reset(static_cast<std::byte*>(
                ::operator new(scratch_bytes_ * n_, std::align_val_t{64})));
        for (std::size_t t = 1; t < n_; ++t) workers_.emplace_back([this, t] { worker(t); });
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    ~thread_pool() {
        stop_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto& w : workers_) w.join();
    }

    std::size_t size() const noexcept { return n_; }

    std::span<std::byte> scratch(std::size_t thread) noexcept {
        return {scratch_.get() + thread * scratch_bytes_, scratch_bytes_};
    }

    // Calls f(i, thread) for i in [0, tasks); task i runs on thread i % min(size(), tasks) (a
    // static schedule, so the assignment is reproducible). Not reentrant: call it from one
    // thread at a time, and not from inside a task.
    template <class F>
    void run(std::size_t tasks, F&& f) {
        if (tasks == 0) return;
        if (n_ == 1 || tasks == 1) {
            for (std::size_t i = 0; i < tasks; ++i) f(i, std::size_t{0});
            return;
        }
        const std::size_t active = std::min(n_, tasks);
        // A function pointer + context instead of std::function: no allocation per call.
        using Fn = std::remove_reference_t<F>;
        call_ = [](void* ctx, std::size_t i, std::size_t t) { (*static_cast<Fn*>(ctx))(i, t); };
        ctx_ = const_cast<void*>(static_cast<const void*>(std::addressof(f)));
        tasks_ = tasks;
        active_ = active;
        error_ = nullptr;
        pending_.store(active - 1, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        execute(0);
        // Spin briefly (the other half usually finishes within microseconds), then sleep.
        for (int spin = 0; spin < 4000 && pending_.load(std::memory_order_acquire) != 0; ++spin) {
        }
        for (std::size_t p; (p = pending_.load(std::memory_order_acquire)) != 0;)
            pending_.wait(p, std::memory_order_acquire);
        if (error_) std::rethrow_exception(error_);
    }

private:
    void execute(std::size_t t) noexcept {
        try {
            for (std::size_t i = t; i < tasks_; i += active_) call_(ctx_, i, t);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            if (!error_) error_ = std::current_exception();  // the first failure is reported
        }
    }

    void worker(std::size_t t) {
        unsigned long long seen = 0;
        for (;;) {
            unsigned long long g;
            // Spin ~10-20 us first: the next fork of a layer's op sequence usually comes sooner
            // than a futex wake-up would take.
            for (int spin = 0; spin < 20000; ++spin) {
                g = generation_.load(std::memory_order_acquire);
                if (g != seen) break;
            }
            while ((g = generation_.load(std::memory_order_acquire)) == seen)
                generation_.wait(seen, std::memory_order_acquire);
            seen = g;
            if (stop_.load(std::memory_order_relaxed)) return;
            if (t < active_) {
                execute(t);
                if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
            }
        }
    }

    std::size_t n_ = 1;
    std::vector<std::thread> workers_;
    struct aligned_free {
        void operator()(std::byte* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
    };
    std::unique_ptr<std::byte, aligned_free> scratch_;
    std::size_t scratch_bytes_ = 0;
    void (*call_)(void*, std::size_t, std::size_t) = nullptr;
    void* ctx_ = nullptr;
    std::size_t tasks_ = 0;
    std::size_t active_ = 0;
    std::mutex error_mutex_;
    std::exception_ptr error_;
    std::atomic<unsigned long long> generation_{0};
    std::atomic<std::size_t> pending_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace ddiff
