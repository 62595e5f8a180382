// The composable decoder: ddiff::decoder<Model, Schedule, Remask, Sampler> runs the loop
// every masked-diffusion sampler shares (find masked -> forward -> propose -> score -> select
// -> write, as llama.cpp's diffusion example and LLaDA's generate() do), with the choices made
// by policies at compile time. Blocks, temperature / top-k / top-p, CFG, EOS handling,
// infilling, batches and observers are decoder options every combination gets.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <thread>
#include <type_traits>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/core/logits.hpp"
#include "ddiff/core/sampling.hpp"
#include "ddiff/decoder/options.hpp"
#include "ddiff/sampler/context.hpp"

namespace ddiff {

// Observers receive one step_record per row and step; this one ignores them.
struct no_observer {
    void operator()(const step_record&) const noexcept {}
};

namespace detail {
// The noise a sampler works with (absorbing unless it says otherwise).
template <class S>
constexpr noise_kind sampler_noise() {
    if constexpr (requires { S::noise; })
        return S::noise;
    else
        return noise_kind::absorbing;
}
template <class S>
constexpr bool is_adaptive() {
    if constexpr (requires { S::adaptive; })
        return S::adaptive;
    else
        return false;
}
// Whether the model's output depends on the noise level; if not, a step that changed nothing
// reuses the last output (MDLM's ddpm_cache). Absorbing models default to time-free.
template <class M>
constexpr bool time_conditioned() {
    if constexpr (requires { M::time_conditioned; })
        return M::time_conditioned;
    else
        return M::noise != noise_kind::absorbing;
}
// Whether the model can recompute a row range against a KV cache (model::kv_cache).
template <class M>
constexpr bool has_kv_cache() {
    if constexpr (requires { typename M::cache_type; })
        return requires(M& m, std::span<const token_id> ids, typename M::cache_type& c, float* out) {
            m.forward_cached(ids, std::size_t{}, std::size_t{}, c, out);
        };
    else
        return false;
}
template <class M>
struct cache_type_of {
    using type = int;  // unused placeholder for models without a KV cache
};
template <class M>
    requires requires { typename M::cache_type; }
struct cache_type_of<M> {
    using type = typename M::cache_type;
};
template <class M>
using cache_of = typename cache_type_of<M>::type;
template <class S>
constexpr bool has_reshape() {
    return requires(const S& s, std::span<double> p, const sampler::reshape_info& r) { s.reshape(p, r); };
}
// Dream-style models: the logit for position i comes from position i - 1.
template <class M>
constexpr bool shifts_logits() {
    if constexpr (requires { M::shift_logits; })
        return M::shift_logits;
    else
        return false;
}
}  // namespace detail

template <class Model, class Schedule, class Remask, class Sampler>
class decoder {
    static_assert(check_denoiser<Model>());
    static_assert(check_noise_schedule<Schedule>());
    static_assert(check_remasking_strategy<Remask>());
    static_assert(check_sampler<Sampler>());
    static_assert(sampler_policy_for<Sampler, sampler::step_context>,
                  "ddiff::decoder: the sampler needs `void step(ddiff::sampler::step_context&)`");
    static_assert(detail::sampler_noise<Sampler>() == Model::noise || detail::sampler_noise<Sampler>() == noise_kind::hybrid,
                  "ddiff::decoder: the sampler and the model assume different forward processes (a uniform-noise "
                  "sampler needs a uniform-noise model, an absorbing one a model with a mask token)");
    static_assert(Model::noise != noise_kind::absorbing || masked_denoiser<Model>,
                  "ddiff::decoder: an absorbing-noise model must provide mask_id()");

public:
    using logit_type = typename Model::logit_type;

    explicit decoder(Model& model, Schedule schedule = Schedule(), Remask remask = Remask(), Sampler sampler = Sampler())
        : model_(&model), schedule_(std::move(schedule)), remask_(std::move(remask)), sampler_(std::move(sampler)) {}

    const Schedule& schedule() const noexcept { return schedule_; }
    const Remask& remask() const noexcept { return remask_; }
    const Sampler& step_rule() const noexcept { return sampler_; }

    // prompt + gen_length masks, decoded.
    template <class Observer = no_observer>
    generate_result generate(const sequence& prompt, const generate_options& o, Observer&& observe = {}) {
        token_batch x = xt::zeros<token_id>({std::size_t{1}, prompt.size() + o.gen_length});
        for (std::size_t i = 0; i < x.shape(1); ++i) x(0, i) = i < prompt.size() ? prompt(i) : mask_token();
        return run(std::move(x), prompt.size(), x.shape(1), o, observe);
    }

    // A batch of prompts of equal length, each followed by gen_length masks.
    template <class Observer = no_observer>
    generate_result generate(const token_batch& prompts, const generate_options& o, Observer&& observe = {}) {
        const std::size_t B = prompts.shape(0), P = prompts.shape(1);
        token_batch x = xt::zeros<token_id>({B, P + o.gen_length});
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t i = 0; i < x.shape(1); ++i) x(b, i) = i < P ? prompts(b, i) : mask_token();
        return run(std::move(x), P, x.shape(1), o, observe);
    }

    // Infilling and editing: every non-mask position is kept, every mask regenerated; blocks
    // (if any) tile the whole canvas. gen_length is ignored.
    template <class Observer = no_observer>
    generate_result infill(token_batch canvas, const generate_options& o, Observer&& observe = {}) {
        static_assert(Model::noise == noise_kind::absorbing,
                      "ddiff::decoder::infill: infilling marks the positions to regenerate with the mask token, "
                      "so it needs an absorbing-noise model");
        const std::size_t L = canvas.shape(1);
        return run(std::move(canvas), 0, L, o, observe);
    }

private:
    struct scratch {
        std::vector<double> logits, probs;
    };

    void validate(const token_batch& x, std::size_t begin, std::size_t end, const generate_options& o) const {
        const char* who = "decoder";
        detail::require(o.steps >= 1, who, "steps", o.steps, "at least 1");
        detail::require(end > begin, who, "gen_length", end - begin, "at least 1 position to generate");
        const std::size_t region = end - begin;
        const std::size_t bl = o.block_length == 0 ? region : o.block_length;
        if (region % bl != 0)
            detail::fail(who, ": block_length = ", bl, " does not divide the generated length ", region,
                         ", expected a divisor");
        const std::size_t blocks = region / bl;
        if (!detail::is_adaptive<Sampler>() && o.steps % blocks != 0)
            detail::fail(who, ": steps = ", o.steps, " is not a multiple of the ", blocks,
                         " blocks, expected steps divisible by gen_length / block_length");
        if (!detail::is_adaptive<Sampler>() && o.steps < blocks)
            detail::fail(who, ": steps = ", o.steps, " is fewer than the ", blocks, " blocks");
        detail::require(std::isfinite(o.temperature) && o.temperature >= 0.0, who, "temperature", o.temperature,
                        "a finite value >= 0");
        detail::require(o.top_p > 0.0 && o.top_p <= 1.0, who, "top_p", o.top_p, "a value in (0, 1]");
        detail::require(std::isfinite(o.cfg_scale) && o.cfg_scale >= 0.0, who, "cfg_scale", o.cfg_scale,
                        "a finite value >= 0");
        detail::require(o.threads >= 1, who, "threads", o.threads, "at least 1");
        const std::size_t V = model_->vocab_size();
        for (token_id e : o.eos_ids)
            detail::require(e >= 0 && static_cast<std::size_t>(e) < V, who, "eos id", e, "an id below vocab_size");
        for (token_id v : x)
            detail::require(v >= 0 && static_cast<std::size_t>(v) < V, who, "token", v, "an id below vocab_size");
        if (x.shape(0) == 0) detail::fail<shape_error>(who, ": empty batch, expected at least one row");
        if (o.cache != kv_cache_mode::none) {
            if (!detail::has_kv_cache<Model>())
                detail::fail(who, ": cache = ", name(o.cache),
                             " needs a model with a KV cache (forward_cached: LLaDA, Dream), expected cache = none");
            if (o.cfg_scale > 0.0)
                detail::fail(who, ": cache = ", name(o.cache),
                             " with cfg_scale = ", o.cfg_scale, ", expected cfg_scale = 0 (CFG is not cached)");
        }
    }

    template <class Observer>
    generate_result run(token_batch x, std::size_t begin, std::size_t end, const generate_options& o,
                        Observer& observe) {
        constexpr bool absorbing = Model::noise == noise_kind::absorbing;
        const std::size_t B = x.shape(0), L = x.shape(1), V = model_->vocab_size();
        const token_id mask = mask_token();
        if constexpr (!absorbing) {
            // Uniform noise: the region starts from the prior, uniform random tokens.
            for (std::size_t b = 0; b < B; ++b) {
                const counter_rng g(o.seed, b);
                for (std::size_t i = begin; i < end; ++i) {
                    const auto v = static_cast<std::size_t>(g.uniform({streams::forward_noise, 0, std::uint32_t(i)}) *
                                                            static_cast<double>(V));
                    x(b, i) = static_cast<token_id>(std::min(v, V - 1));
                }
            }
        }
        validate(x, begin, end, o);
        if constexpr (requires { remask_.reset(B, L, V); }) remask_.reset(B, L, V);
        const std::size_t region = end - begin;
        const std::size_t bl = o.block_length == 0 ? region : o.block_length;
        const std::size_t blocks = region / bl;
        constexpr bool adaptive = detail::is_adaptive<Sampler>();
        const std::uint32_t steps_per_block = adaptive ? std::max<std::uint32_t>(1, o.steps / blocks)
                                                       : static_cast<std::uint32_t>(o.steps / blocks);

        // Given positions are never changed; CFG's unconditional input masks them.
        xt::xtensor<bool, 2> given = xt::zeros<bool>({B, L});
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t i = 0; i < L; ++i) given(b, i) = absorbing ? x(b, i) != mask : (i < begin || i >= end);

        generate_result res;
        xt::xtensor<logit_type, 3> logits, logits_u;
        token_batch x_u, last_input;
        bool have_cache = false;
        std::vector<detail::cache_of<Model>> kv_caches;  // one per row with a KV cache mode
        std::vector<double> alpha(B), row_time(B, 1.0);
        std::vector<std::vector<sampler::candidate>> cands(B);
        std::vector<std::vector<std::size_t>> decoded(B);
        std::vector<std::size_t> masked_at_start(B);
        xt::xtensor<double, 2> unmask_conf =
            xt::xtensor<double, 2>::from_shape({B, L});
        unmask_conf.fill(-std::numeric_limits<double>::infinity());
        std::vector<scratch> work(o.threads);
        std::uint32_t global_step = 0;

        for (std::size_t blk = 0; blk < blocks; ++blk) {
            const std::size_t bb = begin + blk * bl, be = bb + bl;
            for (std::size_t b = 0; b < B; ++b) {
                masked_at_start[b] = 0;
                for (std::size_t i = bb; i < be; ++i) masked_at_start[b] += absorbing ? x(b, i) == mask : !given(b, i);
                row_time[b] = 1.0;
            }
            const std::size_t cap = o.max_steps_per_block ? o.max_steps_per_block : bl;
            for (std::uint32_t j = 0;; ++j) {
                if (!adaptive && j >= steps_per_block) break;
                if constexpr (absorbing) {
                    bool any = false;
                    for (std::size_t b = 0; b < B && !any; ++b)
                        for (std::size_t i = bb; i < be && !any; ++i) any = x(b, i) == mask;
                    if (!any) break;
                }
                if (adaptive && j >= cap)
                    detail::fail("decoder: the adaptive sampler '", Sampler::name, "' made no progress in ", cap,
                                 " steps of a block, expected at least one commit per step");
                const double t = adaptive ? 1.0 : 1.0 - static_cast<double>(j) / steps_per_block;
                const double s = adaptive ? 0.0 : 1.0 - static_cast<double>(j + 1) / steps_per_block;
                for (std::size_t b = 0; b < B; ++b) alpha[b] = schedule_.alpha(adaptive ? row_time[b] : t);

                // MDLM's cache: a time-free model whose input did not change gives the same output.
                const bool reuse = !detail::time_conditioned<Model>() && o.cache == kv_cache_mode::none &&
                                   have_cache && last_input == x;
                if (!reuse) {
                    if (o.cache != kv_cache_mode::none) {
                        if constexpr (detail::has_kv_cache<Model>()) {
                            // Fast-dLLM: a full call at the block start, then only the rows that
                            // change (see kv_cache_mode); logits of the other rows are not read.
                            if (logits.shape(0) != B || logits.shape(1) != L || logits.shape(2) != V)
                                logits = xt::xtensor<logit_type, 3>::from_shape({B, L, V});
                            kv_caches.resize(B);
                            const std::size_t lo = detail::shifts_logits<Model>() ? std::max<std::size_t>(bb, 1) - 1 : bb;
                            const std::size_t hi = o.cache == kv_cache_mode::prefix ? L : be;
                            for (std::size_t b = 0; b < B; ++b) {
                                const bool full = j == 0 || kv_caches[b].tokens != L;
                                const std::size_t first = full ? 0 : lo, count = full ? L : hi - lo;
                                model_->forward_cached(std::span<const token_id>(x.data() + b * L, L), first, count,
                                                       kv_caches[b], logits.data() + (b * L + first) * V);
                            }
                        }
                    } else {
                        model_->denoise(x, alpha, logits);
                    }
                    ++res.nfe;
                    if (o.cfg_scale > 0.0) {
                        x_u = x;
                        for (std::size_t b = 0; b < B; ++b)
                            for (std::size_t i = 0; i < L; ++i)
                                if (given(b, i)) x_u(b, i) = mask;
                        model_->denoise(x_u, alpha, logits_u);
                        ++res.nfe;
                    }
                    if (logits.shape(0) != B || logits.shape(1) != L || logits.shape(2) != V)
                        detail::fail<shape_error>("decoder: the model returned logits of shape (", logits.shape(0),
                                                  ", ", logits.shape(1), ", ", logits.shape(2), "), expected (", B,
                                                  ", ", L, ", ", V, ")");
                    last_input = x;
                    have_cache = true;
                }

                const step_info info{global_step, steps_per_block, t, s, j, bb};
                for (std::size_t b = 0; b < B; ++b) {
                    auto& cs = cands[b];
                    cs.clear();
                    decoded[b].clear();
                    for (std::size_t i = bb; i < be; ++i) {
                        if (given(b, i)) continue;
                        if (!absorbing || x(b, i) == mask)
                            cs.push_back({i});
                        else
                            decoded[b].push_back(i);
                    }
                    if (cs.empty() && decoded[b].empty()) continue;
                    const counter_rng g(o.seed, b);
                    const double a_t = schedule_.alpha(adaptive ? row_time[b] : t);
                    const double a_s = schedule_.alpha(adaptive ? 0.0 : s);
                    const double tt = adaptive ? row_time[b] : t;
                    const double sp = tt > 0.0 ? -schedule_.alpha_prime(tt) / a_t : 0.0;
                    const sampler::reshape_info shape{0, mask, tt, adaptive ? 0.0 : s, a_t, a_s, sp,
                                                      adaptive || j + 1 >= steps_per_block};
                    propose(b, cs, x, logits, logits_u, o, info, shape, g, work);
                    sampler::step_context ctx{std::span<token_id>(x.data() + b * L, L), cs, mask, global_step, j,
                                              steps_per_block, masked_at_start[b], tt, shape.s, a_t, a_s,
                                              &row_time[b], &g};
                    ctx.alg_temp = o.alg_temp;
                    ctx.sigma_prime_t = sp;
                    ctx.decoded = decoded[b];
                    ctx.unmask_confidence = std::span<double>(unmask_conf.data() + b * L, L);
                    sampler_.step(ctx);
                    if constexpr (!std::is_same_v<std::decay_t<Observer>, no_observer>) {
                        step_record rec{global_step, blk, b, {}, &x};
                        for (const auto& c : cs)
                            if (x(b, c.position) != mask) rec.committed.push_back(c.position);
                        observe(rec);
                    }
                }
                ++global_step;
                ++res.steps;
            }
        }
        res.tokens = std::move(x);
        return res;
    }

    token_id mask_token() const {
        if constexpr (Model::noise == noise_kind::absorbing)
            return model_->mask_id();
        else
            return -1;  // uniform noise has no mask
    }

    // Fills token, score, confidence and entropy of every candidate of row b.
    void propose(std::size_t b, std::vector<sampler::candidate>& cs, const token_batch& x,
                 const xt::xtensor<logit_type, 3>& logits, const xt::xtensor<logit_type, 3>& logits_u,
                 const generate_options& o, const step_info& info, const sampler::reshape_info& shape,
                 const counter_rng& g, std::vector<scratch>& work) const {
        const std::size_t n = cs.size();
        const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(o.threads, n));
        auto run_range = [&](unsigned w, std::size_t lo, std::size_t hi) {
            for (std::size_t k = lo; k < hi; ++k) {
                sampler::reshape_info r = shape;
                r.position = cs[k].position;
                r.current = x(b, cs[k].position);
                propose_one(b, cs[k], logits, logits_u, o, info, r, g, work[w]);
            }
        };
        if (threads <= 1) return run_range(0, 0, n);
        std::vector<std::thread> pool;
        const std::size_t chunk = (n + threads - 1) / threads;
        for (unsigned w = 1; w < threads; ++w)
            pool.emplace_back(run_range, w, std::min(n, w * chunk), std::min(n, (w + 1) * chunk));
        run_range(0, 0, std::min(n, chunk));
        for (auto& th : pool) th.join();
    }

    void propose_one(std::size_t b, sampler::candidate& c, const xt::xtensor<logit_type, 3>& logits,
                     const xt::xtensor<logit_type, 3>& logits_u, const generate_options& o, const step_info& info,
                     const sampler::reshape_info& shape, const counter_rng& g, scratch& w) const {
        const std::size_t V = logits.shape(2), L = logits.shape(1);
        const std::size_t src = detail::shifts_logits<Model>() && c.position > 0 ? c.position - 1 : c.position;
        w.logits.resize(V);
        w.probs.resize(V);
        const logit_type* row = logits.data() + (b * L + src) * V;
        if (o.cfg_scale > 0.0) {
            // LLaDA unsupervised CFG: l_u + (w + 1)(l_c - l_u).
            const logit_type* row_u = logits_u.data() + (b * L + src) * V;
            for (std::size_t v = 0; v < V; ++v)
                w.logits[v] = double(row_u[v]) + (o.cfg_scale + 1.0) * (double(row[v]) - double(row_u[v]));
        } else {
            for (std::size_t v = 0; v < V; ++v) w.logits[v] = double(row[v]);
        }
        if (o.suppress_eos)
            for (token_id e : o.eos_ids) w.logits[static_cast<std::size_t>(e)] = -std::numeric_limits<double>::infinity();
        if constexpr (requires { remask_.fuse_logits(b, c.position, std::span<double>(w.logits), info); })
            remask_.fuse_logits(b, c.position, std::span<double>(w.logits), info);
        // MDLM's SUBS "zero masking probability": a proposal is never the mask itself.
        if constexpr (Model::noise == noise_kind::absorbing)
            w.logits[static_cast<std::size_t>(model_->mask_id())] = -std::numeric_limits<double>::infinity();
        const std::span<const double> raw(w.logits);
        const double m = simd::row_max(w.logits.data(), V);
        double z = 0.0;
        for (double l : w.logits) z += std::exp(l - m);
        const double log_z = m + std::log(z);

        // p~: temperature (if > 0), top-k, top-p, softmax (Dream generation_utils.py sample_tokens).
        std::copy(w.logits.begin(), w.logits.end(), w.probs.begin());
        std::span<double> p(w.probs);
        if (o.temperature > 0.0) apply_temperature(p, o.temperature);
        if (o.top_k > 0) top_k_filter(p, o.top_k);
        if (o.top_p < 1.0) top_p_filter(p, o.top_p);
        softmax(p);
        if constexpr (detail::has_reshape<Sampler>()) sampler_.reshape(p, shape);
        const auto pos = static_cast<std::uint32_t>(c.position);
        c.token = static_cast<token_id>(o.temperature > 0.0
                                            ? sample_categorical(std::span<const double>(p), g, {streams::token, info.step, pos})
                                            : argmax(std::span<const double>(p)));
        c.confidence = p[static_cast<std::size_t>(c.token)];
        double h = 0.0;
        for (double q : p)
            if (q > 0.0) h -= q * std::log(q);
        c.entropy = h;
        c.score = remask_.score(position_view{c.position, std::span<const double>(p), c.token, raw, log_z, b}, info, g);
        if (o.eos_confidence_last && std::find(o.eos_ids.begin(), o.eos_ids.end(), c.token) != o.eos_ids.end())
            c.score = -std::numeric_limits<double>::infinity();
    }

    Model* model_;
    Schedule schedule_;
    Remask remask_;
    Sampler sampler_;
};

}  // namespace ddiff
