// PC-sampler (NEUIR/PC-Sampler generate.py pc_sampler_function): position-aware calibration
// c = exp(-lambda i) min(-p log(f[x^] + 1e-9), alpha), p = untempered softmax of the raw logits
// at x^, i = offset inside the block, f = background token frequencies (from a corpus).
// Defaults lambda = 1, alpha = 1 (the official function's); d2Cache's variant is lambda = 0,
// alpha = 10.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"

namespace ddiff::remask {

struct pc_sampler {
    using remask_concept = remask_tag;
    static constexpr const char* name = "pc_sampler";
    static constexpr ddiff::reads reads = reads_none;
    std::vector<double> frequency;  // (vocab) background frequencies, summing to about 1
    double lambda = 1.0;
    double alpha = 1.0;

    pc_sampler() = default;
    explicit pc_sampler(std::vector<double> freq, double lambda_ = 1.0, double alpha_ = 1.0)
        : frequency(std::move(freq)), lambda(lambda_), alpha(alpha_) {
        ddiff::detail::require(lambda >= 0.0, name, "lambda", lambda, ">= 0");
        ddiff::detail::require(alpha > 0.0, name, "alpha", alpha, "> 0");
        for (double f : frequency)
            ddiff::detail::require(f >= 0.0 && f <= 1.0, name, "frequency", f, "a probability in [0, 1]");
    }

    double score(const position_view& v, const step_info& s, const counter_rng&) const {
        const auto tok = static_cast<std::size_t>(v.token);
        if (tok >= frequency.size())
            ddiff::detail::fail<shape_error>(name, ": token ", v.token, " has no background frequency (table of ",
                                             frequency.size(), "), expected one per vocabulary entry");
        const double offset = static_cast<double>(v.position - std::min(v.position, s.block_begin));
        return std::exp(-lambda * offset) * std::min(-v.raw_probability * std::log(frequency[tok] + 1e-9), alpha);
    }
};

}  // namespace ddiff::remask
