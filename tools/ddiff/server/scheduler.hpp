// ddiff serve: the scheduler. One thread owns the model (the session): requests wait in a
// bounded queue, and the rows of compatible requests (the same batch key: decode options but
// the seed, input length and layout) are decoded together as one batch, one row per choice
// with its own seed and input, so that a batched answer equals the same request decoded alone.
// Each step of each row is checked against its request: a client that went away, a deadline
// passed or a shutdown stops the row at that step (the decoder's callback returns false); so
// does a row whose answer is already final (an EOS inside its committed prefix, or a stop
// string the streaming thread found).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <ddiff/runtime/session.hpp>

#include "metrics.hpp"
#include "request.hpp"

namespace ddiff::serve {

using clock_type = std::chrono::steady_clock;

enum class stop_reason : int { none = 0, disconnect, timeout, shutdown };

// One step of one choice, copied out of the decoder for a streaming client.
struct step_copy {
    std::size_t choice = 0;
    std::uint32_t step = 0;
    std::size_t nfe = 0;
    std::vector<token_id> region;         // the generated positions after the step
    std::vector<std::size_t> committed;   // positions (relative to the region) committed at this step
    double elapsed = 0.0;                 // seconds since the batch started
};

struct choice_result {
    std::vector<token_id> region;  // the generated positions at the end
    std::size_t nfe = 0, steps = 0;  // model calls of the batch until this row's last step; its steps
    bool settled = false;           // stopped early because its answer was final
};

// One request in the scheduler. The HTTP thread that owns it waits for `state::done`; the
// scheduler touches `fd` only while the job is not done, and the HTTP thread keeps the
// connection open until then.
class job {
public:
    job(parsed_request r, int client_fd, clock_type::time_point deadline_)
        : req(std::move(r)), fd(client_fd), arrived(clock_type::now()), deadline(deadline_),
          settle(new std::atomic<bool>[req.n]) {
        for (std::size_t i = 0; i < req.n; ++i) settle[i] = false;
    }
    const parsed_request req;
    const int fd;  // the client's socket, polled for a disconnect (-1: none)
    const clock_type::time_point arrived, deadline;
    std::atomic<int> stop{0};                    // a stop_reason, set by either side
    std::unique_ptr<std::atomic<bool>[]> settle;  // per choice: the streaming thread found a stop string

    enum class state { queued, running, done };
    // Guarded by m:
    std::mutex m;
    std::condition_variable cv;
    state st = state::queued;
    std::deque<step_copy> events;  // streaming only
    std::vector<choice_result> choices;
    std::optional<api_error> error;
    double queue_seconds = 0.0, decode_seconds = 0.0;
    std::size_t batch_rows = 0;
};

struct scheduler_options {
    std::size_t max_queue = 64;  // requests waiting (not counting the running batch)
    std::size_t max_batch = 8;   // rows of one batch (a request of n choices counts n)
};

class scheduler {
public:
    scheduler(runtime::session& s, const model_facts& facts, scheduler_options o, metrics& m);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    enum class admit { ok, full, closed };
    admit submit(const std::shared_ptr<job>& j);
    // Removes a job still waiting in the queue (its client left or its deadline passed):
    // true if it was there (it is then done with `error`, when given).
    bool withdraw(const std::shared_ptr<job>& j, std::optional<api_error> error);
    // Refuses new requests, ends the queued ones with 503; the running batch finishes, or with
    // cancel_running stops at its next step.
    void shutdown(bool cancel_running);
    // Waits for the scheduler thread to end (after shutdown).
    void join();
    bool closed() const;
    std::size_t queue_depth() const;
    std::size_t running_rows() const;
    // Seconds a client told "queue full" should wait (an estimate from recent batches).
    int retry_after() const;

private:
    void loop();
    void run_batch(std::vector<std::shared_ptr<job>>& batch);
    static void finish(job& j, std::optional<api_error> error);

    runtime::session& session_;
    const model_facts& facts_;
    scheduler_options opt_;
    metrics& metrics_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<job>> queue_;
    std::vector<std::shared_ptr<job>> running_;
    std::size_t running_rows_ = 0;
    bool closing_ = false;
    double batch_seconds_ = 0.5;  // moving average of a batch's duration
    std::thread thread_;
};

// The HTTP status and error of a request stopped for `r`.
api_error stopped_error(stop_reason r);

}  // namespace ddiff::serve
