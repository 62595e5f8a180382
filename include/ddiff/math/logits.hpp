// Logits utilities on one row (a position's scores over the vocabulary): softmax, log-softmax,
// temperature, top-k and top-p filtering, argmax. Hot loops run on simd/rows.hpp (math/ sits
// above simd/, which sits above core/). The filters take caller-owned scratch so that a decode
// loop allocates nothing per position; the overloads without scratch allocate.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/simd/rows.hpp"

namespace ddiff {

// Index of the largest entry; ties go to the lowest index (as torch.argmax and llama.cpp do).
template <class T>
std::size_t argmax(std::span<const T> x) {
    if (x.empty()) detail::fail("argmax: empty row, expected at least one entry");
    std::size_t best = 0;
    for (std::size_t i = 1; i < x.size(); ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

// out = softmax(in); in and out may be the same row. Entries at -inf get probability 0.
// Throws if the row is empty, all -inf, or holds NaN / +inf.
template <class T>
void softmax(std::span<const T> in, std::span<T> out) {
    if (in.size() != out.size() || in.empty())
        detail::fail<shape_error>("softmax: input has ", in.size(), " entries and output ", out.size(),
                                  ", expected equal non-zero sizes");
    const T m = simd::row_max(in.data(), in.size());
    if (!(m > -std::numeric_limits<T>::infinity()) || !std::isfinite(m))
        detail::fail("softmax: row maximum is ", m, ", expected a finite maximum (no NaN/+inf, not all -inf)");
    const double s = simd::row_exp_shift(in.data(), m, out.data(), in.size());
    if (!std::isfinite(s)) detail::fail("softmax: row holds NaN, expected finite or -inf logits");
    simd::row_scale(out.data(), static_cast<T>(1.0 / s), out.size());
}

template <class T>
void softmax(std::span<T> row) {
    softmax(std::span<const T>(row), row);
}

// out = log_softmax(in) = in - max - log(sum exp(in - max)); never overflows.
template <class T>
void log_softmax(std::span<const T> in, std::span<T> out) {
    if (in.size() != out.size() || in.empty())
        detail::fail<shape_error>("log_softmax: input has ", in.size(), " entries and output ", out.size(),
                                  ", expected equal non-zero sizes");
    const T m = simd::row_max(in.data(), in.size());
    if (!(m > -std::numeric_limits<T>::infinity()) || !std::isfinite(m))
        detail::fail("log_softmax: row maximum is ", m, ", expected a finite maximum");
    std::vector<T> tmp(in.size());
    const double s = simd::row_exp_shift(in.data(), m, tmp.data(), in.size());
    if (!std::isfinite(s)) detail::fail("log_softmax: row holds NaN, expected finite or -inf logits");
    const T shift = static_cast<T>(static_cast<double>(m) + std::log(s));
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] - shift;
}

// logits /= temperature. temperature must be finite and > 0 (temperature 0 means greedy and is
// handled by the samplers, never by dividing).
template <class T>
void apply_temperature(std::span<T> logits, double temperature) {
    detail::require(std::isfinite(temperature) && temperature > 0.0, "apply_temperature", "temperature",
                    temperature, "a finite value > 0");
    if (temperature != 1.0) simd::row_scale(logits.data(), static_cast<T>(1.0 / temperature), logits.size());
}

// Keep the k largest logits, set the rest to -inf. As Dream's top_k_logits: everything strictly
// below the k-th largest value is removed, so ties with the k-th value are kept.
template <class T>
void top_k_filter(std::span<T> logits, std::size_t k, std::vector<T>& scratch) {
    detail::require(k >= 1, "top_k_filter", "k", k, "k >= 1 (use no filter to disable)");
    if (k >= logits.size()) return;
    scratch.assign(logits.begin(), logits.end());
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k - 1), scratch.end(),
                     std::greater<T>{});
    const T kth = scratch[k - 1];
    for (auto& v : logits)
        if (v < kth) v = -std::numeric_limits<T>::infinity();
}

template <class T>
void top_k_filter(std::span<T> logits, std::size_t k) {
    std::vector<T> scratch;
    top_k_filter(logits, k, scratch);
}

// Nucleus filter, as Dream's top_p_logits: sort descending, keep the shortest prefix whose
// cumulative probability exceeds p (the token that crosses p is kept), remove the rest.
// Ties in the sort are broken towards the lower index. p in (0, 1]; p = 1 keeps everything.
template <class T>
void top_p_filter(std::span<T> logits, double p, std::vector<std::size_t>& order, std::vector<T>& probs) {
    detail::require(p > 0.0 && p <= 1.0, "top_p_filter", "p", p, "a value in (0, 1]");
    if (p >= 1.0 || logits.empty()) return;
    order.resize(logits.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
    probs.resize(logits.size());
    softmax(std::span<const T>(logits), std::span<T>(probs));
    double cumulative = 0.0;
    bool crossed = false;
    for (std::size_t j = 0; j < order.size(); ++j) {
        if (crossed) logits[order[j]] = -std::numeric_limits<T>::infinity();
        cumulative += static_cast<double>(probs[order[j]]);
        if (cumulative > p) crossed = true;
    }
}

template <class T>
void top_p_filter(std::span<T> logits, double p) {
    std::vector<std::size_t> order;
    std::vector<T> probs;
    top_p_filter(logits, p, order, probs);
}

}  // namespace ddiff
