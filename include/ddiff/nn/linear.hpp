// Linear layer y = x W^T (+ b) with W in PyTorch's [out, in] layout, packed once at
// construction (f32, or bf16 through vdpbf16ps / widened to f32).
#pragma once

#include <cstddef>
#include <vector>

#include "ddiff/nn/workspace.hpp"
#include "ddiff/simd/gemm.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

enum class bf16_path { dot, widen };  // vdpbf16ps (A rounded to bf16) or exact f32 panels

template <class Arch = simd::default_arch>
class linear {
public:
    linear() = default;

    // w: [out, in] row-major; bias: out entries or nullptr.
    static linear from_f32(const float* w, std::size_t out, std::size_t in, const float* bias = nullptr) {
        return from_rows([w, in](std::size_t r) { return w + r * in; }, out, in, bias);
    }
    static linear from_bf16(const simd::bf16* w, std::size_t out, std::size_t in, const float* bias = nullptr,
                            bf16_path path = bf16_path::dot) {
        return from_rows([w, in](std::size_t r) { return w + r * in; }, out, in, bias, path);
    }
    // Rows one by one: row(r) -> const float* or const simd::bf16* (in elements), r < out; how a
    // fused projection is packed straight from its parts in the checkpoint.
    template <class RowFn>
    static linear from_rows(RowFn&& row, std::size_t out, std::size_t in, const float* bias = nullptr,
                            bf16_path path = bf16_path::dot) {
        linear l;
        l.w_ = simd::packed_weights<Arch>::from_rows(row, out, in, path == bf16_path::dot);
        if (bias) l.bias_.assign(bias, bias + out);
        return l;
    }

    std::size_t in_features() const noexcept { return w_.cols(); }
    std::size_t out_features() const noexcept { return w_.rows(); }
    bool has_bias() const noexcept { return !bias_.empty(); }
    const simd::packed_weights<Arch>& weights() const noexcept { return w_; }

    // y[t, :] (+)= x[t, :] W^T + b for t < tokens. x: (tokens, in) at stride ldx; y: (tokens, out)
    // at stride ldy.
    void forward(const float* x, std::size_t ldx, std::size_t tokens, float* y, std::size_t ldy,
                 thread_pool& pool, bool accumulate = false) const {
        simd::gemm<Arch>(x, ldx, tokens, w_.view(), y, ldy, accumulate, pool);
        if (!bias_.empty())
            for (std::size_t t = 0; t < tokens; ++t) simd::add<Arch>(y + t * ldy, bias_.data(), bias_.size());
    }
    void forward(const float* x, std::size_t tokens, float* y, thread_pool& pool, bool accumulate = false) const {
        forward(x, in_features(), tokens, y, out_features(), pool, accumulate);
    }

private:
    simd::packed_weights<Arch> w_;
    std::vector<float> bias_;  // (out) or empty
};

}  // namespace ddiff::nn
