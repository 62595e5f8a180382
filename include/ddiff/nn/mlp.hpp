// Feed-forward blocks with the activation as a policy: gated_mlp<silu> is SwiGLU
// (down(silu(gate x) * up x), LLaMA/LLaDA/Dream), plain_mlp<gelu_tanh> is the DiT MLP
// (fc2(gelu_tanh(fc1 x + b1)) + b2).
#pragma once

#include <cstddef>

#include "ddiff/core/error.hpp"
#include "ddiff/nn/linear.hpp"
#include "ddiff/nn/workspace.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

// Activation policies: apply(x, n) in place; gated(gate, up, out, n) = act(gate) * up.
struct silu {
    template <class Arch>
    static void gated(const float* gate, const float* up, float* out, std::size_t n) noexcept {
        simd::silu_mul<Arch>(gate, up, out, n);
    }
};
struct gelu_tanh {
    template <class Arch>
    static void apply(float* x, std::size_t n) noexcept {
        simd::gelu_tanh<Arch>(x, n);
    }
};

template <class Act, class Arch = simd::default_arch>
class gated_mlp {
public:
    gated_mlp() = default;
    // gate_up: [2F, d] = gate rows then up rows (fuse_gate_up); down: [d, F].
    gated_mlp(linear<Arch> gate_up, linear<Arch> down) : gate_up_(std::move(gate_up)), down_(std::move(down)) {
        if (gate_up_.out_features() != 2 * down_.in_features() || gate_up_.in_features() != down_.out_features())
            ddiff::detail::fail<shape_error>("gated_mlp: gate_up [", gate_up_.out_features(), ", ",
                                             gate_up_.in_features(), "] and down [", down_.out_features(), ", ",
                                             down_.in_features(), "] do not agree (expected [2F, d] and [d, F])");
    }
    static std::vector<float> fuse_gate_up(const float* gate, const float* up, std::size_t hidden, std::size_t d) {
        std::vector<float> w(2 * hidden * d);
        std::copy(gate, gate + hidden * d, w.begin());
        std::copy(up, up + hidden * d, w.begin() + hidden * d);
        return w;
    }
    std::size_t hidden() const noexcept { return down_.in_features(); }
    std::size_t workspace_floats(std::size_t tokens, std::size_t) const noexcept {
        return workspace::round(tokens * 2 * hidden()) + 16;
    }

    // y (+)= MLP(x); x: (tokens, d) at stride ldx, y: (tokens, d) at stride ldy.
    void forward(const float* x, std::size_t ldx, std::size_t tokens, float* y, std::size_t ldy, bool accumulate,
                 workspace& ws, thread_pool& pool) const {
        workspace::scope keep(ws);
        const std::size_t F = hidden();
        float* gu = ws.take(tokens * 2 * F).data();  // (tokens, 2F): gate | up; the product overwrites gate
        gate_up_.forward(x, ldx, tokens, gu, 2 * F, pool);
        detail::parallel_rows(pool, tokens, F, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t t = r0; t < r1; ++t) Act::template gated<Arch>(gu + t * 2 * F, gu + t * 2 * F + F, gu + t * 2 * F, F);
        });
        down_.forward(gu, 2 * F, tokens, y, ldy, pool, accumulate);
    }

private:
    linear<Arch> gate_up_, down_;
};

template <class Act, class Arch = simd::default_arch>
class plain_mlp {
public:
    plain_mlp() = default;
    plain_mlp(linear<Arch> fc1, linear<Arch> fc2) : fc1_(std::move(fc1)), fc2_(std::move(fc2)) {
        if (fc1_.out_features() != fc2_.in_features() || fc1_.in_features() != fc2_.out_features())
            ddiff::detail::fail<shape_error>("plain_mlp: fc1 [", fc1_.out_features(), ", ", fc1_.in_features(),
                                             "] and fc2 [", fc2_.out_features(), ", ", fc2_.in_features(),
                                             "] do not agree");
    }
    std::size_t hidden() const noexcept { return fc1_.out_features(); }
    std::size_t workspace_floats(std::size_t tokens, std::size_t) const noexcept {
        return workspace::round(tokens * hidden()) + 16;
    }
    void forward(const float* x, std::size_t ldx, std::size_t tokens, float* y, std::size_t ldy, bool accumulate,
                 workspace& ws, thread_pool& pool) const {
        workspace::scope keep(ws);
        const std::size_t F = hidden();
        float* h = ws.take(tokens * F).data();  // (tokens, F)
        fc1_.forward(x, ldx, tokens, h, F, pool);
        detail::parallel_rows(pool, tokens, F, [&](std::size_t r0, std::size_t r1) {
            Act::template apply<Arch>(h + r0 * F, (r1 - r0) * F);
        });
        fc2_.forward(h, F, tokens, y, ldy, pool, accumulate);
    }

private:
    linear<Arch> fc1_, fc2_;
};

template <class Arch = simd::default_arch>
using swiglu_mlp = gated_mlp<silu, Arch>;
template <class Arch = simd::default_arch>
using gelu_mlp = plain_mlp<gelu_tanh, Arch>;

}  // namespace ddiff::nn
