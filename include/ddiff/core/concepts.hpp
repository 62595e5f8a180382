// Every extension point of ddiff in one file: noise schedule, forward process, remasking
// strategy, sampler (step rule) and denoiser, each with the optional hooks the decoder looks for
// (with `if constexpr (requires ...)`), declared here where a policy author reads them. Each
// concept requires an explicit opt-in tag (as stdexec does), so a type that merely looks right
// is never picked up by accident.
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
// Optional: sigma(t), sigma_prime(t) (total noise -log alpha and its rate), t_of_alpha(a)
// (closed-form inverse); `name` (the registry key, ddiff/runtime/registry.hpp).
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

// ---- what the decoder tells policies about a step ----

// The times of one step: the decoder moves a row from t to s < t (t = 1 - j / S for a fixed
// plan of S steps per block; an adaptive sampler's row keeps its own t and s = 0).
struct step_times {
    double t = 1.0, s = 0.0;
    double alpha_t = 0.0, alpha_s = 1.0;  // the schedule at t and s
    double sigma_prime_t = 0.0;           // sigma'(t) = -alpha'(t) / alpha(t) (SEDD's rates)
};

struct step_info {
    std::uint32_t step = 0;            // 0-based global step of the decode (keys the random draws)
    std::uint32_t step_in_block = 0;   // 0-based step within the current block
    std::uint32_t steps_in_block = 1;  // planned steps of the block (steps / blocks)
    std::size_t block_begin = 0;       // the current block is [block_begin, block_end)
    std::size_t block_end = 0;
    step_times time;
    bool last = false;                 // the block's final planned step (always, for adaptive samplers)
};

// What a remasking strategy or a sampler reads beyond a proposal's scalars (token, confidence,
// probability, log Z). The decoder computes only what some policy reads. Declare it as
// `static constexpr ddiff::reads reads{...};`; a policy that declares nothing is given
// everything (correct, slower).
struct reads {
    bool probs = true;    // position_view::probs: the whole p~ over the vocabulary
    bool logits = true;   // position_view::logits: the whole raw row (double)
    bool entropy = true;  // sampler::candidate::entropy: H(p~)
};
inline constexpr reads reads_none{.probs = false, .logits = false, .entropy = false};

// ---- remasking strategy: a score per masked position, higher = commit sooner ----
// One masked position as a remasking strategy sees it.
struct position_view {
    std::size_t position = 0;             // index in the canvas
    std::size_t row = 0;                  // batch row
    token_id token = 0;                   // x^: the proposal, drawn from p~
    double confidence = 0.0;              // p~[x^]: under the distribution x^ was drawn from
    double raw_probability = 0.0;         // softmax(logits)[x^] = exp(logits[x^] - log_z): before temperature/filters
    double log_z = 0.0;                   // logsumexp of the raw logits
    std::span<const double> probs = {};   // (vocab) p~, when the policy reads probs
    std::span<const double> logits = {};  // (vocab) raw logits (after CFG, EOS suppression, fusion), when read
};

// Required: `double score(const position_view&, const step_info&, const counter_rng&) const`,
// a pure function: called twice, it returns the same value.
// Optional hooks of stateful strategies (non-const: the state is plain data the decoder's copy
// of the policy owns):
//   reset(rows, block_length, vocab)          before a decode; size per-position state for one
//                                             block (position - info.block_begin indexes it)
//   fuse_logits(row, position, logits, info)  rewrite a position's raw logits before anything is
//                                             drawn from them (dInfer's credit fusion)
//   update(view, info)                        record this step's proposal before score() reads
//                                             the state (KLASS's KL history)
// These run concurrently for different positions of a step: keep state per position.
// Also optional: `name`, `reads`.
template <class R>
concept remasking_strategy = std::derived_from<typename R::remask_concept, remask_tag> &&
    requires(const R& r, const position_view& v, const step_info& s, const counter_rng& g) {
        { r.score(v, s, g) } -> std::convertible_to<double>;
    };

// ---- sampler (step rule): how many positions to commit per step, and how ----
// Required: `step(Context&)`, Context = sampler::step_context (sampler/context.hpp): the step's
// candidates with their proposals and scores, and the canvas to commit into. Optional:
//   name                       registry key (ddiff/runtime/registry.hpp); any string
//   noise                      the noise_kind it assumes (absorbing if absent; hybrid = either)
//   adaptive = true            no fixed plan: the block runs until it is full (threshold rules)
//   remasks = true             may put decoded tokens back to the mask (ReMDM), so a block runs
//                              every planned step even when it holds no mask
//   reads                      as above (candidate::entropy, the whole p~)
//   reshape(p, current, info, scratch) const
//                              replace p~ at one position (current = x_t there) by the
//                              distribution the proposal must be drawn from (a posterior, a
//                              tau-leaping step); scratch is a (vocab) buffer it may use
template <class S, class Context>
concept sampler_policy_for = std::derived_from<typename S::sampler_concept, sampler_tag> &&
    requires(S& s, Context& c) { s.step(c); };

template <class S>
concept sampler_policy = std::derived_from<typename S::sampler_concept, sampler_tag>;

// ---- denoiser: logits of p(x_0 | x_t) for every position of a batch ----
// denoise(x, alpha, out): x (batch, len) token ids at noise level alpha[b] (probability clean;
// time-free models ignore it), out (batch, len, vocab) logits (unnormalised log-probabilities;
// -inf where impossible). M::noise says which corruption the model was trained on.
// Optional, each a static constexpr member or, for models that decide at run time (a
// checkpoint loaded from a file), a const member function of the same name:
//   time_conditioned   the output depends on alpha (if not, the decoder reuses the last output
//                      when the input did not change: MDLM's ddpm_cache); default: true except
//                      for absorbing models
//   shift_logits       the logits for position i are row i - 1 (Dream); default false
// Also optional: mask_id() (required for absorbing models), a KV cache (`cache_type` and
// forward_cached(ids, first, count, cache, out): Fast-dLLM's caches), and `pool()` returning the
// model's thread pool, on which the decoder then runs its per-position work.
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

// ---- the optional members, read with their defaults (used by the decoder and the registry) ----
namespace policy {
template <class P>
constexpr const char* name_of(const char* fallback = "(unnamed)") {
    if constexpr (requires { P::name; })
        return P::name;
    else
        return fallback;
}
// A policy's `reads`: a static constexpr member, a const member function (a policy chosen at
// run time, ddiff/runtime/registry.hpp), or everything.
template <class P>
constexpr reads reads_of(const P& p) {
    if constexpr (requires { { P::reads } -> std::convertible_to<reads>; })
        return P::reads;
    else if constexpr (requires { { p.reads() } -> std::convertible_to<reads>; })
        return p.reads();
    else
        return reads{};
}
template <class S>
constexpr noise_kind noise_of() {
    if constexpr (requires { S::noise; })
        return S::noise;
    else
        return noise_kind::absorbing;
}
// adaptive / remasks / reshapes of a step rule: a static constexpr member, a const member
// function (a rule chosen at run time), or false. reshapes is true for a rule with a reshape
// hook unless it says otherwise at run time.
template <class S>
constexpr bool adaptive(const S& s = S{}) {
    if constexpr (requires { { S::adaptive } -> std::convertible_to<bool>; })
        return S::adaptive;
    else if constexpr (requires { { s.adaptive() } -> std::convertible_to<bool>; })
        return s.adaptive();
    else
        return false;
}
template <class S>
constexpr bool remasks(const S& s = S{}) {
    if constexpr (requires { { S::remasks } -> std::convertible_to<bool>; })
        return S::remasks;
    else if constexpr (requires { { s.remasks() } -> std::convertible_to<bool>; })
        return s.remasks();
    else
        return false;
}
template <class S>
constexpr bool has_reshape() {
    return requires(const S& s, std::span<double> p, const step_info& i) { s.reshape(p, token_id{}, i, p); };
}
template <class S>
constexpr bool reshapes(const S& s) {
    if constexpr (!has_reshape<S>())
        return false;
    else if constexpr (requires { { s.reshapes() } -> std::convertible_to<bool>; })
        return s.reshapes();
    else
        return true;
}
// time_conditioned / shift_logits: a static constexpr member, a run-time const member function,
// or the default.
template <class M>
bool time_conditioned(const M& m) {
    if constexpr (requires { { M::time_conditioned } -> std::convertible_to<bool>; })
        return M::time_conditioned;
    else if constexpr (requires { { m.time_conditioned() } -> std::convertible_to<bool>; })
        return m.time_conditioned();
    else
        return M::noise != noise_kind::absorbing;
}
template <class M>
bool shift_logits(const M& m) {
    if constexpr (requires { { M::shift_logits } -> std::convertible_to<bool>; })
        return M::shift_logits;
    else if constexpr (requires { { m.shift_logits() } -> std::convertible_to<bool>; })
        return m.shift_logits();
    else
        return false;
}
// The canvas row whose logits predict position i: i, or i - 1 for a shifting model (Dream's
// logits = cat(logits[:, :1], logits[:, :-1]): position 0 keeps its own row).
inline std::size_t logit_row(bool shift, std::size_t i) noexcept { return shift && i > 0 ? i - 1 : i; }
}  // namespace policy

}  // namespace ddiff
