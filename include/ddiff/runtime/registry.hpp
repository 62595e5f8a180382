// The run-time registry of decoding policies: type lists of the schedules, remasking strategies
// and step rules a front end may name, keyed by each policy's `name`. One place gives the
// names, the help line and the factory (from the knobs of policy_params); an unknown name is an
// option_error listing the valid ones. Schedules, remasking strategies and step rules become one
// run-time type each (any_schedule, any_remask, any_sampler): a variant visited per call, a few
// calls per position and step, nothing next to a model call. A program then instantiates one
// decoder per model type, not one per combination; one that composes at compile time pays
// nothing for any of this.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ddiff/remask/all.hpp"
#include "ddiff/runtime/fields.hpp"
#include "ddiff/sampler/all.hpp"
#include "ddiff/schedule/all.hpp"

namespace ddiff::runtime {

template <class... T>
struct type_list {};

// The knobs of the policies that take parameters (front ends expose each once).
struct policy_params {
    double threshold = 0.9;           // threshold, dinfer_threshold, dinfer_hierarchical, klass
    double low_threshold = 0.4;       // dinfer_hierarchical's per-run threshold
    double factor = 1.0;              // factor
    double gamma = 1e-3;              // eb
    std::optional<double> eta;        // remdm_*: unset = the strategy's default
    double choice_temperature = 1.0;  // maskgit_gumbel

    template <class V>
    void for_each_field(V&& v) {
        v(field_info{"threshold", "TAU", "confidence threshold of threshold, dinfer_threshold, dinfer_hierarchical, klass, sdar_dynamic",
                     0.0, 1.0},
          threshold);
        v(field_info{"low_threshold", "TAU", "per-run threshold of dinfer_hierarchical", 0.0, 1.0}, low_threshold);
        v(field_info{"factor", "F", "factor of the factor rule", 0.0, 1e9, true}, factor);
        v(field_info{"gamma", "G", "entropy bound of the eb rule", 0.0, 1e9}, gamma);
        v(field_info{"eta", "ETA", "ReMDM eta (defaults: cap 0.008, rescale 0.015, conf 1, loop 0.02)", 0.0, 1e6}, eta);
        v(field_info{"choice_temperature", "T", "MaskGIT's Gumbel temperature of the maskgit_gumbel score", 0.0, 1e6},
          choice_temperature);
    }
};

// One registered policy: its help line and how it is built from the knobs.
template <class P>
struct policy_info;

#define DDIFF_POLICY(P, HELP, ...)                                                   \
    template <>                                                                      \
    struct policy_info<P> {                                                          \
        static constexpr std::string_view help = HELP;                               \
        static P make([[maybe_unused]] const policy_params& k) { return __VA_ARGS__; } \
    }

// ---- schedules ----
DDIFF_POLICY(schedule::log_linear, "alpha = 1 - (1 - eps) t (SEDD, MDLM, LLaDA)", schedule::log_linear{});
DDIFF_POLICY(schedule::mdlm_cosine, "MDLM's cosine", schedule::mdlm_cosine{});
DDIFF_POLICY(schedule::mdlm_cosine_squared, "MDLM's squared cosine", schedule::mdlm_cosine_squared{});
DDIFF_POLICY(schedule::duo_cosine, "DUO's cosine", schedule::duo_cosine{});
DDIFF_POLICY(schedule::geometric, "SEDD's geometric sigma", schedule::geometric{});
DDIFF_POLICY(schedule::linear_sigma, "linear total noise sigma", schedule::linear_sigma{});
DDIFF_POLICY(schedule::maskgit_cosine, "MaskGIT's cosine gamma", schedule::maskgit_cosine{});
DDIFF_POLICY(schedule::remdm_loop, "ReMDM's loop: alpha held constant for t in (0.05, 0.55]", schedule::remdm_loop{});

// ---- remasking strategies ----
DDIFF_POLICY(remask::low_confidence, "LLaDA: untempered softmax probability of the proposal", remask::low_confidence{});
DDIFF_POLICY(remask::random, "LLaDA: uniform random order", remask::random{});
DDIFF_POLICY(remask::confidence, "Dream maskgit_plus: probability of the proposal after temperature/filters",
             remask::confidence{});
DDIFF_POLICY(remask::margin, "Dream topk_margin: top-1 minus top-2 probability", remask::margin{});
DDIFF_POLICY(remask::entropy, "Dream: negative entropy of the proposal distribution", remask::entropy{});
DDIFF_POLICY(remask::maskgit_gumbel, "MaskGIT: log confidence plus annealed Gumbel noise",
             remask::maskgit_gumbel{k.choice_temperature});
DDIFF_POLICY(remask::credit, "dInfer credit fusion (pair with dinfer_threshold)", remask::credit{});
DDIFF_POLICY(remask::klass, "KLASS: KL-stable positions above --threshold first (pair with threshold)", [&] {
    remask::klass r;
    r.tau = k.threshold;
    return r;
}());

// ---- step rules ----
DDIFF_POLICY(sampler::top_k, "LLaDA: the planned count per step, best scores first", sampler::top_k{});
DDIFF_POLICY(sampler::dream_count, "Dream: floor(M (1 - s/t)) per step", sampler::dream_count{});
DDIFF_POLICY(sampler::schedule_count<false>, "dllm: the schedule's expected count per step",
             sampler::schedule_count<false>{});
DDIFF_POLICY(sampler::schedule_count<true>, "dllm: a Binomial count per step", sampler::schedule_count<true>{});
DDIFF_POLICY(sampler::ancestral, "MDLM: the exact absorbing posterior", sampler::ancestral{});
DDIFF_POLICY(sampler::threshold, "Fast-dLLM: the best and every score >= --threshold", sampler::threshold(k.threshold));
DDIFF_POLICY(sampler::sdar_static, "SDAR: L // steps (+1 early) best scores per step, L the block length",
             sampler::sdar_static(k.threshold));
DDIFF_POLICY(sampler::sdar_dynamic, "SDAR: every score > --threshold if that many, else sdar_static's count",
             sampler::sdar_dynamic(k.threshold));
DDIFF_POLICY(sampler::factor, "Fast-dLLM: the factor rule (--factor)", sampler::factor(k.factor));
DDIFF_POLICY(sampler::entropy_bounded, "EB-sampler: entropy budget --gamma", sampler::entropy_bounded(k.gamma));
DDIFF_POLICY(sampler::first_hitting, "first-hitting: one exact token per model call", sampler::first_hitting{});
DDIFF_POLICY(sampler::maskgit, "MaskGIT: keep floor(N0 gamma(r)) masked", sampler::maskgit{});
DDIFF_POLICY(sampler::dinfer_threshold, "dInfer: threshold with the best always committed",
             sampler::dinfer_threshold(k.threshold));
DDIFF_POLICY(sampler::dinfer_hierarchical, "dInfer: per contiguous run (--threshold, --low-threshold)",
             sampler::dinfer_hierarchical(k.threshold, k.low_threshold));
DDIFF_POLICY(sampler::remdm_cap, "ReMDM: re-mask with sigma = min(eta, sigma_max)",
             k.eta ? sampler::remdm_cap(*k.eta) : sampler::remdm_cap{});
DDIFF_POLICY(sampler::remdm_rescale, "ReMDM: re-mask with sigma = eta min(1, sigma_max)",
             k.eta ? sampler::remdm_rescale(*k.eta) : sampler::remdm_rescale{});
DDIFF_POLICY(sampler::remdm_conf, "ReMDM: re-mask low-confidence tokens first",
             k.eta ? sampler::remdm_conf(*k.eta) : sampler::remdm_conf{});
DDIFF_POLICY(sampler::remdm_loop, "ReMDM: re-mask where the schedule holds alpha (--schedule remdm_loop)",
             k.eta ? sampler::remdm_loop(*k.eta) : sampler::remdm_loop{});
DDIFF_POLICY(sampler::sedd_euler<>, "SEDD: Euler step of the reverse CTMC", sampler::sedd_euler<>{});
DDIFF_POLICY(sampler::sedd_analytic<>, "SEDD: analytic (Tweedie) step", sampler::sedd_analytic<>{});
DDIFF_POLICY(sampler::duo, "DUO/UDLM: ancestral posterior, posterior noise removal", sampler::duo{});
DDIFF_POLICY(sampler::duo_greedy, "DUO/UDLM: ancestral posterior, greedy noise removal", sampler::duo_greedy{});
DDIFF_POLICY(sampler::sedd_euler<noise_kind::uniform>, "SEDD: Euler step, uniform noise",
             sampler::sedd_euler<noise_kind::uniform>{});
DDIFF_POLICY(sampler::sedd_analytic<noise_kind::uniform>, "SEDD: analytic step, uniform noise",
             sampler::sedd_analytic<noise_kind::uniform>{});

#undef DDIFF_POLICY

using schedules = type_list<schedule::log_linear, schedule::mdlm_cosine, schedule::mdlm_cosine_squared,
                            schedule::duo_cosine, schedule::geometric, schedule::linear_sigma, schedule::maskgit_cosine,
                            schedule::remdm_loop>;
using remasks = type_list<remask::low_confidence, remask::random, remask::confidence, remask::margin, remask::entropy,
                          remask::maskgit_gumbel, remask::credit, remask::klass>;
using absorbing_samplers =
    type_list<sampler::top_k, sampler::dream_count, sampler::schedule_count<false>, sampler::schedule_count<true>,
              sampler::ancestral, sampler::threshold, sampler::factor, sampler::entropy_bounded, sampler::first_hitting,
              sampler::maskgit, sampler::dinfer_threshold, sampler::dinfer_hierarchical, sampler::remdm_cap,
              sampler::remdm_rescale, sampler::remdm_conf, sampler::remdm_loop, sampler::sedd_euler<>,
              sampler::sedd_analytic<>, sampler::sdar_static, sampler::sdar_dynamic>;
using uniform_samplers = type_list<sampler::duo, sampler::duo_greedy, sampler::sedd_euler<noise_kind::uniform>,
                                   sampler::sedd_analytic<noise_kind::uniform>>;

// Names of a list, in order.
template <class... P>
std::vector<std::string_view> names(type_list<P...>) {
    return {std::string_view(P::name)...};
}

// "  name  help" lines for --help.
template <class... P>
std::string help_lines(type_list<P...>) {
    std::string s;
    auto line = [&](std::string_view name, std::string_view help) {
        std::string n(name);
        n.resize(std::max<std::size_t>(n.size() + 2, 22), ' ');
        s += "  " + n + std::string(help) + "\n";
    };
    (line(P::name, policy_info<P>::help), ...);
    return s;
}

// Calls f.template operator()<P>() for the policy P of `list` named `name`; an unknown name is
// an option_error for `field` listing the valid names.
template <class F, class... P>
auto dispatch(type_list<P...> list, std::string_view field, std::string_view name, F&& f) {
    using R = decltype(f.template operator()<std::tuple_element_t<0, std::tuple<P...>>>());
    if constexpr (std::is_void_v<R>) {
        bool found = false;
        ((!found && name == P::name ? (found = true, f.template operator()<P>(), 0) : 0), ...);
        if (found) return;
    } else {
        std::optional<R> r;
        ((!r && name == P::name ? (r.emplace(f.template operator()<P>()), 0) : 0), ...);
        if (r) return std::move(*r);
    }
    field_info info{.name = field};
    info.choices = names(list);
    throw option_error(std::string(field), std::string(name), detail::choices_text(info));
}

template <class List>
struct variant_of;
template <class... P>
struct variant_of<type_list<P...>> {
    using type = std::variant<P...>;
};

// The schedule chosen by name.
struct any_schedule {
    using schedule_concept = schedule_tag;
    typename variant_of<schedules>::type s;

    static any_schedule make(std::string_view name, const policy_params& k = {}) {
        return dispatch(schedules{}, "schedule", name,
                        [&]<class P>() { return any_schedule{policy_info<P>::make(k)}; });
    }
    const char* name() const {
        return std::visit([](const auto& x) { return std::remove_cvref_t<decltype(x)>::name; }, s);
    }
    double alpha(double t) const {
        return std::visit([t](const auto& x) { return x.alpha(t); }, s);
    }
    double alpha_prime(double t) const {
        return std::visit([t](const auto& x) { return x.alpha_prime(t); }, s);
    }
};

// The remasking strategy chosen by name, with the optional hooks of the stateful ones.
struct any_remask {
    using remask_concept = remask_tag;
    typename variant_of<remasks>::type r;

    static any_remask make(std::string_view name, const policy_params& k = {}) {
        return dispatch(remasks{}, "remask", name, [&]<class P>() { return any_remask{policy_info<P>::make(k)}; });
    }
    const char* name() const {
        return std::visit([](const auto& x) { return std::remove_cvref_t<decltype(x)>::name; }, r);
    }
    double score(const position_view& v, const step_info& s, const counter_rng& g) const {
        return std::visit([&](const auto& x) { return x.score(v, s, g); }, r);
    }
    ddiff::reads reads() const {
        return std::visit([](const auto& x) { return policy::reads_of(x); }, r);
    }
    void reset(std::size_t rows, std::size_t block_length, std::size_t vocab) {
        std::visit([&](auto& x) {
            if constexpr (requires { x.reset(rows, block_length, vocab); }) x.reset(rows, block_length, vocab);
        }, r);
    }
    void fuse_logits(std::size_t row, std::size_t position, std::span<double> logits, const step_info& s) {
        std::visit([&](auto& x) {
            if constexpr (requires { x.fuse_logits(row, position, logits, s); }) x.fuse_logits(row, position, logits, s);
        }, r);
    }
    void update(const position_view& v, const step_info& s) {
        std::visit([&](auto& x) {
            if constexpr (requires { x.update(v, s); }) x.update(v, s);
        }, r);
    }
};

// The step rule chosen by name, among the rules of one noise: its traits (adaptive, remasks,
// reshapes, reads) are the chosen rule's, asked at run time.
template <class List, noise_kind Noise>
struct any_sampler {
    using sampler_concept = sampler_tag;
    static constexpr noise_kind noise = Noise;
    typename variant_of<List>::type s;

    static any_sampler make(std::string_view name, const policy_params& k = {}) {
        return dispatch(List{}, "sampler", name, [&]<class P>() { return any_sampler{policy_info<P>::make(k)}; });
    }
    const char* name() const {
        return std::visit([](const auto& x) { return std::remove_cvref_t<decltype(x)>::name; }, s);
    }
    bool adaptive() const {
        return std::visit([](const auto& x) { return policy::adaptive(x); }, s);
    }
    bool remasks() const {
        return std::visit([](const auto& x) { return policy::remasks(x); }, s);
    }
    bool reshapes() const {
        return std::visit([](const auto& x) { return policy::reshapes(x); }, s);
    }
    ddiff::reads reads() const {
        return std::visit([](const auto& x) { return policy::reads_of(x); }, s);
    }
    void step(sampler::step_context& c) {
        std::visit([&](auto& x) { x.step(c); }, s);
    }
    void reshape(std::span<double> p, token_id current, const step_info& info, std::span<double> scratch) const {
        std::visit([&](const auto& x) {
            if constexpr (policy::has_reshape<std::remove_cvref_t<decltype(x)>>()) x.reshape(p, current, info, scratch);
        }, s);
    }
};
using any_absorbing_sampler = any_sampler<absorbing_samplers, noise_kind::absorbing>;
using any_uniform_sampler = any_sampler<uniform_samplers, noise_kind::uniform>;

}  // namespace ddiff::runtime
