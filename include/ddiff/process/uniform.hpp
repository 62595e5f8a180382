// Uniform forward process: q(x_t | x_0) = alpha delta(x_0) + (1 - alpha) / V.
// Posterior: UDLM (discrete-diffusion-guidance diffusion.py _compute_posterior) and DUO.
// Continuous-time ELBO: UDLM (Schiff et al. 2024, eq. 14).
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

#include "ddiff/process/absorbing.hpp"

namespace ddiff::process {

class uniform {
public:
    using process_concept = process_tag;
    static constexpr noise_kind kind = noise_kind::uniform;
    static constexpr const char* name = "uniform";

    explicit uniform(std::size_t num_states) : n_(num_states) {
        ddiff::detail::require(num_states >= 2, name, "num_states", num_states, "at least 2");
    }

    std::size_t num_states() const noexcept { return n_; }

    double prob(token_id xt, token_id x0, double alpha) const {
        check_token(xt, "xt");
        check_token(x0, "x0");
        detail::check_alpha(alpha, name);
        return (xt == x0 ? alpha : 0.0) + (1.0 - alpha) / static_cast<double>(n_);
    }

    // Keeps x0 with probability alpha, else a uniform token (possibly x0 again); draws
    // g.uniform(site, 0) and g.uniform(site, 1).
    token_id sample(token_id x0, double alpha, const counter_rng& g, draw_site site) const {
        check_token(x0, "x0");
        detail::check_alpha(alpha, name);
        if (g.uniform(site, 0) < alpha) return x0;
        const auto v = static_cast<std::size_t>(g.uniform(site, 1) * static_cast<double>(n_));
        return static_cast<token_id>(v < n_ ? v : n_ - 1);
    }

    // out = q(x_s | x_t = xt, x_0 = x0), alpha_s >= alpha_t.
    void posterior(token_id xt, token_id x0, double alpha_s, double alpha_t, std::span<double> out) const {
        check_token(x0, "x0");
        std::fill(out.begin(), out.end(), 0.0);
        if (out.size() == n_) out[static_cast<std::size_t>(x0)] = 1.0;
        posterior_impl(xt, out, alpha_s, alpha_t, out);
    }

    // The same with x_0 replaced by a distribution probs (num_states): UDLM's and DUO's
    // x-parameterised reverse step, numerator
    //   alpha_t V x (.) e_xt + (alpha_ts - alpha_t) e_xt + (alpha_s - alpha_t) x + (1 - alpha_ts)(1 - alpha_s) / V
    // over alpha_t V x[xt] + 1 - alpha_t, alpha_ts = alpha_t / alpha_s.
    void posterior_from_probs(token_id xt, std::span<const double> probs, double alpha_s, double alpha_t,
                              std::span<double> out) const {
        ddiff::detail::require(probs.size() == n_, name, "probs.size()", probs.size(), "num_states entries");
        posterior_impl(xt, probs, alpha_s, alpha_t, out);
    }

    // UDLM's prefactor -alpha' / (V alpha) of the per-position continuous-time loss; the bracket
    // is elbo_term.
    double elbo_weight(double alpha, double alpha_prime) const {
        detail::check_alpha(alpha, name);
        ddiff::detail::require(alpha > 0.0, name, "alpha", alpha, "> 0");
        return -alpha_prime / (static_cast<double>(n_) * alpha);
    }

    // Minus the bracket of UDLM's per-token loss (diffusion.py _forward_pass_diffusion; DUO
    // nll_per_token): with xb = V alpha x_0 + (1 - alpha) 1, xbt = V alpha probs + (1 - alpha) 1,
    // i = xt, the loss is (alpha' / (V alpha)) [V / xb_i - V / xbt_i - sum_j (xb_j / xb_i)
    // log(xbt_i xb_j / (xbt_j xb_i))] = elbo_weight * elbo_term. Non-negative, zero when probs
    // is the one-hot of x0.
    double elbo_term(token_id xt, token_id x0, std::span<const double> probs, double alpha) const {
        check_token(xt, "xt");
        check_token(x0, "x0");
        detail::check_alpha(alpha, name);
        ddiff::detail::require(probs.size() == n_, name, "probs.size()", probs.size(), "num_states entries");
        const double V = static_cast<double>(n_);
        const auto i = static_cast<std::size_t>(xt);
        auto xb = [&](std::size_t j) { return V * alpha * (j == static_cast<std::size_t>(x0) ? 1.0 : 0.0) + 1.0 - alpha; };
        auto xbt = [&](std::size_t j) { return V * alpha * probs[j] + 1.0 - alpha; };
        double sum = 0.0;
        for (std::size_t j = 0; j < n_; ++j)
            sum += (xb(j) / xb(i)) * std::log(xbt(i) * xb(j) / (xbt(j) * xb(i)));
        return -(V / xb(i) - V / xbt(i) - sum);
    }

private:
    void posterior_impl(token_id xt, std::span<const double> x, double alpha_s, double alpha_t,
                        std::span<double> out) const {
        check_token(xt, "xt");
        if (out.size() != n_)
            ddiff::detail::fail<shape_error>(name, ": output has ", out.size(), " entries, expected num_states = ", n_);
        detail::check_pair(alpha_s, alpha_t, name);
        ddiff::detail::require(alpha_s > 0.0, name, "alpha_s", alpha_s, "> 0");
        const double V = static_cast<double>(n_);
        const double a_ts = alpha_t / alpha_s;
        const auto i = static_cast<std::size_t>(xt);
        const double denom = alpha_t * V * x[i] + 1.0 - alpha_t;
        ddiff::detail::require(denom > 0.0, name, "q(x_t)", denom, "> 0 (x_t impossible under x)");
        const double base = (1.0 - a_ts) * (1.0 - alpha_s) / V;
        const double xi = x[i];
        // x may alias out: read x[j] before writing out[j].
        for (std::size_t j = 0; j < n_; ++j) {
            const double xj = x[j];
            out[j] = ((alpha_s - alpha_t) * xj + base) / denom;
        }
        out[i] += (alpha_t * V * xi + (a_ts - alpha_t)) / denom;
    }

    void check_token(token_id x, const char* what) const {
        ddiff::detail::require(x >= 0 && static_cast<std::size_t>(x) < n_, name, what, x, "a token id in [0, num_states)");
    }

    std::size_t n_;
};

}  // namespace ddiff::process
