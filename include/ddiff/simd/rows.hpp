// Vectorised kernels over one contiguous row (a position's logits): max, exp-and-sum, scale.
// Each has a scalar reference in the same file (used for odd tails and by the tests).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "ddiff/simd/backend.hpp"

namespace ddiff::simd {

namespace scalar {
template <class T>
T row_max(const T* x, std::size_t n) noexcept {
    T m = -std::numeric_limits<T>::infinity();
    for (std::size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}
// out[i] = exp(x[i] - shift); returns the sum (accumulated in double).
template <class T>
double row_exp_shift(const T* x, T shift, T* out, std::size_t n) noexcept {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = std::exp(x[i] - shift);
        s += out[i];
    }
    return s;
}
template <class T>
void row_scale(T* x, T factor, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) x[i] *= factor;
}
}  // namespace scalar

// Maximum of x[0..n); -inf for n == 0. NaN is not propagated (callers validate).
template <class Arch = default_arch, class T>
T row_max(const T* x, std::size_t n) noexcept {
    if constexpr (has_batch<T, Arch>) {
        using b = xsimd::batch<T, Arch>;
        constexpr std::size_t w = b::size;
        if (n >= w) {
            b m = b::load_unaligned(x);
            std::size_t i = w;
            for (; i + w <= n; i += w) m = xsimd::max(m, b::load_unaligned(x + i));
            T r = horizontal_max(m);
            for (; i < n; ++i) r = x[i] > r ? x[i] : r;
            return r;
        }
    }
    return scalar::row_max(x, n);
}

// out[i] = exp(x[i] - shift) (out may alias x); returns sum_i out[i] accumulated in double
// per lane block, so a 150k-entry vocabulary row keeps ~1e-7 relative accuracy.
template <class Arch = default_arch, class T>
double row_exp_shift(const T* x, T shift, T* out, std::size_t n) noexcept {
    std::size_t i = 0;
    double total = 0.0;
    if constexpr (has_batch<T, Arch>) {
        using b = xsimd::batch<T, Arch>;
        constexpr std::size_t w = b::size;
        const b s(shift);
        for (; i + w <= n; i += w) {
            const b e = xsimd::exp(b::load_unaligned(x + i) - s);
            e.store_unaligned(out + i);
            total += static_cast<double>(horizontal_sum(e));
        }
    }
    return total + scalar::row_exp_shift(x + i, shift, out + i, n - i);
}

template <class Arch = default_arch, class T>
void row_scale(T* x, T factor, std::size_t n) noexcept {
    std::size_t i = 0;
    if constexpr (has_batch<T, Arch>) {
        using b = xsimd::batch<T, Arch>;
        constexpr std::size_t w = b::size;
        const b f(factor);
        for (; i + w <= n; i += w) (b::load_unaligned(x + i) * f).store_unaligned(x + i);
    }
    scalar::row_scale(x + i, factor, n - i);
}

}  // namespace ddiff::simd
