// Absorbing ("mask") forward process: q(x_t | x_0) = alpha delta(x_0) + (1 - alpha) delta(m).
// Posterior from DUO AbsorbingState._posterior_from_x0; ELBO weight from MDLM (Sahoo et al.
// 2024, eq. 10): the continuous-time loss is E_t[-alpha'/(1 - alpha) sum_masked log p(x_0^i)].
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"

namespace ddiff::process {

namespace detail {
inline void check_alpha(double a, const char* who, const char* name = "alpha") {
    ddiff::detail::require(a >= 0.0 && a <= 1.0, who, name, a, "a probability in [0, 1]");
}
inline void check_pair(double a_s, double a_t, const char* who) {
    check_alpha(a_s, who, "alpha_s");
    check_alpha(a_t, who, "alpha_t");
    ddiff::detail::require(a_s >= a_t, who, "alpha_s", a_s, "alpha_s >= alpha_t (s earlier than t)");
}
}  // namespace detail

class absorbing {
public:
    using process_concept = process_tag;
    static constexpr noise_kind kind = noise_kind::absorbing;
    static constexpr const char* name = "absorbing";

    // num_states counts every token id including the mask; mask_id is one of them.
    absorbing(std::size_t num_states, token_id mask_id) : n_(num_states), mask_(mask_id) {
        ddiff::detail::require(num_states >= 2, name, "num_states", num_states, "at least 2 (one data token + mask)");
        ddiff::detail::require(mask_id >= 0 && static_cast<std::size_t>(mask_id) < num_states, name, "mask_id",
                               mask_id, "an id in [0, num_states)");
    }

    std::size_t num_states() const noexcept { return n_; }
    token_id mask_id() const noexcept { return mask_; }

    double prob(token_id xt, token_id x0, double alpha) const {
        check_data(x0, "x0");
        check_token(xt, "xt");
        detail::check_alpha(alpha, name);
        if (xt == mask_) return 1.0 - alpha;
        return xt == x0 ? alpha : 0.0;
    }

    // Keeps x0 with probability alpha (one draw: g.uniform(site)).
    token_id sample(token_id x0, double alpha, const counter_rng& g, draw_site site) const {
        check_data(x0, "x0");
        detail::check_alpha(alpha, name);
        return g.uniform(site) < alpha ? x0 : mask_;
    }

    // out = q(x_s | x_t = xt, x_0 = x0) over num_states, with alpha_s >= alpha_t.
    void posterior(token_id xt, token_id x0, double alpha_s, double alpha_t, std::span<double> out) const {
        check_data(x0, "x0");
        check_token(xt, "xt");
        check_out(out);
        detail::check_pair(alpha_s, alpha_t, name);
        std::fill(out.begin(), out.end(), 0.0);
        if (xt != mask_) {
            if (xt != x0)
                ddiff::detail::fail("absorbing::posterior: xt = ", xt, " is neither the mask nor x0 = ", x0,
                                    ", expected a state reachable from x0");
            out[static_cast<std::size_t>(xt)] = 1.0;  // carry-over: unmasked tokens stay
            return;
        }
        ddiff::detail::require(alpha_t < 1.0, name, "alpha_t", alpha_t, "< 1 when xt is the mask");
        out[static_cast<std::size_t>(x0)] = (alpha_s - alpha_t) / (1.0 - alpha_t);
        out[static_cast<std::size_t>(mask_)] = (1.0 - alpha_s) / (1.0 - alpha_t);
    }

    // The same with x_0 replaced by a predicted distribution probs (num_states, the mask entry
    // ignored): the reverse step of MDLM / DUO.
    void posterior_from_probs(token_id xt, std::span<const double> probs, double alpha_s, double alpha_t,
                              std::span<double> out) const {
        check_token(xt, "xt");
        check_out(out);
        ddiff::detail::require(probs.size() == n_, name, "probs.size()", probs.size(), "num_states entries");
        detail::check_pair(alpha_s, alpha_t, name);
        if (xt != mask_) {
            std::fill(out.begin(), out.end(), 0.0);
            out[static_cast<std::size_t>(xt)] = 1.0;
            return;
        }
        ddiff::detail::require(alpha_t < 1.0, name, "alpha_t", alpha_t, "< 1 when xt is the mask");
        const double unmask = (alpha_s - alpha_t) / (1.0 - alpha_t);
        double total = 0.0;
        for (std::size_t v = 0; v < n_; ++v)
            if (static_cast<token_id>(v) != mask_) total += probs[v];
        ddiff::detail::require(total > 0.0, name, "sum of probs", total, "> 0 over the data tokens");
        for (std::size_t v = 0; v < n_; ++v) out[v] = unmask * probs[v] / total;
        out[static_cast<std::size_t>(mask_)] = (1.0 - alpha_s) / (1.0 - alpha_t);
    }

    // MDLM's continuous-time weight -alpha'(t) / (1 - alpha(t)) on the masked positions' -log p.
    double elbo_weight(double alpha, double alpha_prime) const {
        detail::check_alpha(alpha, name);
        ddiff::detail::require(alpha < 1.0, name, "alpha", alpha, "< 1 (no token is masked at alpha = 1)");
        return -alpha_prime / (1.0 - alpha);
    }

private:
    void check_token(token_id x, const char* what) const {
        ddiff::detail::require(x >= 0 && static_cast<std::size_t>(x) < n_, name, what, x, "a token id in [0, num_states)");
    }
    void check_data(token_id x, const char* what) const {
        check_token(x, what);
        ddiff::detail::require(x != mask_, name, what, x, "a data token (not the mask id)");
    }
    void check_out(std::span<double> out) const {
        if (out.size() != n_)
            ddiff::detail::fail<shape_error>(name, ": output has ", out.size(), " entries, expected num_states = ", n_);
    }

    std::size_t n_;
    token_id mask_;
};

}  // namespace ddiff::process
