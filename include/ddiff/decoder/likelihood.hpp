// The masked-diffusion negative ELBO of a sequence by Monte Carlo, as LLaDA's
// get_log_likelihood.py estimates it: per mini-batch of b samples, k ~ U{1..l} and
// x_j = round(linspace(k, k + (b - 1) l / b, b)), wrapped into [1, l] (stratified numbers of
// masked tokens); sample j masks exactly x_j positions chosen uniformly, t_j = x_j / l, and
//   loss_j = sum over masked i of -log p(x_0^i | x_t) / t_j          (nats for the sequence),
// p(x_0^i | x_t) read from logit row i, or i - 1 for a model that shifts its logits (Dream).
// The estimate is the mean of loss_j; its standard error comes from the independent
// mini-batch means (the samples inside one mini-batch are stratified, not independent).
//
// A block-diffusion model (block-causal attention, block length B > 0: BD3-LM, the block LLaDA
// of tools/train/train.py --objective bd3lm) has the block-diffusion NELBO instead (BD3-LM,
// kuleshov-group/bd3lms diffusion.py): the sum over blocks k of the masked-diffusion bound of
// block k given the clean blocks before it,
//   loss_j = sum_k  sum over masked i in block k of -log p(x_0^i | x^{<k}, x_t^k) / t_{j,k}.
// Each block gets the estimator above over its own l_k positions (its own stratified counts
// x_{j,k} and t_{j,k} = x_{j,k} / l_k per mini-batch); block k is scored by a model call on the
// prefix x^{<k} (clean) + x_t^k, whose block-causal attention gives block k's rows exactly the
// context the bound conditions on.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/core/rng.hpp"

namespace ddiff {

struct elbo_options {
    std::size_t mc_num = 128;     // samples (LLaDA's default)
    std::size_t batch_size = 16;  // samples per stratified mini-batch; divides mc_num
    std::uint64_t seed = 0;
    std::uint32_t stream = 0;     // distinguishes the draws of different windows of one text
};

struct elbo_estimate {
    double nats = 0.0;                // mean of loss_j
    double standard_error = 0.0;      // from the mini-batch means
    std::vector<double> sample_loss;  // loss_j, nats
    std::vector<double> t;            // t_j = x_j / l (whole-sequence estimator; empty for blocks)
    std::size_t block_length = 0;     // the model's attention block (0: whole-sequence estimator)
};

// The model's attention block: > 0 for a block-causal (block-diffusion) model, else 0.
template <class Model>
std::size_t attention_block_length(const Model& model) {
    if constexpr (requires { { model.block_length() } -> std::convertible_to<std::size_t>; })
        return model.block_length();
    else
        return 0;
}

// loss for one given mask (1 = masked) of ids: sum over masked i of -log p(x_0^i | x_t), / t.
template <class Model>
double masked_sample_loss(Model& model, std::span<const token_id> ids, std::span<const std::uint8_t> mask, double t) {
    static_assert(masked_denoiser<Model>, "masked_sample_loss: needs an absorbing-noise model with a mask token");
    if (mask.size() != ids.size())
        detail::fail<shape_error>("masked_sample_loss: mask has ", mask.size(), " entries for ", ids.size(),
                                  " tokens, expected one per token");
    detail::require(t > 0.0 && t <= 1.0, "masked_sample_loss", "t", t, "a value in (0, 1]");
    const std::size_t L = ids.size();
    token_batch x = xt::zeros<token_id>({std::size_t{1}, L});
    for (std::size_t i = 0; i < L; ++i) x(0, i) = mask[i] ? model.mask_id() : ids[i];
    xt::xtensor<typename Model::logit_type, 3> logits;
    const double alpha[] = {1.0 - t};
    model.denoise(x, alpha, logits);
    const std::size_t V = logits.shape(2);
    const bool shift = policy::shift_logits(model);  // Dream: position i is predicted by row i - 1
    double loss = 0.0;
    for (std::size_t i = 0; i < L; ++i) {
        if (!mask[i]) continue;
        const auto* row = logits.data() + policy::logit_row(shift, i) * V;
        double m = -std::numeric_limits<double>::infinity();
        for (std::size_t v = 0; v < V; ++v) m = std::max(m, double(row[v]));
        double z = 0.0;
        for (std::size_t v = 0; v < V; ++v) z += std::exp(double(row[v]) - m);
        loss += m + std::log(z) - double(row[static_cast<std::size_t>(ids[i])]);
    }
    return loss / t;
}

namespace detail {
// Sample j of a mini-batch of b over positions [lo, hi) (l' = hi - lo of them): k ~ U{1..l'} per
// mini-batch, x_j = round(linspace(k, k + (b - 1) l'/b, b))_j wrapped into [1, l'] (torch.round:
// half to even), exactly x_j of the positions masked (the first x_j of a uniform permutation,
// Fisher-Yates); mask is cleared outside. Returns t_j = x_j / l'.
inline double stratified_mask(const counter_rng& g, std::uint32_t step, std::uint32_t stream, std::size_t j,
                              std::size_t b, std::size_t lo, std::size_t hi, std::vector<std::uint8_t>& mask,
                              std::vector<std::size_t>& perm) {
    const std::size_t l = hi - lo;
    const double k = 1.0 + std::floor(g.uniform({streams::time, step, stream}) * double(l));  // U{1..l}
    const double lin = k + double(j) * double(l) / double(b);  // linspace(k, k + (b-1) l/b, b)
    auto xj = static_cast<std::size_t>(std::nearbyint(lin));  // torch.round: half to even
    xj = (xj - 1) % l + 1;
    perm.resize(l);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    for (std::size_t i = l; i > 1; --i) {
        const double u = g.uniform({streams::transfer, step, stream}, static_cast<std::uint32_t>(j * l + i));
        std::swap(perm[i - 1], perm[std::min(i - 1, static_cast<std::size_t>(u * double(i)))]);
    }
    std::fill(mask.begin(), mask.end(), std::uint8_t{0});
    for (std::size_t i = 0; i < xj; ++i) mask[lo + perm[i]] = 1;
    return double(xj) / double(l);
}
}  // namespace detail

// Monte Carlo negative ELBO of ids (nats), LLaDA's estimator. observe(done, total) after each sample.
template <class Model, class Observer>
elbo_estimate masked_elbo(Model& model, std::span<const token_id> ids, const elbo_options& o, Observer&& observe) {
    const std::size_t l = ids.size(), b = o.batch_size;
    detail::require(l >= 1, "masked_elbo", "length", l, "at least 1 token");
    detail::require(b >= 1, "masked_elbo", "batch_size", b, "at least 1");
    detail::require(o.mc_num >= b && o.mc_num % b == 0, "masked_elbo", "mc_num", o.mc_num,
                    "a positive multiple of batch_size");
    const counter_rng g(o.seed);
    elbo_estimate r;
    std::vector<double> batch_means;
    std::vector<std::size_t> perm;
    std::vector<std::uint8_t> mask(l);
    const std::size_t B = attention_block_length(model);
    r.block_length = B;
    for (std::size_t mb = 0; mb < o.mc_num / b; ++mb) {
        const auto step = static_cast<std::uint32_t>(mb);
        std::vector<double> loss(b, 0.0);
        if (B == 0) {
            for (std::size_t j = 0; j < b; ++j) {
                const double t = detail::stratified_mask(g, step, o.stream, j, b, 0, l, mask, perm);
                loss[j] = masked_sample_loss(model, ids, mask, t);
                r.t.push_back(t);
                observe(mb * b + j + 1, o.mc_num);
            }
        } else {
            // Block k: its own draws (row k + 1 of the seed), scored on the prefix up to its end.
            for (std::size_t lo = 0, k = 0; lo < l; lo += B, ++k) {
                const std::size_t hi = std::min(l, lo + B);
                const counter_rng gk = g.for_row(k + 1);
                for (std::size_t j = 0; j < b; ++j) {
                    const double t = detail::stratified_mask(gk, step, o.stream, j, b, lo, hi, mask, perm);
                    loss[j] += masked_sample_loss(model, ids.first(hi), std::span<const std::uint8_t>(mask).first(hi), t);
                }
                observe(mb * b + (hi * b) / l, o.mc_num);
            }
        }
        r.sample_loss.insert(r.sample_loss.end(), loss.begin(), loss.end());
        batch_means.push_back(std::accumulate(loss.begin(), loss.end(), 0.0) / double(b));
    }
    const double n = double(batch_means.size());
    r.nats = std::accumulate(batch_means.begin(), batch_means.end(), 0.0) / n;
    if (batch_means.size() > 1) {
        double var = 0.0;
        for (double m : batch_means) var += (m - r.nats) * (m - r.nats);
        r.standard_error = std::sqrt(var / (n - 1.0) / n);
    }
    return r;
}

}  // namespace ddiff
