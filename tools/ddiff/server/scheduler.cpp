// ddiff serve: the scheduler thread (scheduler.hpp).
#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <ddiff/core/error.hpp>

#include "socket.hpp"

namespace ddiff::serve {

api_error stopped_error(stop_reason r) {
    api_error e;
    switch (r) {
        case stop_reason::timeout:
            e.status = 504;
            e.type = "timeout_error";
            e.code = "timeout";
            e.message = "the request took longer than this server's --timeout";
            break;
        case stop_reason::shutdown:
            e.status = 503;
            e.type = "server_error";
            e.code = "shutting_down";
            e.message = "the server is shutting down";
            break;
        default:
            e.status = 499;
            e.type = "invalid_request_error";
            e.code = "client_closed_request";
            e.message = "the client closed the connection";
            break;
    }
    return e;
}

namespace {
const char* reason_name(stop_reason r) {
    switch (r) {
        case stop_reason::disconnect: return "disconnect";
        case stop_reason::timeout: return "timeout";
        case stop_reason::shutdown: return "shutdown";
        default: return "none";
    }
}
}  // namespace

scheduler::scheduler(runtime::session& s, const model_facts& facts, scheduler_options o, metrics& m)
    : session_(s), facts_(facts), opt_(o), metrics_(m), thread_([this] { loop(); }) {}

scheduler::~scheduler() {
    shutdown(true);
    join();
}

scheduler::admit scheduler::submit(const std::shared_ptr<job>& j) {
    {
        std::lock_guard l(m_);
        if (closing_) return admit::closed;
        if (queue_.size() >= opt_.max_queue) return admit::full;
        queue_.push_back(j);
    }
    cv_.notify_all();
    return admit::ok;
}

void scheduler::finish(job& j, std::optional<api_error> error) {
    {
        std::lock_guard l(j.m);
        if (j.st == job::state::done) return;
        if (error) j.error = std::move(error);
        j.st = job::state::done;
    }
    j.cv.notify_all();
}

bool scheduler::withdraw(const std::shared_ptr<job>& j, std::optional<api_error> error) {
    {
        std::lock_guard l(m_);
        const auto it = std::find(queue_.begin(), queue_.end(), j);
        if (it == queue_.end()) return false;
        queue_.erase(it);
    }
    finish(*j, std::move(error));
    return true;
}

void scheduler::shutdown(bool cancel_running) {
    std::deque<std::shared_ptr<job>> queued;
    {
        std::lock_guard l(m_);
        closing_ = true;
        queued.swap(queue_);
        if (cancel_running)
            for (auto& j : running_) {
                int none = 0;
                j->stop.compare_exchange_strong(none, int(stop_reason::shutdown));
            }
    }
    cv_.notify_all();
    for (auto& j : queued) finish(*j, stopped_error(stop_reason::shutdown));
}

void scheduler::join() {
    if (thread_.joinable()) thread_.join();
}

bool scheduler::closed() const {
    std::lock_guard l(m_);
    return closing_;
}

std::size_t scheduler::queue_depth() const {
    std::lock_guard l(m_);
    return queue_.size();
}

std::size_t scheduler::running_rows() const {
    std::lock_guard l(m_);
    return running_rows_;
}

int scheduler::retry_after() const {
    std::lock_guard l(m_);
    const double batches = 1.0 + double(queue_.size()) / double(std::max<std::size_t>(1, opt_.max_batch));
    return std::max(1, int(std::ceil(batches * batch_seconds_)));
}

void scheduler::loop() {
    for (;;) {
        std::vector<std::shared_ptr<job>> batch;
        {
            std::unique_lock l(m_);
            cv_.wait(l, [&] { return !queue_.empty() || closing_; });
            if (queue_.empty()) return;  // closing, nothing left
            batch.push_back(queue_.front());
            queue_.pop_front();
            const std::string& key = batch.front()->req.batch_key;
            std::size_t rows = batch.front()->req.n;
            if (!key.empty())
                for (auto it = queue_.begin(); it != queue_.end() && rows < opt_.max_batch;) {
                    if ((*it)->req.batch_key == key && rows + (*it)->req.n <= opt_.max_batch) {
                        rows += (*it)->req.n;
                        batch.push_back(*it);
                        it = queue_.erase(it);
                    } else {
                        ++it;
                    }
                }
            running_ = batch;
            running_rows_ = rows;
        }
        const auto t0 = clock_type::now();
        run_batch(batch);
        const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
        std::lock_guard l(m_);
        running_.clear();
        running_rows_ = 0;
        batch_seconds_ = 0.8 * batch_seconds_ + 0.2 * secs;
    }
}

void scheduler::run_batch(std::vector<std::shared_ptr<job>>& batch) {
    // Requests that ended while they waited are not decoded.
    const auto now = clock_type::now();
    std::vector<std::shared_ptr<job>> jobs;
    for (auto& j : batch) {
        stop_reason r = stop_reason(j->stop.load());
        if (r == stop_reason::none && now >= j->deadline) r = stop_reason::timeout;
        if (r == stop_reason::none && peer_closed(j->fd)) r = stop_reason::disconnect;
        if (r != stop_reason::none) {
            for (std::size_t i = 0; i < j->req.n; ++i) metrics_.cancelled(reason_name(r));
            finish(*j, stopped_error(r));
        } else {
            jobs.push_back(j);
        }
    }
    if (jobs.empty()) return;

    // One row per choice.
    struct slot {
        job* j;
        std::size_t choice;
        std::size_t nfe = 0, steps = 0;
        bool settled = false;
    };
    std::vector<slot> slots;
    const parsed_request& first = jobs.front()->req;
    for (auto& j : jobs) {
        for (std::size_t i = 0; i < j->req.n; ++i) slots.push_back({j.get(), i});
        std::lock_guard l(j->m);
        j->st = job::state::running;
        j->queue_seconds = std::chrono::duration<double>(now - j->arrived).count();
    }
    // Rows decoded together: every slot, or, for an adaptive step rule over several blocks (the
    // rows of a batch would move each other's steps), one choice at a time, as the CLI's samples.
    const std::size_t group = first.batch_key.empty() ? 1 : slots.size();
    for (auto& j : jobs) {
        std::lock_guard l(j->m);
        j->batch_rows = group;
    }

    const std::vector<token_id>& eos = facts_.info.eos_ids;
    const token_id mask = facts_.info.mask;
    std::optional<api_error> failure;
    const auto t0 = clock_type::now();
    for (std::size_t g0 = 0; g0 < slots.size() && !failure; g0 += group) {
        const std::size_t rows = std::min(group, slots.size() - g0);
        {
            std::lock_guard l(m_);
            running_rows_ = rows;
        }
        runtime::decode_request dr;
        dr.options = first.decode.options;
        dr.prompt = first.decode.prompt;
        dr.canvas = first.decode.canvas;
        for (std::size_t b = g0; b < g0 + rows; ++b) {
            const parsed_request& r = slots[b].j->req;
            dr.seeds.push_back(r.decode.seeds[slots[b].choice]);
            if (jobs.size() > 1) dr.rows.push_back(r.decode.canvas ? *r.decode.canvas : r.decode.prompt);
        }
        const auto g_start = clock_type::now();
        auto last_t = g_start;
        std::uint32_t last_step = std::numeric_limits<std::uint32_t>::max();
        const runtime::step_callback callback = [&](const runtime::step_event& e) {
            const auto t = clock_type::now();
            if (e.step != last_step) {  // the first row of a new step: the previous one is over
                if (last_step != std::numeric_limits<std::uint32_t>::max())
                    metrics_.step_seconds(std::chrono::duration<double>(t - last_t).count());
                last_t = t;
                last_step = e.step;
            }
            slot& s = slots[g0 + e.row];
            job& j = *s.j;
            s.nfe = e.nfe;
            ++s.steps;
            if (j.stop.load() != 0) return false;
            if (t >= j.deadline) {
                int none = 0;
                j.stop.compare_exchange_strong(none, int(stop_reason::timeout));
                return false;
            }
            if (peer_closed(j.fd)) {
                int none = 0;
                j.stop.compare_exchange_strong(none, int(stop_reason::disconnect));
                return false;
            }
            const std::size_t begin = j.req.region_begin, len = j.req.region_length;
            const auto region = e.canvas.subspan(begin, len);
            if (j.req.stream) {
                step_copy c{.choice = s.choice, .step = e.step, .nfe = e.nfe,
                            .region = std::vector<token_id>(region.begin(), region.end()),
                            .committed = {},
                            .elapsed = std::chrono::duration<double>(t - g_start).count()};
                for (std::size_t p : e.committed)
                    if (p >= begin && p < begin + len) c.committed.push_back(p - begin);
                {
                    std::lock_guard l(j.m);
                    j.events.push_back(std::move(c));
                }
                j.cv.notify_all();
            }
            if (j.req.prefix_final) {
                // An EOS inside the committed prefix: the answer ends there and no later step changes it.
                for (std::size_t i = 0; i < len && region[i] != mask; ++i)
                    if (std::find(eos.begin(), eos.end(), region[i]) != eos.end()) {
                        s.settled = true;
                        return false;
                    }
                if (j.settle[s.choice].load()) {
                    s.settled = true;
                    return false;
                }
            }
            return true;
        };

        runtime::decode_result res;
        try {
            res = session_.decode(dr, callback);
        } catch (const ddiff::invalid_argument& e) {
            failure = api_error{422, scrub(std::string("the decoder refused the request: ") + e.what(), facts_),
                                "invalid_request_error", "", "decode_failed"};
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ddiff serve: internal error while decoding: %s\n", scrub(e.what(), facts_).c_str());
            failure = api_error{500, "internal error", "server_error", "", ""};
        }
        if (failure) break;
        metrics_.batch(rows, res.nfe, res.steps);
        const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
        for (std::size_t b = 0; b < rows; ++b) {
            slot& s = slots[g0 + b];
            job& j = *s.j;
            const stop_reason r = stop_reason(j.stop.load());
            if (r != stop_reason::none) metrics_.cancelled(reason_name(r));
            else if (s.settled) metrics_.cancelled("settled");
            std::lock_guard l(j.m);
            if (j.choices.size() != j.req.n) j.choices.resize(j.req.n);
            auto& c = j.choices[s.choice];
            const std::size_t L = res.tokens.shape(1);
            const token_id* row = res.tokens.data() + b * L;
            c.region.assign(row + j.req.region_begin, row + j.req.region_begin + j.req.region_length);
            c.nfe = s.nfe ? s.nfe : res.nfe;
            c.steps = s.steps;
            c.settled = s.settled;
            j.decode_seconds = secs;
        }
    }
    for (auto& j : jobs) {
        const stop_reason r = stop_reason(j->stop.load());
        finish(*j, failure ? failure : r != stop_reason::none ? std::optional(stopped_error(r)) : std::nullopt);
    }
}

}  // namespace ddiff::serve
