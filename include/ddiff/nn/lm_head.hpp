// Output heads: final norm + vocabulary projection (LLaMA-style lm_head), and the DiT output
// layer (LN * weight, adaLN shift/scale from c, linear with bias).
#pragma once

#include <cstddef>

#include "ddiff/core/error.hpp"
#include "ddiff/nn/adaln.hpp"
#include "ddiff/nn/linear.hpp"
#include "ddiff/nn/norm.hpp"
#include "ddiff/nn/workspace.hpp"
#include "ddiff/simd/vec_ops.hpp"

namespace ddiff::nn {

template <class Norm, class Arch = simd::default_arch>
class lm_head {
public:
    lm_head() = default;
    lm_head(Norm norm, linear<Arch> proj) : norm_(std::move(norm)), proj_(std::move(proj)) { norm_.check(d()); }
    std::size_t d() const noexcept { return proj_.in_features(); }
    std::size_t vocab() const noexcept { return proj_.out_features(); }
    std::size_t workspace_floats(std::size_t tokens, std::size_t) const noexcept {
        return workspace::round(tokens * d()) + 16;
    }
    // logits: (tokens, vocab) at stride ldl.
    void forward(const float* x, std::size_t tokens, float* logits, std::size_t ldl, workspace& ws,
                 thread_pool& pool) const {
        workspace::scope keep(ws);
        float* h = ws.take(tokens * d()).data();
        norm_.apply(x, d(), tokens, h, d(), d(), pool);
        proj_.forward(h, d(), tokens, logits, ldl, pool);
    }

private:
    Norm norm_;
    linear<Arch> proj_;
};

template <class Arch = simd::default_arch>
class dit_output_layer {
public:
    dit_output_layer() = default;
    dit_output_layer(layer_norm<Arch> norm, adaln_modulation<Arch> ada, linear<Arch> proj)
        : norm_(std::move(norm)), ada_(std::move(ada)), proj_(std::move(proj)) {
        norm_.check(d());
        if (ada_.chunks() != 2 || ada_.dim() != d())
            ddiff::detail::fail<shape_error>("dit_output_layer: adaLN gives ", ada_.chunks(), " chunks of ",
                                             ada_.dim(), ", expected 2 chunks of ", d());
    }
    std::size_t d() const noexcept { return proj_.in_features(); }
    std::size_t workspace_floats(std::size_t tokens, std::size_t) const noexcept {
        return workspace::round(tokens * d()) + workspace::round(2 * d()) + 16;
    }
    void forward(const float* x, std::size_t tokens, const float* c, float* logits, std::size_t ldl, workspace& ws,
                 thread_pool& pool) const {
        workspace::scope keep(ws);
        const std::size_t D = d();
        float* mod = ws.take(2 * D).data();  // shift | scale
        float* h = ws.take(tokens * D).data();
        ada_.forward(c, mod, pool);
        for (std::size_t t = 0; t < tokens; ++t) {
            norm_.row(x + t * D, h + t * D, D);
            simd::modulate<Arch>(h + t * D, mod, mod + D, D);
        }
        proj_.forward(h, D, tokens, logits, ldl, pool);
    }

private:
    layer_norm<Arch> norm_;
    adaln_modulation<Arch> ada_;
    linear<Arch> proj_;
};

}  // namespace ddiff::nn
