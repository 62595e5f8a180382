// Token and sequence types shared by every layer.
#pragma once

#include <cstdint>

#include "ddiff/core/xtensor.hpp"

namespace ddiff {

using token_id = std::int32_t;
using sequence = xt::xtensor<token_id, 1>;     // (len)
using token_batch = xt::xtensor<token_id, 2>;  // (batch, len)

// Probabilities over the vocabulary, one row per position: (len, vocab). float64 because the
// exact oracles and the categorical samplers need it (Zheng et al. 2024, arXiv 2409.02908).
using prob_matrix = xt::xtensor<double, 2>;

}  // namespace ddiff
