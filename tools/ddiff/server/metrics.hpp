// ddiff serve: the counters of GET /metrics, in Prometheus' text exposition format (version
// 0.0.4): requests by endpoint and status, queue depth, tokens, model calls, steps, batches,
// cancelled rows, and histograms of the step and request latencies. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ddiff::serve {

class histogram {
public:
    explicit histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
    void observe(double v) {
        std::size_t i = 0;
        while (i < bounds_.size() && v > bounds_[i]) ++i;
        ++counts_[i];
        sum_ += v;
        ++n_;
    }
    void write(std::ostream& os, const std::string& name, const std::string& help) const {
        os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
        std::uint64_t cum = 0;
        for (std::size_t i = 0; i < bounds_.size(); ++i) {
            cum += counts_[i];
            os << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cum << '\n';
        }
        os << name << "_bucket{le=\"+Inf\"} " << n_ << '\n' << name << "_sum " << sum_ << '\n' << name << "_count " << n_ << '\n';
    }

private:
    std::vector<double> bounds_;
    std::vector<std::uint64_t> counts_;
    double sum_ = 0.0;
    std::uint64_t n_ = 0;
};

class metrics {
public:
    void request(const std::string& endpoint, int status) {
        std::lock_guard l(m_);
        ++requests_[{endpoint, status}];
    }
    void request_seconds(double s) {
        std::lock_guard l(m_);
        request_seconds_.observe(s);
    }
    void tokens(std::size_t prompt, std::size_t completion) {
        std::lock_guard l(m_);
        prompt_tokens_ += prompt;
        completion_tokens_ += completion;
    }
    void batch(std::size_t rows, std::size_t nfe, std::size_t steps) {
        std::lock_guard l(m_);
        ++batches_;
        batch_rows_ += rows;
        model_calls_ += nfe;
        steps_ += steps;
    }
    void step_seconds(double s) {
        std::lock_guard l(m_);
        step_seconds_.observe(s);
    }
    void cancelled(const std::string& reason) {
        std::lock_guard l(m_);
        ++cancelled_[reason];
    }
    void rejected_full() {
        std::lock_guard l(m_);
        ++rejected_full_;
    }
    std::string render(std::size_t queue_depth, std::size_t running_rows) const {
        std::lock_guard l(m_);
        std::ostringstream os;
        os << "# HELP ddiff_requests_total HTTP requests answered, by endpoint and status.\n"
              "# TYPE ddiff_requests_total counter\n";
        for (const auto& [k, v] : requests_)
            os << "ddiff_requests_total{endpoint=\"" << k.first << "\",status=\"" << k.second << "\"} " << v << '\n';
        auto counter = [&](const char* name, const char* help, auto v) {
            os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << v << '\n';
        };
        auto gauge = [&](const char* name, const char* help, auto v) {
            os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n" << name << ' ' << v << '\n';
        };
        gauge("ddiff_queue_depth", "Requests waiting for the model.", queue_depth);
        gauge("ddiff_running_rows", "Batch rows being decoded now.", running_rows);
        counter("ddiff_queue_rejected_total", "Requests refused with 503 because the queue was full.", rejected_full_);
        counter("ddiff_prompt_tokens_total", "Prompt tokens of finished requests.", prompt_tokens_);
        counter("ddiff_completion_tokens_total", "Completion tokens returned.", completion_tokens_);
        counter("ddiff_model_calls_total", "Model calls (NFE) of all batches.", model_calls_);
        counter("ddiff_decode_steps_total", "Decoder steps of all batches.", steps_);
        counter("ddiff_batches_total", "Batches decoded.", batches_);
        counter("ddiff_batch_rows_total", "Rows of all batches (one per choice).", batch_rows_);
        os << "# HELP ddiff_rows_cancelled_total Rows stopped before their last step, by reason.\n"
              "# TYPE ddiff_rows_cancelled_total counter\n";
        for (const char* r : {"disconnect", "timeout", "shutdown", "settled"}) {
            const auto it = cancelled_.find(r);
            os << "ddiff_rows_cancelled_total{reason=\"" << r << "\"} " << (it == cancelled_.end() ? 0 : it->second) << '\n';
        }
        step_seconds_.write(os, "ddiff_step_seconds", "Wall time of one decoder step of a batch.");
        request_seconds_.write(os, "ddiff_request_seconds", "Time from a completion request's arrival to its answer.");
        return os.str();
    }

private:
    mutable std::mutex m_;
    std::map<std::pair<std::string, int>, std::uint64_t> requests_;
    std::map<std::string, std::uint64_t> cancelled_;
    std::uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, model_calls_ = 0, steps_ = 0, batches_ = 0,
                  batch_rows_ = 0, rejected_full_ = 0;
    histogram step_seconds_{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}};
    histogram request_seconds_{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}};
};

}  // namespace ddiff::serve
