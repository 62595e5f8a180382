// Exact oracle denoisers: p(x_0^i | x_t) in closed form when the data is a Markov chain, so a
// sampler's error against the true distribution can be measured, not guessed.
//
// Both noise kinds are a hidden Markov model: the hidden chain is x_0, the emission at position
// i is q(x_t^i | x_0^i). Absorbing: a known token emits itself (delta), a masked one emits the
// mask whatever x_0^i is (a constant), so known tokens split the sequence into segments and
// p(x_i | x_a, x_b) is proportional to P^(i-a)[x_a, x_i] P^(b-i)[x_i, x_b], with the initial
// distribution propagated to position i at the open left end and no factor at the right.
// Uniform: emission alpha delta + (1 - alpha) / V. Scaled forward-backward gives both exactly.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/model/oracle/markov_chain.hpp"

namespace ddiff::oracle {

// Posterior marginals of the hidden chain given per-position emission likelihoods.
// emission(i, v) = q(x_t^i | x_0^i = v); out(i, v) = p(x_0^i = v | x_t). Returns log q(x_t).
inline double forward_backward(const markov_chain& chain, const xt::xtensor<double, 2>& emission,
                               xt::xtensor<double, 2>& out) {
    const std::size_t L = emission.shape(0), V = chain.num_states();
    if (emission.shape(1) != V)
        ddiff::detail::fail<shape_error>("forward_backward: emission has ", emission.shape(1), " states, expected ", V);
    out = xt::zeros<double>({L, V});
    if (L == 0) return 0.0;
    const auto& P = chain.transition();
    xt::xtensor<double, 2> fwd = xt::zeros<double>({L, V});
    std::vector<double> bwd(V, 1.0), next(V);
    double log_evidence = 0.0;
    auto normalise = [&](double* row, std::size_t i) {
        double s = 0.0;
        for (std::size_t v = 0; v < V; ++v) s += row[v];
        if (!(s > 0.0))
            ddiff::detail::fail("markov oracle: the noisy sequence has probability 0 under the chain (position ", i,
                                "), expected a sequence the chain can produce");
        for (std::size_t v = 0; v < V; ++v) row[v] /= s;
        return s;
    };
    for (std::size_t v = 0; v < V; ++v) fwd(0, v) = chain.initial()(v) * emission(0, v);
    log_evidence += std::log(normalise(&fwd(0, 0), 0));
    for (std::size_t i = 1; i < L; ++i) {
        for (std::size_t u = 0; u < V; ++u) {
            const double f = fwd(i - 1, u);
            if (f == 0.0) continue;
            for (std::size_t v = 0; v < V; ++v) fwd(i, v) += f * P(u, v);
        }
        for (std::size_t v = 0; v < V; ++v) fwd(i, v) *= emission(i, v);
        log_evidence += std::log(normalise(&fwd(i, 0), i));
    }
    // Backward pass, scaled to sum 1 at each position (the scale cancels in the posterior).
    for (std::size_t ii = L; ii-- > 0;) {
        double s = 0.0;
        for (std::size_t v = 0; v < V; ++v) s += (out(ii, v) = fwd(ii, v) * bwd[v]);
        for (std::size_t v = 0; v < V; ++v) out(ii, v) /= s;
        if (ii == 0) break;
        for (std::size_t u = 0; u < V; ++u) {
            double acc = 0.0;
            for (std::size_t v = 0; v < V; ++v) acc += P(u, v) * emission(ii, v) * bwd[v];
            next[u] = acc;
        }
        double t = 0.0;
        for (double x : next) t += x;
        for (std::size_t u = 0; u < V; ++u) bwd[u] = next[u] / t;
    }
    return log_evidence;
}

// The oracle as a denoiser. Absorbing: num_states = V + 1, mask id V, output over V + 1
// with the mask at -inf. Uniform: output over the V states; needs alpha in (0, 1].
template <noise_kind Noise>
class markov_oracle {
    static_assert(Noise != noise_kind::hybrid, "markov_oracle: the hybrid process has no oracle yet");

public:
    using denoiser_concept = denoiser_tag;
    using logit_type = double;
    static constexpr noise_kind noise = Noise;

    explicit markov_oracle(markov_chain chain) : chain_(std::move(chain)) {}

    const markov_chain& chain() const noexcept { return chain_; }
    std::size_t data_states() const noexcept { return chain_.num_states(); }
    std::size_t vocab_size() const noexcept { return chain_.num_states() + (Noise == noise_kind::absorbing ? 1 : 0); }
    token_id mask_id() const noexcept
        requires(Noise == noise_kind::absorbing)
    {
        return static_cast<token_id>(chain_.num_states());
    }

    // out(i, v) = p(x_0^i = v | x_t) for one sequence; returns log q(x_t) (for absorbing,
    // the log-probability of the known tokens).
    double posterior(std::span<const token_id> xt, double alpha, xt::xtensor<double, 2>& out) const {
        const std::size_t L = xt.size(), V = chain_.num_states();
        xt::xtensor<double, 2> emission = xt::zeros<double>({L, V});
        if constexpr (Noise == noise_kind::absorbing) {
            for (std::size_t i = 0; i < L; ++i) {
                const token_id x = xt[i];
                ddiff::detail::require(x >= 0 && static_cast<std::size_t>(x) <= V, "markov_oracle", "token", x,
                                       "a data state or the mask id");
                if (static_cast<std::size_t>(x) == V) {
                    for (std::size_t v = 0; v < V; ++v) emission(i, v) = 1.0;
                } else {
                    emission(i, static_cast<std::size_t>(x)) = 1.0;
                }
            }
        } else {
            ddiff::detail::require(alpha > 0.0 && alpha <= 1.0, "markov_oracle", "alpha", alpha,
                                   "a value in (0, 1] for uniform noise");
            const double floor = (1.0 - alpha) / static_cast<double>(V);
            for (std::size_t i = 0; i < L; ++i) {
                const token_id x = xt[i];
                ddiff::detail::require(x >= 0 && static_cast<std::size_t>(x) < V, "markov_oracle", "token", x,
                                       "a state in [0, V)");
                for (std::size_t v = 0; v < V; ++v) emission(i, v) = floor;
                emission(i, static_cast<std::size_t>(x)) += alpha;
            }
        }
        return forward_backward(chain_, emission, out);
    }

    // Denoiser concept: x (batch, len), alpha (batch), out (batch, len, vocab) log-probabilities.
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<double, 3>& out) const {
        const std::size_t B = x.shape(0), L = x.shape(1), K = vocab_size(), V = chain_.num_states();
        if (alpha.size() != B)
            ddiff::detail::fail<shape_error>("markov_oracle::denoise: ", alpha.size(), " noise levels for a batch of ",
                                             B, ", expected one per row");
        if (out.shape() != std::array<std::size_t, 3>{B, L, K}) out = xt::zeros<double>({B, L, K});
        xt::xtensor<double, 2> post;
        for (std::size_t b = 0; b < B; ++b) {
            posterior(std::span<const token_id>(x.data() + b * L, L), alpha[b], post);
            for (std::size_t i = 0; i < L; ++i) {
                for (std::size_t v = 0; v < V; ++v) {
                    const double p = post(i, v);
                    out(b, i, v) = p > 0.0 ? std::log(p) : -std::numeric_limits<double>::infinity();
                }
                if constexpr (Noise == noise_kind::absorbing) out(b, i, V) = -std::numeric_limits<double>::infinity();
            }
        }
    }

private:
    markov_chain chain_;
};

using absorbing_markov_oracle = markov_oracle<noise_kind::absorbing>;
using uniform_markov_oracle = markov_oracle<noise_kind::uniform>;

}  // namespace ddiff::oracle
