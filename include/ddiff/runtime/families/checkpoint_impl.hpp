// An architecture's checkpoint model M behind the run-time model interface (model_impl), for
// the family tables of runtime/families/*.hpp.
#pragma once

#include <memory>
#include <span>
#include <utility>

#include "ddiff/decoder/block_model.hpp"
#include "ddiff/model/kv_cache.hpp"
#include "ddiff/model/weights.hpp"
#include "ddiff/runtime/checkpoint.hpp"

namespace ddiff::runtime::families {

namespace detail {


// A checkpoint model M behind model_impl.
template <class M>
class checkpoint_impl final : public model_impl {
public:
    checkpoint_impl(M model, model_info info) : m_(std::move(model)), info_(std::move(info)) {
        info_.vocab = m_.vocab_size();
        info_.mask = m_.mask_id();
        info_.shift_logits = policy::shift_logits(m_);
        info_.time_conditioned = policy::time_conditioned(m_);
        info_.kv_cache = requires(M& m, std::span<const token_id> ids, model::kv_cache& c, float* out) {
            m.forward_cached(ids, std::size_t{}, std::size_t{}, c, out);
        };
        // The longest sequence its forward accepts (LLaDA, Dream, the DiT check it there).
        if constexpr (requires { m_.config().max_sequence_length; })
            info_.max_length = m_.config().max_sequence_length;
        else if constexpr (requires { m_.config().max_positions; })
            info_.max_length = m_.config().max_positions;
        else if constexpr (requires { m_.config().model_length; })
            info_.max_length = m_.config().model_length;
        if constexpr (ddiff::detail::has_block_forward<M>()) info_.block_length = m_.block_length();
    }
    // Block diffusion (decoder/block_model.hpp); alpha 1 (sigma 0): the block models ddiff opens
    // (SDAR, Fast-dLLM v2, a2d-qwen3, BD3-LM) are not time-conditioned.
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count,
                       const model::attention_layout& layout, model::kv_cache& cache, bool commit,
                       std::span<const std::size_t> rows, float* out) override {
        if constexpr (ddiff::detail::has_block_forward<M>())
            ddiff::detail::block_forward(m_, ids, first, count, layout, 1.0, cache, commit, rows, out);
        else
            model_impl::forward_block(ids, first, count, layout, cache, commit, rows, out);
    }
    void forward_rows(std::span<const token_id> ids, const model::attention_layout& layout,
                      std::span<const std::size_t> rows, float* out) override {
        if constexpr (ddiff::detail::has_block_forward<M>())
            ddiff::detail::rows_forward(m_, ids, layout, 1.0, rows, out);
        else
            model_impl::forward_rows(ids, layout, rows, out);
    }
    const model_info& info() const override { return info_; }
    thread_pool& pool() override { return m_.pool(); }
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) override {
        m_.denoise(x, alpha, out);
    }
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, model::kv_cache& cache,
                        float* out) override {
        if constexpr (requires { m_.forward_cached(ids, first, count, cache, out); })
            m_.forward_cached(ids, first, count, cache, out);
        else
            ddiff::detail::fail("a KV cache needs a model with forward_cached (LLaDA, Dream); this one is ", info_.kind);
    }

private:
    M m_;
    model_info info_;
};

}  // namespace detail

template <class M>
std::unique_ptr<model_impl> wrap(M model, const model_info& info) {
    return std::make_unique<detail::checkpoint_impl<M>>(std::move(model), info);
}

inline model::load_options load_options_for(const model_options& o) {
    model::load_options lo;
    lo.threads = o.threads;
    lo.compute = o.compute == "exact" ? model::compute_type::exact : model::compute_type::native;
    return lo;
}

}  // namespace ddiff::runtime::families
