// Rotary position embedding, Hugging Face rotate-half layout: a cos/sin table per position,
// inv_freq[j] = theta^(-2j/hd) (j < hd/2), computed in double and rounded once to float.
// Copies share the table (every layer of a model holds the same one).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

class rope_table {
public:
    rope_table() = default;
    rope_table(std::size_t head_dim, std::size_t max_positions, double theta)
        : half_(head_dim / 2), max_positions_(max_positions) {
        ddiff::detail::require(head_dim >= 2 && head_dim % 2 == 0, "rope_table", "head_dim", head_dim,
                               "an even number >= 2");
        ddiff::detail::require(max_positions >= 1, "rope_table", "max_positions", max_positions, ">= 1");
        ddiff::detail::require(theta > 1.0, "rope_table", "theta", theta, "> 1");
        auto t = std::make_shared<table>();
        t->cos.resize(max_positions * half_);
        t->sin.resize(max_positions * half_);
        for (std::size_t p = 0; p < max_positions; ++p)
            for (std::size_t j = 0; j < half_; ++j) {
                const double inv = std::pow(theta, -2.0 * double(j) / double(head_dim));
                const double a = double(p) * inv;
                t->cos[p * half_ + j] = static_cast<float>(std::cos(a));
                t->sin[p * half_ + j] = static_cast<float>(std::sin(a));
            }
        t_ = std::move(t);
    }

    std::size_t head_dim() const noexcept { return 2 * half_; }
    std::size_t max_positions() const noexcept { return max_positions_; }
    const float* cos(std::size_t p) const noexcept { return t_->cos.data() + p * half_; }
    const float* sin(std::size_t p) const noexcept { return t_->sin.data() + p * half_; }

    void check_position(std::int64_t p) const {
        if (p < 0 || static_cast<std::size_t>(p) >= max_positions_)
            ddiff::detail::fail<invalid_argument>("rope: position ", p, " outside [0, ", max_positions_,
                                                  ") (the table's max_positions)");
    }

    // Rotates one head vector x (head_dim) at position p.
    template <class Arch = simd::default_arch>
    void apply(float* x, std::size_t p) const noexcept {
        simd::rope_rotate_half<Arch>(x, cos(p), sin(p), half_);
    }

private:
    struct table {
        std::vector<float> cos, sin;  // (max_positions, head_dim / 2)
    };
    std::size_t half_ = 0, max_positions_ = 0;
    std::shared_ptr<const table> t_;
};

}  // namespace ddiff::nn
