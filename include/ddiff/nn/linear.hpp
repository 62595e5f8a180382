// Linear layer y = x W^T (+ b) with W in PyTorch's [out, in] layout, packed once at
// construction: f32, bf16 (through vdpbf16ps or widened to f32), or quantized GGUF weights kept
// quantized (simd/quant/qgemm.hpp). A layer may be several parts stacked along the output
// features (a fused q | k | v projection whose parts have different GGUF types); each part runs
// its own GEMM into its columns of y.
#pragma once

#include <cstddef>
#include <utility>
#include <variant>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/nn/workspace.hpp"
#include "ddiff/simd/gemm.hpp"
#include "ddiff/simd/quant/qgemm.hpp"
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
        l.parts_.push_back({simd::packed_weights<Arch>::from_rows(row, out, in, path == bf16_path::dot), 0, out});
        l.finish(out, in, bias);
        return l;
    }
    // Quantized rows of a GGUF tensor of type t: row(r) -> the stored bytes of row r. Kept
    // quantized (repacked, never dequantized); the product runs simd::quant::qgemm.
    template <class RowFn>
    static linear from_quantized(simd::quant::ggml_type t, RowFn&& row, std::size_t out, std::size_t in,
                                 const float* bias = nullptr) {
        linear l;
        l.parts_.push_back({simd::quant::qpacked_weights<Arch>::from_rows(t, row, out, in), 0, out});
        l.finish(out, in, bias);
        return l;
    }
    // The parts' outputs side by side (their biases are dropped; `bias` covers the whole output).
    static linear concat(std::vector<linear> parts, const float* bias = nullptr) {
        if (parts.empty()) ddiff::detail::fail<invalid_argument>("linear::concat: no parts");
        linear l;
        std::size_t out = 0;
        const std::size_t in = parts.front().in_;
        for (auto& p : parts) {
            if (p.in_ != in)
                ddiff::detail::fail<shape_error>("linear::concat: parts with ", p.in_, " and ", in,
                                                 " input features, expected equal");
            for (auto& q : p.parts_) l.parts_.push_back({std::move(q.w), out + q.first, q.count});
            out += p.out_;
        }
        l.finish(out, in, bias);
        return l;
    }

    std::size_t in_features() const noexcept { return in_; }
    std::size_t out_features() const noexcept { return out_; }
    bool has_bias() const noexcept { return !bias_.empty(); }
    bool quantized() const noexcept {
        for (const auto& p : parts_)
            if (std::holds_alternative<simd::quant::qpacked_weights<Arch>>(p.w)) return true;
        return false;
    }
    // Bytes of packed weights (all parts).
    std::size_t weight_bytes() const noexcept {
        std::size_t b = 0;
        for (const auto& p : parts_) std::visit([&](const auto& w) { b += w.bytes(); }, p.w);
        return b;
    }

    // y[t, :] (+)= x[t, :] W^T + b for t < tokens. x: (tokens, in) at stride ldx; y: (tokens, out)
    // at stride ldy.
    void forward(const float* x, std::size_t ldx, std::size_t tokens, float* y, std::size_t ldy,
                 thread_pool& pool, bool accumulate = false) const {
        for (const auto& p : parts_) {
            if (const auto* d = std::get_if<simd::packed_weights<Arch>>(&p.w))
                simd::gemm<Arch>(x, ldx, tokens, d->view(), y + p.first, ldy, accumulate, pool);
            else
                simd::quant::qgemm<Arch>(x, ldx, tokens, std::get<simd::quant::qpacked_weights<Arch>>(p.w).view(),
                                         y + p.first, ldy, accumulate, pool);
        }
        if (!bias_.empty())
            for (std::size_t t = 0; t < tokens; ++t) simd::add<Arch>(y + t * ldy, bias_.data(), bias_.size());
    }
    void forward(const float* x, std::size_t tokens, float* y, thread_pool& pool, bool accumulate = false) const {
        forward(x, in_features(), tokens, y, out_features(), pool, accumulate);
    }

private:
    struct part {
        std::variant<simd::packed_weights<Arch>, simd::quant::qpacked_weights<Arch>> w;
        std::size_t first = 0, count = 0;  // output columns [first, first + count)
    };
    void finish(std::size_t out, std::size_t in, const float* bias) {
        out_ = out;
        in_ = in;
        if (bias) bias_.assign(bias, bias + out);
    }

    std::vector<part> parts_;
    std::vector<float> bias_;  // (out) or empty
    std::size_t out_ = 0, in_ = 0;
};

}  // namespace ddiff::nn
