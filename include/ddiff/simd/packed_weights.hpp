// Owning packed weights for the GEMM (64-byte aligned), made once at load time: f32 panels, or
// bf16 weights as bf16 pairs for vdpbf16ps (archs with has_bf16_dot) or widened to f32 panels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#include "ddiff/core/error.hpp"
#include "ddiff/simd/backend.hpp"
#include "ddiff/simd/bf16.hpp"
#include "ddiff/simd/gemm/config.hpp"
#include "ddiff/simd/gemm/pack.hpp"

namespace ddiff::simd {

template <class Arch = default_arch>
class packed_weights {
public:
    packed_weights() = default;

    // f32 weights W [n, k] (row stride ldw, 0 = k).
    static packed_weights from_f32(const float* w, std::size_t n, std::size_t k, std::size_t ldw = 0) {
        return from_rows(strided(w, ldw ? ldw : k), n, k, false);
    }
    // bf16 weights, kept as bf16 pairs for vdpbf16ps (A is rounded to bf16 in the GEMM: error
    // ~ 2^-9 relative per product). Where the arch has no vdpbf16ps they are widened instead.
    static packed_weights from_bf16(const bf16* w, std::size_t n, std::size_t k, std::size_t ldw = 0) {
        return from_rows(strided(w, ldw ? ldw : k), n, k, true);
    }
    // bf16 weights widened exactly to f32 panels at packing time (f32 arithmetic, 2x memory).
    static packed_weights from_bf16_widened(const bf16* w, std::size_t n, std::size_t k, std::size_t ldw = 0) {
        return from_rows(strided(w, ldw ? ldw : k), n, k, false);
    }
    // Weights given row by row: row(r) -> const float* or const bf16* (k elements) for r < n.
    // bf16 rows go to bf16 pairs when `bf16_dot` and the arch has vdpbf16ps, else are widened;
    // float rows always pack as f32. For fused matrices packed from their parts, with no copy.
    template <class RowFn>
    static packed_weights from_rows(RowFn&& row, std::size_t n, std::size_t k, bool bf16_dot) {
        using Src = std::remove_cvref_t<decltype(*row(std::size_t{0}))>;
        static_assert(std::is_same_v<Src, float> || std::is_same_v<Src, bf16>, "rows of float or bf16");
        if constexpr (std::is_same_v<Src, bf16> && has_bf16_dot<Arch>) {
            if (bf16_dot) {
                packed_weights p(panel_format::bf16_pairs, n, k);
                pack_rows_bf16_pairs_by<Arch>(row, n, k, p.pairs());
                return p;
            }
        }
        (void)bf16_dot;
        packed_weights p(panel_format::f32, n, k);
        pack_rows_f32_by<Arch>(row, n, k, p.floats());
        return p;
    }

    panel_view view() const noexcept { return {format_, n_, k_, gemm_config<Arch>::nr, data_.get()}; }
    std::size_t rows() const noexcept { return n_; }
    std::size_t cols() const noexcept { return k_; }
    panel_format format() const noexcept { return format_; }
    std::size_t bytes() const noexcept { return elements_ * 4; }

private:
    struct aligned_free {
        void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
    };
    template <class T>
    static auto strided(const T* w, std::size_t ldw) noexcept {
        return [w, ldw](std::size_t r) { return w + r * ldw; };
    }
    packed_weights(panel_format f, std::size_t n, std::size_t k) : format_(f), n_(n), k_(k) {
        ddiff::detail::require(n > 0, "packed_weights", "n (output features)", n, "> 0");
        ddiff::detail::require(k > 0, "packed_weights", "k (input features)", k, "> 0");
        elements_ = packed_elements<Arch>(n, k, f);
        data_.reset(::operator new(elements_ * 4, std::align_val_t{64}));
    }
    float* floats() noexcept { return static_cast<float*>(data_.get()); }
    std::uint32_t* pairs() noexcept { return static_cast<std::uint32_t*>(data_.get()); }

    panel_format format_ = panel_format::f32;
    std::size_t n_ = 0, k_ = 0, elements_ = 0;
    std::unique_ptr<void, aligned_free> data_;
};

}  // namespace ddiff::simd
