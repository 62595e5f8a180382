// adaLN modulation (DiT, Peebles & Xie 2023; MDLM/SEDD DDiT): chunks x d modulation vectors
// (shift, scale, gate, ...) = c W^T + b from a conditioning vector c, applied as
// modulate(y) = y (1 + scale) + shift and gated residuals x += gate * f(...).
#pragma once

#include <cstddef>

#include "ddiff/core/error.hpp"
#include "ddiff/nn/linear.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

template <class Arch = simd::default_arch>
class adaln_modulation {
public:
    adaln_modulation() = default;
    // proj: [chunks * d, cond] with a bias.
    adaln_modulation(linear<Arch> proj, std::size_t chunks) : proj_(std::move(proj)), chunks_(chunks) {
        ddiff::detail::require(chunks > 0 && proj_.out_features() % chunks == 0, "adaln_modulation", "chunks",
                               chunks, "a divisor of the projection's output features");
    }
    std::size_t chunks() const noexcept { return chunks_; }
    std::size_t dim() const noexcept { return proj_.out_features() / chunks_; }
    std::size_t cond_dim() const noexcept { return proj_.in_features(); }

    // out: (chunks * d), chunk i at out + i * d.
    void forward(const float* c, float* out, thread_pool& pool) const { proj_.forward(c, 1, out, pool); }

private:
    linear<Arch> proj_;
    std::size_t chunks_ = 0;
};

}  // namespace ddiff::nn
