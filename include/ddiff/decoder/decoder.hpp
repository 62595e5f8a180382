// The composable decoder: ddiff::decoder<Model, Schedule, Remask, Sampler> runs the loop every
// masked-diffusion sampler shares (as LLaDA's generate() and llama.cpp's diffusion example do),
// with the choices made by policies at compile time:
//
//   for each block:
//     for each step, while the block needs one:
//       forward()      the model on the canvas (or its KV-cached rows; CFG's second call; MDLM's
//                      reuse of an unchanged input)
//       for each row:
//         candidates() the positions of the block to decide on
//         propose()    each one's proposal x^ ~ p~, its confidence and remasking score
//         commit()     the sampler writes (and, ReMDM, re-masks) positions
//         notify()     the observer sees the step (and may cancel the row)
//
// Blocks, temperature / top-p / top-k, CFG, EOS handling, infilling, batches, KV caches and
// observers are decoder options every combination gets. Block diffusion (options.block, a model
// with block-causal attention) adds two phases around each block: start_block() stores the
// finished blocks' keys and values in the exact cache when they are needed (and Fast-dLLM v2's
// next token), finish_block() stores them eagerly and stops a row at EOS; every forward() then
// computes only the current block's rows, and only the rows whose logits are read. The per-position work runs on the
// model's thread pool (or the decoder's own) and allocates nothing once warm.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/decoder/block_model.hpp"
#include "ddiff/decoder/options.hpp"
#include "ddiff/decoder/proposal.hpp"
#include "ddiff/decoder/step_clock.hpp"
#include "ddiff/math/logits.hpp"
#include "ddiff/math/sampling.hpp"
#include "ddiff/sampler/context.hpp"
#include "ddiff/simd/rows.hpp"
#include "ddiff/core/thread_pool.hpp"

namespace ddiff {

// Observers receive one step_record per row and step; returning false cancels the row.
struct no_observer {
    bool operator()(const step_record&) const noexcept { return true; }
};

namespace detail {
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
    using type = int;  // placeholder for models without a KV cache
};
template <class M>
    requires requires { typename M::cache_type; }
struct cache_type_of<M> {
    using type = typename M::cache_type;
};
}  // namespace detail

template <class Model, class Schedule, class Remask, class Sampler>
class decoder {
    static_assert(check_denoiser<Model>());
    static_assert(check_noise_schedule<Schedule>());
    static_assert(check_remasking_strategy<Remask>());
    static_assert(check_sampler<Sampler>());
    static_assert(sampler_policy_for<Sampler, sampler::step_context>,
                  "ddiff::decoder: the sampler needs `void step(ddiff::sampler::step_context&)`");
    static_assert(policy::noise_of<Sampler>() == Model::noise || policy::noise_of<Sampler>() == noise_kind::hybrid,
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
        token_batch prompts = xt::zeros<token_id>({std::size_t{1}, prompt.size()});
        std::copy(prompt.begin(), prompt.end(), prompts.begin());
        return generate(prompts, o, observe);
    }

    // A batch of prompts of equal length, each followed by gen_length masks (uniform noise:
    // random tokens).
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
        static_assert(absorbing, "ddiff::decoder::infill: infilling marks the positions to regenerate with the "
                                 "mask token, so it needs an absorbing-noise model");
        const std::size_t L = canvas.shape(1);
        return run(std::move(canvas), 0, L, o, observe);
    }

private:
    static constexpr bool absorbing = Model::noise == noise_kind::absorbing;
    static constexpr bool has_reshape = policy::has_reshape<Sampler>();
    using cache_t = typename detail::cache_type_of<Model>::type;
    using clock_t = std::chrono::steady_clock;

    // Everything one decode owns.
    struct run_state {
        const generate_options& o;
        token_batch x{};               // (B, L) the canvas
        std::size_t B = 0, L = 0, V = 0;
        std::size_t begin = 0, end = 0;  // the region decoded
        std::size_t block_length = 0, blocks = 0;
        token_id mask = -1;
        bool shift = false;            // the logits of position i are row i - 1 (Dream)
        reads needs{};                 // what the policies read (decoder computes only that)
        step_clock clock;
        bool adaptive = false;         // the rule's traits (static, or asked at run time)
        bool remasks = false;
        bool reshapes = false;
        std::size_t block = 0, block_begin = 0, block_end = 0;
        std::uint32_t step = 0;        // global step
        xt::xtensor<bool, 2> given{};  // (B, L) positions never changed
        std::vector<double> alpha{};   // (B) the noise level the model is called at
        xt::xtensor<logit_type, 3> logits{}, logits_u{};  // (B, L, V) conditional, unconditional (CFG)
        token_batch x_u{}, last_input{};
        bool have_output = false;
        std::vector<cache_t> kv{};     // one per row with a KV cache
        std::vector<std::vector<sampler::candidate>> candidates{};  // per row
        std::vector<std::vector<std::size_t>> decoded{};         // per row: decoded positions of the block
        std::vector<std::size_t> masked_at_block_start{};        // per row
        xt::xtensor<double, 2> unmask_confidence{};              // (B, L)
        double forward_seconds = 0.0;  // this step's
        generate_result res{};
        std::vector<bool> stopped{};     // (B) rows that stopped at EOS
        // Block diffusion (options.block): attention blocks of att rows from row 0; decode units
        // of block_length from unit0 on; the current attention block [att_begin, att_end).
        bool bd = false;
        std::size_t att = 0, unit0 = 0, att_begin = 0, att_end = 0;
        std::size_t last_forward_block = std::size_t(-1);
        std::vector<model::kv_cache> bkv{};        // (B) the exact caches
        std::vector<std::size_t> stored{};         // (B) rows [0, stored) finished and stored
        std::vector<bool> boundary{};              // (B) the logits of row att_begin - 1 are in slot 0
        std::vector<float> blogits{};              // (B, att + 1, V): compact rows read; index 0 = row att_begin - 1
        std::vector<std::int32_t> slot{};          // (B, att + 1): compact index of row att_begin - 1 + k, or -1
        std::vector<std::int64_t> positions{};     // (B, L) RoPE positions (pad_id)
        std::vector<std::uint8_t> valid{};         // (B, L) keys that are not padding (pad_id)
        std::vector<std::size_t> rows{};           // scratch
    };

    template <class Observer>
    generate_result run(token_batch x, std::size_t begin, std::size_t end, const generate_options& o,
                        Observer& observe) {
        run_state st = start(std::move(x), begin, end, o);
        for (st.block = 0; st.block < st.blocks && active_rows(st) > 0; ++st.block) {
            start_block(st);
            while (block_needs_step(st)) {
                forward(st);
                for (std::size_t b = 0; b < st.B; ++b) {
                    if (!live(st, b) || stop_if_all_eos(st, b) || !candidates(st, b)) continue;
                    const auto t0 = clock_t::now();
                    const step_info info = info_of(st, b);
                    propose(st, b, info);
                    commit(st, b, info);
                    st.res.select_seconds += seconds_since(t0);
                    notify(st, b, info, observe);
                }
                st.clock.advance();
                ++st.step;
                ++st.res.steps;
            }
            finish_block(st);
        }
        st.res.tokens = std::move(st.x);
        return std::move(st.res);
    }

    // ---- set-up ----

    run_state start(token_batch x, std::size_t begin, std::size_t end, const generate_options& o) {
        const std::size_t B = x.shape(0), L = x.shape(1), V = model_->vocab_size();
        const std::size_t region = end > begin ? end - begin : 0;
        const std::size_t att = o.block.enabled ? attention_block() : 0;
        std::size_t bl = o.block_length == 0 ? (o.block.enabled ? att : region) : o.block_length;
        // Block diffusion: decode units tile the canvas from row 0; the first one holds position
        // `begin` (it may hold prompt tokens, which stay), the last one may end at the canvas end.
        const std::size_t unit0 = o.block.enabled && bl > 0 ? begin / bl : 0;
        std::size_t blocks = bl > 0 ? region / bl : 0;
        if (o.block.enabled && bl > 0) blocks = end > begin ? (end + bl - 1) / bl - unit0 : 0;
        const bool adaptive = policy::adaptive(sampler_);
        const std::uint32_t per_block =
            blocks == 0 ? 1 : adaptive ? std::max<std::uint32_t>(1, o.steps / blocks) : o.steps / std::uint32_t(blocks);
        run_state st{.o = o, .x = std::move(x), .clock = step_clock(adaptive, per_block, B)};
        st.adaptive = adaptive;
        st.remasks = policy::remasks(sampler_);
        st.reshapes = policy::reshapes(sampler_);
        st.B = B, st.L = L, st.V = V, st.begin = begin, st.end = end;
        st.block_length = bl, st.blocks = blocks;
        st.bd = o.block.enabled, st.att = att, st.unit0 = unit0;
        st.mask = mask_token();
        st.shift = policy::shift_logits(*model_) || o.right_shift_logits;
        const reads r = policy::reads_of(remask_), s = policy::reads_of(sampler_);
        st.needs = {.probs = r.probs || s.probs, .logits = r.logits || s.logits, .entropy = r.entropy || s.entropy};
        if constexpr (!absorbing) {
            // Uniform noise: the region starts from the prior, uniform random tokens.
            for (std::size_t b = 0; b < B; ++b) {
                const counter_rng g = rng(o, b);
                for (std::size_t i = begin; i < end; ++i) {
                    const auto v = static_cast<std::size_t>(g.uniform({streams::forward_noise, 0, std::uint32_t(i)}) *
                                                            static_cast<double>(V));
                    st.x(b, i) = static_cast<token_id>(std::min(v, V - 1));
                }
            }
        }
        validate(st);
        if constexpr (requires { remask_.reset(B, bl, V); }) remask_.reset(B, bl, V);
        st.given = xt::zeros<bool>({B, L});
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t i = 0; i < L; ++i)
                st.given(b, i) = absorbing ? st.x(b, i) != st.mask : (i < begin || i >= end);
        st.alpha.assign(B, 0.0);
        st.candidates.resize(B);
        st.decoded.resize(B);
        st.masked_at_block_start.assign(B, 0);
        st.unmask_confidence = xt::xtensor<double, 2>::from_shape({B, L});
        st.unmask_confidence.fill(-std::numeric_limits<double>::infinity());
        st.res.cancelled.assign(B, false);
        st.res.length.assign(B, L);
        st.stopped.assign(B, false);
        if (st.bd) {
            st.bkv.assign(B, model::kv_cache{});
            st.stored.assign(B, 0);
            st.boundary.assign(B, false);
            st.blogits.assign(B * (att + 1) * V, 0.0f);
            st.slot.assign(B * (att + 1), -1);
            st.rows.reserve(att + 1);
        }
        const std::size_t threads = pool(o).size();
        if (work_.size() < threads) work_.resize(threads);
        for (auto& w : work_) w.reserve(V);
        return st;
    }

    void validate(const run_state& st) const {
        const char* who = "decoder";
        const auto& o = st.o;
        detail::require(o.steps >= 1, who, "steps", o.steps, "at least 1");
        detail::require(st.end > st.begin, who, "gen_length", st.end - st.begin, "at least 1 position to generate");
        const std::size_t region = st.end - st.begin;
        if (o.block.enabled) validate_block(st);
        if (!o.block.enabled && o.cache == kv_cache_mode::block)
            detail::fail(who, ": cache = block is the exact cache of a block-diffusion decode, expected "
                              "block.enabled with a block-causal model (or cache = none / prefix / dual)");
        if (o.stop_when_all_eos) {
            if (o.eos_ids.empty()) detail::fail(who, ": stop_when_all_eos without eos_ids, expected the EOS ids");
            if (o.block.enabled || o.cache == kv_cache_mode::dual)
                detail::fail(who, ": stop_when_all_eos reads the logits of every masked position, expected a "
                                  "bidirectional decode with cache = none or prefix (block diffusion: block.stop_at_eos)");
        }
        if (!o.block.enabled && region % st.block_length != 0)
            detail::fail(who, ": block_length = ", st.block_length, " does not divide the generated length ", region,
                         ", expected a divisor");
        if (!st.adaptive && o.steps % st.blocks != 0)
            detail::fail(who, ": steps = ", o.steps, " is not a multiple of the ", st.blocks,
                         " blocks, expected steps divisible by gen_length / block_length");
        if (!st.adaptive && o.steps < st.blocks) detail::fail(who, ": steps = ", o.steps, " is fewer than the ", st.blocks, " blocks");
        detail::require(std::isfinite(o.temperature) && o.temperature >= 0.0, who, "temperature", o.temperature,
                        "a finite value >= 0");
        detail::require(o.top_p > 0.0 && o.top_p <= 1.0, who, "top_p", o.top_p, "a value in (0, 1]");
        detail::require(std::isfinite(o.cfg_scale) && o.cfg_scale >= 0.0, who, "cfg_scale", o.cfg_scale,
                        "a finite value >= 0");
        detail::require(std::isfinite(o.alg_temp) && o.alg_temp >= 0.0, who, "alg_temp", o.alg_temp,
                        "a finite value >= 0");
        detail::require(o.threads >= 1 && o.threads <= 256, who, "threads", o.threads, "in [1, 256]");
        if (!o.seeds.empty() && o.seeds.size() != st.B)
            detail::fail(who, ": ", o.seeds.size(), " seeds for a batch of ", st.B, " rows, expected one per row (or none)");
        for (token_id e : o.eos_ids)
            detail::require(e >= 0 && static_cast<std::size_t>(e) < st.V, who, "eos id", e, "an id below vocab_size");
        if ((o.suppress_eos || o.eos_confidence_last) && o.eos_ids.empty())
            detail::fail(who, ": suppress_eos / eos_confidence_last without eos_ids, expected the EOS ids to act on");
        for (token_id v : st.x)
            detail::require(v >= 0 && static_cast<std::size_t>(v) < st.V, who, "token", v, "an id below vocab_size");
        if (st.B == 0) detail::fail<shape_error>(who, ": empty batch, expected at least one row");
        if (o.cache == kv_cache_mode::prefix || o.cache == kv_cache_mode::dual) {
            if (!detail::has_kv_cache<Model>())
                detail::fail(who, ": cache = ", name(o.cache),
                             " needs a model with a KV cache (forward_cached: LLaDA, Dream), expected cache = none");
            if (o.cfg_scale > 0.0)
                detail::fail(who, ": cache = ", name(o.cache), " with cfg_scale = ", o.cfg_scale,
                             ", expected cfg_scale = 0 (CFG is not cached)");
        }
    }

    // The model's attention block (block diffusion), or a typed error for a model without one.
    std::size_t attention_block() const {
        if constexpr (detail::has_block_forward<Model>()) {
            const std::size_t att = model_->block_length();
            if (att == 0)
                detail::fail("decoder: block diffusion needs block-causal attention, but the model's block length is 0 "
                             "(bidirectional), expected a block-diffusion checkpoint (or set its block length)");
            return att;
        } else {
            detail::fail("decoder: block diffusion needs a block-causal model with forward_block / forward_rows "
                         "(SDAR, Fast-dLLM v2, a2d-qwen3, BD3-LM, the block LLaDA), expected block.enabled = false");
        }
    }

    void validate_block(const run_state& st) const {
        const char* who = "decoder";
        const auto& o = st.o;
        if constexpr (!absorbing) {
            detail::fail(who, ": block diffusion needs an absorbing-noise model (masks to fill)");
        } else {
            if (st.att % st.block_length != 0)
                detail::fail(who, ": block_length = ", st.block_length, " does not divide the model's attention block of ",
                             st.att, " rows, expected a divisor (a sub-block) or 0");
            if (o.cache != kv_cache_mode::none && o.cache != kv_cache_mode::block)
                detail::fail(who, ": cache = ", name(o.cache), " with block diffusion, expected cache = block (exact) or none");
            if (o.cfg_scale > 0.0) detail::fail(who, ": block diffusion with cfg_scale = ", o.cfg_scale, ", expected 0");
            if (st.remasks)
                detail::fail(who, ": the sampler '", sampler_name(), "' re-masks decoded tokens, which a finished "
                                  "block's cached keys cannot follow, expected a sampler that does not re-mask");
            if (o.block.stop_at_eos && o.eos_ids.empty())
                detail::fail(who, ": block.stop_at_eos without eos_ids, expected the EOS ids to stop at");
            if (o.block.pad_id >= 0 && static_cast<std::size_t>(o.block.pad_id) >= st.V)
                detail::fail(who, ": block.pad_id = ", o.block.pad_id, ", expected an id below vocab_size or -1");
            if (o.block.pad_id >= 0 && o.block.pad_id == st.mask)
                detail::fail(who, ": block.pad_id equals the mask id ", st.mask, ", expected another id");
        }
    }

    void start_block(run_state& st) {
        if (st.bd) return start_attention_block(st);
        st.block_begin = st.begin + st.block * st.block_length;
        st.block_end = st.block_begin + st.block_length;
        for (std::size_t b = 0; b < st.B; ++b) {
            std::size_t m = 0;
            for (std::size_t i = st.block_begin; i < st.block_end; ++i)
                m += absorbing ? st.x(b, i) == st.mask : !st.given(b, i);
            st.masked_at_block_start[b] = m;
        }
        st.clock.start_block();
    }

    // A fixed plan runs its steps, an adaptive sampler until the block is full; either way a
    // block that holds no mask is done, unless the sampler re-masks (ReMDM runs every step).
    bool block_needs_step(const run_state& st) const {
        if (st.clock.plan_done() || active_rows(st) == 0) return false;
        if (absorbing && !st.remasks) {
            bool any = false;
            for (std::size_t b = 0; b < st.B && !any; ++b)
                for (std::size_t i = st.block_begin; i < st.block_end && !any && live(st, b); ++i)
                    any = st.x(b, i) == st.mask;
            if (!any) return false;
        }
        if (st.adaptive) {
            const std::size_t cap = st.o.max_steps_per_block ? st.o.max_steps_per_block : st.block_length;
            if (st.clock.step_in_block() >= cap)
                detail::fail("decoder: the adaptive sampler '", sampler_name(), "' made no progress in ",
                             cap, " steps of a block, expected at least one commit per step");
        }
        return true;
    }

    // ---- forward: the model's logits for this step ----

    void forward(run_state& st) {
        const auto t0 = clock_t::now();
        for (std::size_t b = 0; b < st.B; ++b) st.alpha[b] = schedule_.alpha(st.clock.t(b));
        if (st.bd) {
            if (!(!policy::time_conditioned(*model_) && st.have_output && st.last_forward_block == st.block &&
                  st.last_input == st.x)) {
                forward_block_rows(st);
                ++st.res.nfe;
                st.last_input = st.x;
                st.have_output = true;
                st.last_forward_block = st.block;
            }
            st.forward_seconds = seconds_since(t0);
            st.res.forward_seconds += st.forward_seconds;
            return;
        }
        // MDLM's ddpm_cache: a time-free model whose input did not change gives the same output.
        const bool reuse = !policy::time_conditioned(*model_) && st.o.cache == kv_cache_mode::none &&
                           st.have_output && st.last_input == st.x;
        if (reuse) {
            st.forward_seconds = 0.0;
            return;
        }
        if (st.o.cache != kv_cache_mode::none)
            forward_cached(st);
        else
            model_->denoise(st.x, st.alpha, st.logits);
        ++st.res.nfe;
        if (st.o.cfg_scale > 0.0) {
            // LLaDA's unsupervised CFG: the same canvas with every given position masked.
            st.x_u = st.x;
            for (std::size_t b = 0; b < st.B; ++b)
                for (std::size_t i = 0; i < st.L; ++i)
                    if (st.given(b, i)) st.x_u(b, i) = st.mask;
            model_->denoise(st.x_u, st.alpha, st.logits_u);
            ++st.res.nfe;
        }
        if (st.logits.shape(0) != st.B || st.logits.shape(1) != st.L || st.logits.shape(2) != st.V)
            detail::fail<shape_error>("decoder: the model returned logits of shape (", st.logits.shape(0), ", ",
                                      st.logits.shape(1), ", ", st.logits.shape(2), "), expected (", st.B, ", ", st.L,
                                      ", ", st.V, ")");
        st.last_input = st.x;
        st.have_output = true;
        st.forward_seconds = seconds_since(t0);
        st.res.forward_seconds += st.forward_seconds;
    }

    // Fast-dLLM: a full call at the block start refills the caches, later calls recompute the
    // rows that change (kv_cache_mode); the logits of the other rows are not read.
    void forward_cached(run_state& st) {
        if constexpr (detail::has_kv_cache<Model>()) {
            const std::size_t B = st.B, L = st.L, V = st.V;
            if (st.logits.shape(0) != B || st.logits.shape(1) != L || st.logits.shape(2) != V)
                st.logits = xt::xtensor<logit_type, 3>::from_shape({B, L, V});
            st.kv.resize(B);
            const std::size_t lo = st.shift ? std::max<std::size_t>(st.block_begin, 1) - 1 : st.block_begin;
            const std::size_t hi = st.o.cache == kv_cache_mode::prefix ? L : st.block_end;
            for (std::size_t b = 0; b < B; ++b) {
                if (st.res.cancelled[b]) continue;
                const bool full = st.clock.step_in_block() == 0 || st.kv[b].tokens != L;
                const std::size_t first = full ? 0 : lo, count = full ? L : hi - lo;
                model_->forward_cached(std::span<const token_id>(st.x.data() + b * L, L), first, count, st.kv[b],
                                       st.logits.data() + (b * L + first) * V);
            }
        }
    }

    // ---- block diffusion: the exact cache's phases ----

    // The decode unit's attention block; the finished blocks before it are stored (one call per
    // row on all of them: the prompt's whole blocks at the first block, SDAR's and Fast-dLLM
    // v2's prefill), then the layout (pad_id) is fixed for the block, as dllm does.
    void start_attention_block(run_state& st) {
        st.block_begin = (st.unit0 + st.block) * st.block_length;
        st.block_end = std::min(st.block_begin + st.block_length, st.L);
        st.att_begin = st.block_begin / st.att * st.att;
        st.att_end = std::min(st.att_begin + st.att, st.L);
        for (std::size_t b = 0; b < st.B; ++b) {
            std::size_t m = 0;
            for (std::size_t i = st.block_begin; i < st.block_end; ++i) m += st.x(b, i) == st.mask;
            st.masked_at_block_start[b] = m;
        }
        if (st.o.block.pad_id >= 0) set_layout(st);
        store_up_to(st, st.att_begin);
        st.clock.start_block();
    }

    // After a unit that ends its attention block: the eager store, then the EOS stop.
    void finish_block(run_state& st) {
        if (!st.bd || st.block_end != st.att_end) return;
        if (st.o.block.commit == block_commit::eager) store_up_to(st, st.att_end);
        if (!st.o.block.stop_at_eos) return;
        for (std::size_t b = 0; b < st.B; ++b) {
            if (!live(st, b)) continue;
            for (std::size_t i = st.begin; i < st.att_end; ++i)
                if (std::find(st.o.eos_ids.begin(), st.o.eos_ids.end(), st.x(b, i)) != st.o.eos_ids.end()) {
                    st.stopped[b] = true;
                    st.res.length[b] = st.att_end;
                    break;
                }
        }
    }

    // One model call per live row stores rows [stored, upto) (upto a block boundary); with
    // shifted logits it also gives the logits of row upto - 1, which predict position upto:
    // Fast-dLLM v2's next token, dllm's right shift (slot 0 of the block's logits).
    void store_up_to(run_state& st, std::size_t upto) {
        if constexpr (detail::has_block_forward<Model>()) store_up_to_impl(st, upto);
    }
    void store_up_to_impl(run_state& st, std::size_t upto) {
        const bool cached = st.o.cache == kv_cache_mode::block;
        bool called = false;
        for (std::size_t b = 0; b < st.B; ++b) {
            if (!live(st, b) || st.stored[b] >= upto) continue;
            const bool want = st.shift && upto < st.L && st.x(b, upto) == st.mask;
            const std::size_t one[1] = {upto - 1};
            const std::span<const std::size_t> rows(one, want ? 1 : 0);
            float* out = st.blogits.data() + b * (st.att + 1) * st.V;
            const std::span<const token_id> ids(st.x.data() + b * st.L, upto);
            if (cached) {
                detail::block_forward(*model_, ids, st.stored[b], upto - st.stored[b], layout(st, b), st.alpha[b],
                                      st.bkv[b], true, rows, out);
                called = true;
            } else if (want) {  // uncached: a call only for the logits read
                detail::rows_forward(*model_, ids, layout(st, b), st.alpha[b], rows, out);
                called = true;
            }
            st.stored[b] = upto;
            st.boundary[b] = want;
            if (want && st.o.block.next_token) {
                // Fast-dLLM v2: the argmax of the stored block's last row (raw logits).
                std::size_t best = 0;
                for (std::size_t v = 1; v < st.V; ++v)
                    if (out[v] > out[best]) best = v;
                st.x(b, upto) = static_cast<token_id>(best);
                st.boundary[b] = false;
            }
        }
        if (called) ++st.res.nfe;
    }

    // dllm _prepare_for_sampling: valid = x != pad_id; positions = cumsum(valid) - 1 (padding 0).
    void set_layout(run_state& st) {
        st.positions.resize(st.B * st.L);
        st.valid.resize(st.B * st.L);
        for (std::size_t b = 0; b < st.B; ++b) {
            std::int64_t seen = 0;
            for (std::size_t i = 0; i < st.L; ++i) {
                const bool v = st.x(b, i) != st.o.block.pad_id;
                st.valid[b * st.L + i] = v;
                st.positions[b * st.L + i] = v ? seen++ : 0;
            }
        }
    }
    model::attention_layout layout(const run_state& st, std::size_t b) const {
        if (st.o.block.pad_id < 0) return {nullptr, nullptr, st.att};
        return {st.positions.data() + b * st.L, st.valid.data() + b * st.L, st.att};
    }

    // The step's call: per live row, the logits of exactly the rows its candidates read, with
    // the exact cache (the attention block's rows against the stored ones) or without (the
    // block-causal forward of the canvas up to the block's end).
    void forward_block_rows(run_state& st) {
        if constexpr (detail::has_block_forward<Model>()) forward_block_rows_impl(st);
    }
    void forward_block_rows_impl(run_state& st) {
        const bool cached = st.o.cache == kv_cache_mode::block;
        const std::size_t A = st.att + 1, V = st.V;
        for (std::size_t b = 0; b < st.B; ++b) {
            if (!live(st, b)) continue;
            std::int32_t* slot = st.slot.data() + b * A;
            std::fill(slot, slot + A, -1);
            auto& rows = st.rows;
            rows.clear();
            for (std::size_t i = st.block_begin; i < st.block_end; ++i) {
                if (st.given(b, i) || st.x(b, i) != st.mask) continue;
                const std::size_t r = policy::logit_row(st.shift, i);
                if (r < st.att_begin && cached) {
                    if (!st.boundary[b])
                        detail::fail("decoder: position ", i, " reads row ", r, " of a stored block whose logits were "
                                     "not kept, expected a shifted model's block start to be stored first");
                    slot[0] = 0;
                    continue;
                }
                if (rows.empty() || rows.back() != r) rows.push_back(r);
            }
            float* out = st.blogits.data() + b * A * V;
            const std::span<const token_id> ids(st.x.data() + b * st.L, st.att_end);
            if (cached) {
                for (std::size_t k = 0; k < rows.size(); ++k) slot[rows[k] - st.att_begin + 1] = std::int32_t(k + 1);
                if (!rows.empty())  // every candidate reads a stored row: nothing to compute
                    detail::block_forward(*model_, ids, st.att_begin, st.att_end - st.att_begin, layout(st, b), st.alpha[b],
                                          st.bkv[b], false, rows, out + V);
            } else if (!rows.empty()) {
                // the row before the block, when read, is the first and takes compact index 0
                const std::size_t skip = rows.front() + 1 == st.att_begin ? 0 : 1;
                for (std::size_t k = 0; k < rows.size(); ++k)
                    slot[rows[k] + 1 - st.att_begin] = std::int32_t(k + skip);
                detail::rows_forward(*model_, ids, layout(st, b), st.alpha[b], rows, out + skip * V);
            }
        }
    }

    const float* block_row(const run_state& st, std::size_t b, std::size_t r) const {
        const std::size_t A = st.att + 1;
        const std::int32_t k = st.slot[b * A + (r + 1 - st.att_begin)];
        return st.blogits.data() + (b * A + static_cast<std::size_t>(k)) * st.V;
    }

    // stop_when_all_eos: the row stops when the argmax of every masked position left in the
    // generated region is an EOS id; they are filled with it.
    bool stop_if_all_eos(run_state& st, std::size_t b) {
        if (!st.o.stop_when_all_eos) return false;
        auto& w = work_[0];
        const std::span<double> l(w.logits.data(), st.V);
        const step_info info = info_of(st, b);
        std::vector<std::pair<std::size_t, token_id>> fill;
        for (std::size_t i = st.block_begin; i < st.end; ++i) {
            if (st.given(b, i) || st.x(b, i) != st.mask) continue;
            load_logits(st, b, i, info, l);
            const auto v = static_cast<token_id>(argmax(std::span<const double>(l)));
            if (std::find(st.o.eos_ids.begin(), st.o.eos_ids.end(), v) == st.o.eos_ids.end()) return false;
            fill.push_back({i, v});
        }
        if (fill.empty()) return false;
        for (auto [i, v] : fill) st.x(b, i) = v;
        st.stopped[b] = true;
        return true;
    }

    // ---- candidates: the positions of row b's block to decide on ----

    bool candidates(run_state& st, std::size_t b) {
        auto& cs = st.candidates[b];
        auto& dec = st.decoded[b];
        cs.clear();
        dec.clear();
        for (std::size_t i = st.block_begin; i < st.block_end; ++i) {
            if (st.given(b, i)) continue;
            if (!absorbing || st.x(b, i) == st.mask)
                cs.push_back({.position = i});
            else
                dec.push_back(i);
        }
        return !cs.empty() || !dec.empty();
    }

    step_info info_of(const run_state& st, std::size_t b) const {
        return {.step = st.step,
                .step_in_block = st.clock.step_in_block(),
                .steps_in_block = st.clock.steps_per_block(),
                .block_begin = st.block_begin,
                .block_end = st.block_end,
                .time = st.clock.times(schedule_, b),
                .last = st.clock.last()};
    }

    // ---- propose: every candidate's proposal, confidence and score, on the thread pool ----

    void propose(run_state& st, std::size_t b, const step_info& info) {
        auto& cs = st.candidates[b];
        const counter_rng g = rng(st.o, b);
        auto& p = pool(st.o);
        const std::size_t n = cs.size(), tasks = std::min(p.size(), n);
        p.run(tasks, [&](std::size_t task, std::size_t thread) {
            const std::size_t lo = n * task / tasks, hi = n * (task + 1) / tasks;
            for (std::size_t k = lo; k < hi; ++k) propose_one(st, b, cs[k], info, g, work_[thread]);
        });
    }

    void propose_one(const run_state& st, std::size_t b, sampler::candidate& c, const step_info& info,
                     const counter_rng& g, proposal_scratch& w) {
        const std::size_t V = st.V;
        const std::span<double> l(w.logits.data(), V);
        load_logits(st, b, c.position, info, l);
        const double m = simd::row_max(l.data(), V);
        if (!(m > -std::numeric_limits<double>::infinity()) || !std::isfinite(m))
            detail::fail("decoder: the logits of position ", c.position, " have maximum ", m,
                         ", expected a finite maximum (no NaN/+inf, not every token excluded)");
        // e = exp(l - m): log Z of the raw logits, and p~ itself when nothing reshapes it.
        const std::span<double> e(w.probs.data(), V);
        const double z = simd::row_exp_shift(l.data(), m, e.data(), V);
        if (!std::isfinite(z)) detail::fail("decoder: the logits of position ", c.position, " hold NaN, expected finite or -inf");
        const double log_z = m + std::log(z);
        const proposal_options po{.temperature = st.o.temperature, .top_k = st.o.top_k, .top_p = st.o.top_p};
        std::span<const double> p;  // p~, when materialised
        if (po.plain() && !st.reshapes) {
            c.token = static_cast<token_id>(argmax(std::span<const double>(l)));
            c.confidence = e[static_cast<std::size_t>(c.token)] * (1.0 / z);
            if (st.needs.probs || st.needs.entropy) {
                simd::row_scale(e.data(), 1.0 / z, V);
                p = e;
            }
        } else {
            std::copy(l.begin(), l.end(), e.begin());
            sampling_distribution(e, po, w);
            if constexpr (has_reshape)
                if (st.reshapes) sampler_.reshape(e, st.x(b, c.position), info, std::span<double>(w.work));
            const auto pos = static_cast<std::uint32_t>(c.position);
            c.token = static_cast<token_id>(st.o.temperature > 0.0
                                                ? sample_categorical(std::span<const double>(e), g, {streams::token, info.step, pos})
                                                : argmax(std::span<const double>(e)));
            c.confidence = e[static_cast<std::size_t>(c.token)];
            p = e;
        }
        if (st.needs.entropy) c.entropy = entropy_of(p);
        const position_view v{.position = c.position,
                              .row = b,
                              .token = c.token,
                              .confidence = c.confidence,
                              .raw_probability = std::exp(l[static_cast<std::size_t>(c.token)] - log_z),
                              .log_z = log_z,
                              .probs = st.needs.probs ? p : std::span<const double>{},
                              .logits = st.needs.logits ? std::span<const double>(l) : std::span<const double>{}};
        if constexpr (requires { remask_.update(v, info); }) remask_.update(v, info);
        c.score = remask_.score(v, info, g);
        if (st.o.eos_confidence_last && std::find(st.o.eos_ids.begin(), st.o.eos_ids.end(), c.token) != st.o.eos_ids.end())
            c.score = -std::numeric_limits<double>::infinity();
    }

    // The logits every policy sees at position i: the model's row (shifted for Dream), CFG,
    // EOS suppression, the remask's fusion, and (absorbing, unless keep_mask_logit) never the mask itself (MDLM's SUBS
    // "zero masking probability").
    void load_logits(const run_state& st, std::size_t b, std::size_t i, const step_info& info, std::span<double> l) {
        const std::size_t V = st.V, r = policy::logit_row(st.shift, i);
        const logit_type* row = st.logits.data() + (b * st.L + r) * V;
        if constexpr (std::is_same_v<logit_type, float>)
            if (st.bd) row = block_row(st, b, r);
        if (st.o.cfg_scale > 0.0) {
            // LLaDA's unsupervised CFG: l_u + (w + 1)(l_c - l_u).
            const logit_type* row_u = st.logits_u.data() + (b * st.L + r) * V;
            const double w1 = st.o.cfg_scale + 1.0;
            for (std::size_t v = 0; v < V; ++v) l[v] = double(row_u[v]) + w1 * (double(row[v]) - double(row_u[v]));
        } else {
            for (std::size_t v = 0; v < V; ++v) l[v] = double(row[v]);
        }
        if (st.o.suppress_eos)
            for (token_id e : st.o.eos_ids) l[static_cast<std::size_t>(e)] = -std::numeric_limits<double>::infinity();
        if constexpr (requires { remask_.fuse_logits(b, i, l, info); }) remask_.fuse_logits(b, i, l, info);
        if constexpr (absorbing)
            if (!st.o.keep_mask_logit) l[static_cast<std::size_t>(st.mask)] = -std::numeric_limits<double>::infinity();
    }

    // ---- commit: the sampler decides ----

    void commit(run_state& st, std::size_t b, const step_info& info) {
        const counter_rng g = rng(st.o, b);
        auto& cs = st.candidates[b];
        sampler::step_context ctx{.canvas = std::span<token_id>(st.x.data() + b * st.L, st.L),
                                  .candidates = std::span<sampler::candidate>(cs),
                                  .decoded = st.decoded[b],
                                  .unmask_confidence = std::span<double>(st.unmask_confidence.data() + b * st.L, st.L),
                                  .mask = st.mask,
                                  .info = info,
                                  .masked_at_block_start = st.masked_at_block_start[b],
                                  .row_time = st.clock.row_time(b),
                                  .rng = &g,
                                  .alg_temp = st.o.alg_temp,
                                  .scratch = &step_scratch_};
        sampler_.step(ctx);
    }

    // ---- notify: the observer sees the step and may cancel the row ----

    template <class Observer>
    void notify(run_state& st, std::size_t b, const step_info& info, Observer& observe) {
        if constexpr (!std::is_same_v<std::decay_t<Observer>, no_observer>) {
            step_record rec{.step = info.step,
                            .block = st.block,
                            .row = b,
                            .canvas = &st.x,
                            .nfe = st.res.nfe,
                            .forward_seconds = st.forward_seconds};
            // Committed: candidates no longer masked (every candidate, for uniform noise, whose
            // mask is -1); re-masked: decoded positions masked again (ReMDM).
            for (const auto& c : st.candidates[b])
                if (st.x(b, c.position) != st.mask) rec.committed.push_back(c.position);
            for (std::size_t i : st.decoded[b])
                if (st.x(b, i) == st.mask) rec.remasked.push_back(i);
            if constexpr (std::is_void_v<decltype(observe(rec))>)
                observe(rec);
            else if (!observe(rec))
                st.res.cancelled[b] = true;
        }
    }

    // ---- helpers ----

    static bool live(const run_state& st, std::size_t b) { return !st.res.cancelled[b] && !st.stopped[b]; }
    static std::size_t active_rows(const run_state& st) {
        std::size_t n = 0;
        for (std::size_t b = 0; b < st.B; ++b) n += live(st, b);
        return n;
    }
    static counter_rng rng(const generate_options& o, std::size_t b) {
        return o.seeds.empty() ? counter_rng(o.seed, b) : counter_rng(o.seeds[b], 0);
    }
    static double seconds_since(clock_t::time_point t0) {
        return std::chrono::duration<double>(clock_t::now() - t0).count();
    }

    const char* sampler_name() const {
        if constexpr (requires { { sampler_.name() } -> std::convertible_to<const char*>; })
            return sampler_.name();
        else
            return policy::name_of<Sampler>();
    }

    token_id mask_token() const {
        if constexpr (absorbing)
            return model_->mask_id();
        else
            return -1;  // uniform noise has no mask
    }

    // The model's pool when it has one (its threads already wait for work), else the decoder's.
    thread_pool& pool(const generate_options& o) {
        if constexpr (requires { { model_->pool() } -> std::same_as<thread_pool&>; }) {
            return model_->pool();
        } else {
            if (!own_pool_ || own_pool_->size() != o.threads)
                own_pool_ = std::make_unique<thread_pool>(std::max(1u, o.threads), 0);
            return *own_pool_;
        }
    }

    Model* model_;
    Schedule schedule_;
    Remask remask_;
    Sampler sampler_;
    std::unique_ptr<thread_pool> own_pool_;
    std::vector<proposal_scratch> work_;  // one per pool thread
    sampler::step_scratch step_scratch_;
};

}  // namespace ddiff
