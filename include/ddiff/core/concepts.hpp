// Every extension point of ddiff in one file: noise schedule, forward process, remasking
// strategy, sampler (step rule) and denoiser. Each concept requires an explicit opt-in tag
// (as stdexec does), so a type that merely looks right is never picked up by accident.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ddiff/core/rng.hpp"
#include "ddiff/core/types.hpp"

namespace ddiff {

// ---- opt-in tags: derive your policy's `xxx_concept` member type from one of these ----
struct schedule_tag {};
struct process_tag {};
struct remask_tag {};
struct sampler_tag {};
struct denoiser_tag {};

// Which corruption a process applies, and so which models and samplers fit together.
enum class noise_kind { absorbing, uniform, hybrid };

// ---- noise schedule: alpha(t) = probability a token is still clean at t in [0, 1] ----
// Optional members, found with `if constexpr (requires ...)`: sigma(t), sigma_prime(t)
// (total noise -log alpha and its rate), t_of_alpha(a) (closed-form inverse).
template <class S>
concept noise_schedule = std::derived_from<typename S::schedule_concept, schedule_tag> &&
    requires(const S& s, double t) {
        { s.alpha(t) } -> std::convertible_to<double>;
        { s.alpha_prime(t) } -> std::convertible_to<double>;
    };

template <class S>
concept invertible_schedule = noise_schedule<S> && requires(const S& s, double a) {
    { s.t_of_alpha(a) } -> std::convertible_to<double>;
};

// ---- forward process q(x_t | x_0) over num_states() token ids, with alpha = alpha(t) ----
template <class P>
concept forward_process = std::derived_from<typename P::process_concept, process_tag> &&
    requires(const P& p, token_id x0, token_id xt, double a, double a_prime, const counter_rng& g, draw_site site,
             std::span<double> out) {
        { P::kind } -> std::convertible_to<noise_kind>;
        { p.num_states() } -> std::convertible_to<std::size_t>;
        { p.prob(xt, x0, a) } -> std::convertible_to<double>;      // q(x_t = xt | x_0 = x0)
        { p.sample(x0, a, g, site) } -> std::convertible_to<token_id>;
        p.posterior(xt, x0, a, a, out);                            // q(x_s | x_t, x_0), alpha_s then alpha_t
        { p.elbo_weight(a, a_prime) } -> std::convertible_to<double>;
    };

// ---- remasking strategy: a score per masked position, higher = commit sooner ----
// Optional hooks, found with `if constexpr (requires ...)`: reset(rows, len, vocab) before a
// decode (size per-position state there: score() runs concurrently for different positions),
// and fuse_logits(row, position, logits, step_info) to rewrite a position's raw logits before
// anything is drawn from them (dInfer's credit fusion).
struct position_view {
    std::size_t position = 0;              // index in the canvas
    std::span<const double> probs;         // (vocab) p~: the distribution x^ was drawn from
    token_id token = 0;                    // x^: the proposed token
    std::span<const double> logits = {};   // (vocab) raw logits (after EOS suppression / CFG)
    double log_z = 0.0;                    // logsumexp of the raw logits
    std::size_t row = 0;                   // batch row (for strategies that keep state per position)
};

struct step_info {
    std::uint32_t step = 0;                // 0-based global step of the decoder (keys the draws)
    std::uint32_t num_steps = 0;           // planned steps of the current block
    double t = 1.0;                        // time before the step
    double s = 0.0;                        // time after the step
    std::uint32_t step_in_block = 0;       // 0-based step within the current block
    std::size_t block_begin = 0;           // first position of the current block
};

template <class R>
concept remasking_strategy = std::derived_from<typename R::remask_concept, remask_tag> &&
    requires(const R& r, const position_view& v, const step_info& s, const counter_rng& g) {
        { r.score(v, s, g) } -> std::convertible_to<double>;
    };

// ---- sampler (step rule): how many positions to commit per step, and how ----
// Context is the decoder's step state (decoder/context.hpp); the concept only asks for the
// hook, so a sampler is checked against the context type it will run with.
template <class S, class Context>
concept sampler_policy_for = std::derived_from<typename S::sampler_concept, sampler_tag> &&
    requires(S& s, Context& c) { s.step(c); };

template <class S>
concept sampler_policy = std::derived_from<typename S::sampler_concept, sampler_tag>;

// ---- denoiser: logits of p(x_0 | x_t) for every position of a batch ----
// denoise(x, alpha, out): x (batch, len) token ids at noise level alpha[b] (probability clean;
// time-free models ignore it), out (batch, len, vocab) logits (unnormalised log-probabilities;
// -inf where impossible). M::noise says which corruption the model was trained on.
template <class M>
concept denoiser = std::derived_from<typename M::denoiser_concept, denoiser_tag> &&
    requires(M& m, const token_batch& x, std::span<const double> alpha,
             xt::xtensor<typename M::logit_type, 3>& out) {
        { M::noise } -> std::convertible_to<noise_kind>;
        { m.vocab_size() } -> std::convertible_to<std::size_t>;
        m.denoise(x, alpha, out);
    };

// Absorbing-noise denoisers also name their mask token.
template <class M>
concept masked_denoiser = denoiser<M> && (M::noise == noise_kind::absorbing) && requires(const M& m) {
    { m.mask_id() } -> std::convertible_to<token_id>;
};

// ---- readable diagnostics: `static_assert(ddiff::check_xxx<T>())` names what is missing ----
template <class S>
constexpr bool check_noise_schedule() {
    static_assert(requires { typename S::schedule_concept; },
                  "ddiff: a noise schedule must opt in with `using schedule_concept = ddiff::schedule_tag;`");
    static_assert(noise_schedule<S>, "ddiff: a noise schedule needs `double alpha(double t) const` and "
                                     "`double alpha_prime(double t) const`");
    return true;
}

template <class P>
constexpr bool check_forward_process() {
    static_assert(requires { typename P::process_concept; },
                  "ddiff: a forward process must opt in with `using process_concept = ddiff::process_tag;`");
    static_assert(forward_process<P>, "ddiff: a forward process needs kind, num_states(), prob(xt, x0, alpha), "
                                      "sample(x0, alpha, rng, site), posterior(xt, x0, alpha_s, alpha_t, out) and "
                                      "elbo_weight(alpha, alpha_prime)");
    return true;
}

template <class R>
constexpr bool check_remasking_strategy() {
    static_assert(requires { typename R::remask_concept; },
                  "ddiff: a remasking strategy must opt in with `using remask_concept = ddiff::remask_tag;`");
    static_assert(remasking_strategy<R>, "ddiff: a remasking strategy needs `double score(const position_view&, "
                                         "const step_info&, const counter_rng&) const`");
    return true;
}

template <class M>
constexpr bool check_denoiser() {
    static_assert(requires { typename M::denoiser_concept; },
                  "ddiff: a denoiser must opt in with `using denoiser_concept = ddiff::denoiser_tag;`");
    static_assert(denoiser<M>, "ddiff: a denoiser needs logit_type, noise, vocab_size() and "
                               "denoise(const token_batch&, std::span<const double> alpha, xtensor<logit_type, 3>& out)");
    return true;
}

template <class S>
constexpr bool check_sampler() {
    static_assert(requires { typename S::sampler_concept; },
                  "ddiff: a sampler must opt in with `using sampler_concept = ddiff::sampler_tag;`");
    return true;
}

}  // namespace ddiff
