// The step clock of the decoder: which times each step of a block moves between. A fixed plan
// of S steps per block runs t_j = 1 - j / S -> s = 1 - (j + 1) / S; an adaptive sampler (a
// threshold rule, first-hitting) has no plan: each row keeps its own time, which the sampler
// may move (first-hitting), with s = 0, and the block runs until it is full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ddiff/core/concepts.hpp"

namespace ddiff {

class step_clock {
public:
    step_clock(bool adaptive, std::uint32_t steps_per_block, std::size_t rows)
        : adaptive_(adaptive), steps_(steps_per_block), row_time_(rows, 1.0) {}

    void start_block() {
        j_ = 0;
        std::fill(row_time_.begin(), row_time_.end(), 1.0);
    }
    void advance() { ++j_; }

    bool adaptive() const noexcept { return adaptive_; }
    std::uint32_t step_in_block() const noexcept { return j_; }
    std::uint32_t steps_per_block() const noexcept { return steps_; }
    bool plan_done() const noexcept { return !adaptive_ && j_ >= steps_; }
    bool last() const noexcept { return adaptive_ || j_ + 1 >= steps_; }
    double* row_time(std::size_t row) noexcept { return &row_time_[row]; }

    // The time the model is called at for a row.
    double t(std::size_t row) const noexcept {
        return adaptive_ ? row_time_[row] : 1.0 - static_cast<double>(j_) / steps_;
    }
    double s() const noexcept { return adaptive_ ? 0.0 : 1.0 - static_cast<double>(j_ + 1) / steps_; }

    template <class Schedule>
    step_times times(const Schedule& schedule, std::size_t row) const {
        const double t_ = t(row), s_ = s(), a_t = schedule.alpha(t_);
        return {.t = t_,
                .s = s_,
                .alpha_t = a_t,
                .alpha_s = schedule.alpha(s_),
                .sigma_prime_t = t_ > 0.0 ? -schedule.alpha_prime(t_) / a_t : 0.0};
    }

private:
    bool adaptive_;
    std::uint32_t steps_;
    std::uint32_t j_ = 0;
    std::vector<double> row_time_;
};

}  // namespace ddiff
