// The MDLM / SEDD / BD3-LM diffusion transformer (DDiT; kuleshov-group/mdlm models/dit.py,
// louaaron/Score-Entropy-Discrete-Diffusion model/transformer.py, kuleshov-group/bd3lms
// models/dit.py and models/hf/modeling_bd3lm.py): token embedding, a sinusoidal noise embedding
// through an MLP and a SiLU as the conditioning c, adaLN-modulated blocks with rotary attention
// and a GELU-tanh MLP, and an adaLN output layer (docs/notes/architectures.md section 3). Loads
// the Hugging Face layouts (kuleshov-group/mdlm-owt: model_type "mdlm", tensors under
// "backbone."; louaaron/sedd-small: the Hydra run config, bare tensor names; kuleshov-group/
// bd3lm-*: model_type "bd3lm", "backbone.", block_size) and satisfies the denoiser concept for
// absorbing noise. BD3-LM runs in its sampling mode: the block-causal mask of block_diff_mask's
// x0 half (key block <= query block, blocks counted from the window's first row), so its canvas
// is whole blocks; forward_block is the exact cache of its kv_cache sampling.
//
// What denoise() returns. ddiff's samplers want log p(x_0^i | x_t) at every position.
// * Noise level: the decoder passes alpha = probability a token is still clean. For the
//   absorbing process alpha = exp(-sigma) with sigma the total noise (SEDD's sigma(t); MDLM's
//   log-linear sigma), so the network is fed sigma = -log(alpha).
// * MDLM (diffusion.py, "subs" parameterisation): the backbone output is the logits of
//   p(x_0 | x_t); the mask column gets -inf, a log-softmax over the rest, and an unmasked
//   position carries its token over (0 there, -inf elsewhere). Upstream writes -1e6 for -inf.
// * SEDD (absorbing graph): the network gives log scores s_y = log p_t(x^{i<-y}) / p_t(x). At a
//   masked position i, with q(mask | x_0) = 1 - alpha and q(y | x_0) = alpha 1[x_0 = y],
//     p_t(x^{i<-y}) / p_t(x) = sum_{x_0} p_0(x_0) alpha 1[x_0^i = y] prod_{j != i} q(x^j | x_0^j)
//                            / sum_{x_0} p_0(x_0) (1 - alpha)      prod_{j != i} q(x^j | x_0^j)
//                            = alpha / (1 - alpha) * p(x_0^i = y | x_t),
//   so the scores over y != mask are proportional to p(x_0^i = y | x_t), and the log-softmax of
//   the log scores over y != mask is log p(x_0^i | x_t). scale_by_sigma's shift
//   -log(e^sigma - 1) - log(V - 1) = log(alpha / (1 - alpha)) - log(V - 1) is the same for every
//   y, so it cancels: denoise() applies exactly MDLM's SUBS transform to the raw logits for both
//   models. An unmasked position of an absorbing chain is clean, so it is carried over.
// * Time conditioning: SEDD is always conditioned on sigma. MDLM checkpoints with
//   time_conditioning false (mdlm-owt) feed sigma = 0 whatever the noise level
//   (Diffusion._process_sigma), so their output ignores alpha. The decoder reads the run-time
//   trait time_conditioned() (uses_sigma()): for such a checkpoint it reuses the last output
//   when a step changed nothing, as MDLM's ddpm_cache does; SEDD and time-conditioned MDLM
//   checkpoints are called at every step.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/io/checkpoint.hpp"
#include "ddiff/io/config.hpp"
#include "ddiff/model/pre_norm_lm.hpp"
#include "ddiff/model/weights.hpp"
#include "ddiff/nn/blocks.hpp"
#include "ddiff/nn/embedding.hpp"
#include "ddiff/nn/lm_head.hpp"

namespace ddiff::model {

enum class dit_variant { mdlm, sedd, bd3lm };

struct dit_config {
    // TimestepEmbedder: frequency_embedding_size 256, max_period 10000; the rotary base 10000
    // and the MLP ratio 4 are constants of the source, not config keys.
    static constexpr std::size_t freq_dim = 256;
    static constexpr double max_period = 10000.0, rope_theta = 10000.0, layer_norm_eps = 1e-5;
    static constexpr std::size_t mlp_ratio = 4;

    dit_variant variant = dit_variant::mdlm;
    std::size_t hidden_size = 0, cond_dim = 0, n_blocks = 0, n_heads = 0, model_length = 0;
    std::size_t vocab_size = 0;        // rows of the embedding and the output (mask included)
    token_id mask_id = 0;
    bool time_conditioning = true;     // MDLM's / BD3-LM's flag; SEDD is always conditioned
    bool scale_by_sigma = false;       // SEDD's score scaling (log_score only)
    std::size_t block_size = 0;        // BD3-LM: block-causal attention with this block; 0 = bidirectional

    std::size_t head_dim() const { return hidden_size / n_heads; }
    std::string prefix() const { return variant == dit_variant::sedd ? "" : "backbone."; }

    // MDLM: model_type "mdlm" (mdlm-owt's MDLMConfig). SEDD: no model_type, the Hydra run config
    // with sections "model" (type "ddit") and "graph" (type "absorb"). Every key the forward
    // pass depends on is read and checked; others (dropout, training, sampling) are ignored.
    static dit_config from_json(const io::json_config& c) {
        dit_config k;
        if (c.has_value("model_type") && c.get<std::string>("model_type") == "bd3lm") {
            // models/hf/configuration_bd3lm.py BD3LMConfig; sampling mode of modeling_bd3lm.py.
            auto expect_flag = [&](const char* key, bool want) {
                if (c.has_value(key) && c.get<bool>(key) != want)
                    ddiff::detail::fail<config_error>(c.source(), ": key \"", key, "\" = ", !want, ", expected ", want,
                                                      " (ddiff's BD3-LM: block-causal sampling with adaLN)");
            };
            expect_flag("cross_attn", true);
            expect_flag("adaln", true);
            expect_flag("causal", false);
            k.variant = dit_variant::bd3lm;
            k.hidden_size = c.get_in<std::size_t>("hidden_dim", 1, 1 << 20);
            k.cond_dim = c.get_in<std::size_t>("cond_dim", 1, 1 << 20);
            k.n_blocks = c.get_in<std::size_t>("n_blocks", 1, 1 << 12);
            k.n_heads = c.get_in<std::size_t>("n_heads", 1, k.hidden_size);
            k.model_length = c.get_in<std::size_t>("model_length", 1, std::size_t{1} << 24);
            k.vocab_size = c.get_in<std::size_t>("vocab_size", 2, std::size_t{1} << 31);
            k.mask_id = c.get_in<token_id>("mask_token_id", 0, token_id(k.vocab_size - 1), token_id(k.vocab_size - 1));
            k.time_conditioning = c.get<bool>("time_conditioning", false);
            k.block_size = c.get_in<std::size_t>("block_size", 1, k.model_length);
            if (k.model_length % k.block_size != 0)
                ddiff::detail::fail<config_error>(c.source(), ": key \"block_size\" = ", k.block_size,
                                                  " does not divide model_length = ", k.model_length,
                                                  ", expected a divisor (BD3-LM samples whole blocks)");
            for (const char* key : {"bd_size", "small_block_size", "block_length"})
                if (c.contains(key))
                    ddiff::detail::fail<config_error>(c.source(), ": key \"", key,
                                                      "\" is not a BD3-LM block setting, expected \"block_size\" only");
        } else if (c.has_value("model_type")) {
            const auto mt = c.get<std::string>("model_type");
            if (mt != "mdlm")
                ddiff::detail::fail<config_error>(c.source(), ": key \"model_type\" = \"", mt,
                                                  "\", expected \"mdlm\" or \"bd3lm\" (or no model_type and a SEDD \"model\" "
                                                  "section)");
            k.variant = dit_variant::mdlm;
            k.hidden_size = c.get_in<std::size_t>("hidden_dim", 1, 1 << 20);
            k.cond_dim = c.get_in<std::size_t>("cond_dim", 1, 1 << 20);
            k.n_blocks = c.get_in<std::size_t>("n_blocks", 1, 1 << 12);
            k.n_heads = c.get_in<std::size_t>("n_heads", 1, k.hidden_size);
            k.model_length = c.get_in<std::size_t>("model_length", 1, std::size_t{1} << 24);
            k.vocab_size = c.get_in<std::size_t>("vocab_size", 2, std::size_t{1} << 31);
            // The mask is the last row (GPT-2's 50257 + 1) unless a port stores it.
            k.mask_id = c.get_in<token_id>("mask_token_id", 0, token_id(k.vocab_size - 1), token_id(k.vocab_size - 1));
            k.time_conditioning = c.get<bool>("time_conditioning", false);
            k.scale_by_sigma = false;
        } else if (c.contains("model")) {
            k.variant = dit_variant::sedd;
            const auto m = c.section("model");
            if (m.has_value("type") && m.get<std::string>("type") != "ddit")
                ddiff::detail::fail<config_error>(c.source(), ": key \"model.type\" = \"", m.get<std::string>("type"),
                                                  "\", expected \"ddit\"");
            const auto g = c.section("graph");
            const auto graph = g.get<std::string>("type");
            if (graph != "absorb")
                ddiff::detail::fail<config_error>(c.source(), ": key \"graph.type\" = \"", graph,
                                                  "\", expected \"absorb\" (ddiff's SEDD loader supports the absorbing "
                                                  "graph only)");
            const auto tokens = c.get_in<std::size_t>("tokens", 1, (std::size_t{1} << 31) - 1);
            k.vocab_size = tokens + 1;  // the absorbing graph adds the mask as the last row
            k.mask_id = token_id(tokens);
            k.hidden_size = m.get_in<std::size_t>("hidden_size", 1, 1 << 20);
            k.cond_dim = m.get_in<std::size_t>("cond_dim", 1, 1 << 20);
            k.n_blocks = m.get_in<std::size_t>("n_blocks", 1, 1 << 12);
            k.n_heads = m.get_in<std::size_t>("n_heads", 1, k.hidden_size);
            k.model_length = m.get_in<std::size_t>("length", 1, std::size_t{1} << 24);
            k.scale_by_sigma = m.get<bool>("scale_by_sigma");
            k.time_conditioning = true;
        } else {
            ddiff::detail::fail<config_error>(c.source(), ": missing key \"model_type\", expected \"mdlm\" "
                                              "(or a SEDD run config with a \"model\" section)");
        }
        const char* heads = k.variant == dit_variant::sedd ? "model.n_heads" : "n_heads";
        if (k.hidden_size % k.n_heads != 0 || k.head_dim() % 2 != 0)
            ddiff::detail::fail<config_error>(c.source(), ": key \"", heads, "\" = ", k.n_heads, " with hidden size ",
                                              k.hidden_size, ", expected a divisor giving an even head_dim");
        return k;
    }
};

template <class Arch = simd::default_arch>
class dit {
public:
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;

    static dit load(const std::filesystem::path& dir, const load_options& o = {}) {
        const auto cfg = dit_config::from_json(io::json_config::load(dir / "config.json"));
        const auto ck = io::checkpoint::open(dir);
        return dit(cfg, ck, o);
    }

    dit(const dit_config& cfg, const io::checkpoint& ck, const load_options& o)
        : cfg_(cfg), pool_(std::make_unique<thread_pool>(std::max<std::size_t>(1, o.threads))),
          c_(cfg.cond_dim, 0.0f) {
        const std::size_t D = cfg.hidden_size, H = cfg.n_heads, hd = cfg.head_dim(), C = cfg.cond_dim;
        const std::size_t F = dit_config::mlp_ratio * D, V = cfg.vocab_size, E = dit_config::freq_dim;
        const std::string p = cfg.prefix();
        emb_ = nn::embedding(matrix::read(ck, p + "vocab_embed.embedding", V, D).to_f32(), V, D);
        // The noise embedding runs once per row in float64 (C x 256 + C x C multiply-adds).
        sigma_w0_ = matrix::read(ck, p + "sigma_map.mlp.0.weight", C, E).to_f32();
        sigma_b0_ = read_vector(ck, p + "sigma_map.mlp.0.bias", C);
        sigma_w2_ = matrix::read(ck, p + "sigma_map.mlp.2.weight", C, C).to_f32();
        sigma_b2_ = read_vector(ck, p + "sigma_map.mlp.2.bias", C);
        check_inv_freq(ck, p + "rotary_emb.inv_freq", hd);

        const nn::attention_dims dims{D, H, H, hd};
        const nn::rope_table rope(hd, cfg.model_length, dit_config::rope_theta);
        const auto eps = static_cast<float>(dit_config::layer_norm_eps);
        for (std::size_t i = 0; i < cfg.n_blocks; ++i) {
            const std::string b = p + "blocks." + std::to_string(i) + ".";
            const auto b0 = read_vector(ck, b + "mlp.0.bias", F), b2 = read_vector(ck, b + "mlp.2.bias", D);
            const auto ab = read_vector(ck, b + "adaLN_modulation.bias", 6 * D);
            blocks_.emplace_back(
                nn::layer_norm<Arch>(read_vector(ck, b + "norm1.weight", D), {}, eps),
                nn::attention<Arch>(dims, matrix::read(ck, b + "attn_qkv.weight", 3 * D, D).template to_linear<Arch>(o),
                                    matrix::read(ck, b + "attn_out.weight", D, D).template to_linear<Arch>(o), rope),
                nn::layer_norm<Arch>(read_vector(ck, b + "norm2.weight", D), {}, eps),
                nn::gelu_mlp<Arch>(matrix::read(ck, b + "mlp.0.weight", F, D).template to_linear<Arch>(o, b0.data()),
                                   matrix::read(ck, b + "mlp.2.weight", D, F).template to_linear<Arch>(o, b2.data())),
                nn::adaln_modulation<Arch>(
                    matrix::read(ck, b + "adaLN_modulation.weight", 6 * D, C).template to_linear<Arch>(o, ab.data()), 6));
        }
        const std::string f = p + "output_layer.";
        const auto fb = read_vector(ck, f + "linear.bias", V), fab = read_vector(ck, f + "adaLN_modulation.bias", 2 * D);
        out_ = nn::dit_output_layer<Arch>(
            nn::layer_norm<Arch>(read_vector(ck, f + "norm_final.weight", D), {}, eps),
            nn::adaln_modulation<Arch>(
                matrix::read(ck, f + "adaLN_modulation.weight", 2 * D, C).template to_linear<Arch>(o, fab.data()), 2),
            matrix::read(ck, f + "linear.weight", V, D).template to_linear<Arch>(o, fb.data()));
    }

    const dit_config& config() const noexcept { return cfg_; }
    dit_variant variant() const noexcept { return cfg_.variant; }
    std::size_t vocab_size() const noexcept { return cfg_.vocab_size; }
    token_id mask_id() const noexcept { return cfg_.mask_id; }
    std::size_t threads() const noexcept { return pool_->size(); }
    thread_pool& pool() noexcept { return *pool_; }  // the decoder runs its per-position work here
    // The decoder's trait: an MDLM checkpoint with time_conditioning false ignores alpha, so an
    // unchanged input may reuse the last output (MDLM's ddpm_cache).
    bool time_conditioned() const noexcept { return uses_sigma(); }

    // Whether the output depends on the noise level (false: MDLM with time_conditioning false).
    bool uses_sigma() const noexcept { return cfg_.variant == dit_variant::sedd || cfg_.time_conditioning; }
    // BD3-LM's block length (block-causal attention), 0 for MDLM / SEDD (bidirectional).
    std::size_t block_length() const noexcept { return cfg_.block_size; }
    // The sigma the backbone sees for total noise sigma (Diffusion._process_sigma).
    double backbone_sigma(double sigma) const noexcept { return uses_sigma() ? sigma : 0.0; }

    // c = silu(sigma_map(sigma)) (cond_dim), in float64 then rounded: sigma_map(s) =
    // mlp.2(silu(mlp.0(temb(s)))), temb(s) = [cos(s f_j), sin(s f_j)], f_j = 10000^(-j/128).
    std::vector<double> conditioning(double sigma) const {
        const std::size_t C = cfg_.cond_dim, E = dit_config::freq_dim, half = E / 2;
        std::vector<double> temb(E), h(C), c(C);
        for (std::size_t j = 0; j < half; ++j) {
            const double a = sigma * std::exp(-std::log(dit_config::max_period) * double(j) / double(half));
            temb[j] = std::cos(a);
            temb[half + j] = std::sin(a);
        }
        auto silu = [](double v) { return v / (1.0 + std::exp(-v)); };
        for (std::size_t r = 0; r < C; ++r) {
            double s = sigma_b0_[r];
            for (std::size_t e = 0; e < E; ++e) s += double(sigma_w0_[r * E + e]) * temb[e];
            h[r] = silu(s);
        }
        for (std::size_t r = 0; r < C; ++r) {
            double s = sigma_b2_[r];
            for (std::size_t e = 0; e < C; ++e) s += double(sigma_w2_[r * C + e]) * h[e];
            c[r] = silu(s);
        }
        return c;
    }

    // Raw network output of one sequence: ids (T), out (T, vocab) logits, the backbone fed
    // backbone_sigma(sigma). MDLM: the logits of p(x_0 | x_t) before SUBS. SEDD: the log score
    // before scale_by_sigma and the scatter (see log_score). BD3-LM: the window's logits under
    // the block-causal mask (T a multiple of the block size), positions 0..T-1.
    void forward(std::span<const token_id> ids, double sigma, float* out) {
        const std::size_t T = ids.size(), D = cfg_.hidden_size;
        check(T, sigma);
        reserve(T);
        set_conditioning(sigma);
        emb_.forward(ids.data(), T, x_.data(), D);
        const nn::attention_mask mask{nullptr, cfg_.block_size};
        for (const auto& blk : blocks_) blk.forward(x_.data(), T, c_.data(), positions_.data(), mask, ws_, *pool_);
        out_.forward(x_.data(), T, c_.data(), out, cfg_.vocab_size, ws_, *pool_);
    }

    // forward() at the given rows only (sequence indices, strictly increasing), out (rows,
    // vocab): the last block's attention queries, MLP and the output layer run at those rows;
    // equal to those rows of forward() bit for bit.
    void forward_rows(std::span<const token_id> ids, double sigma, std::span<const std::size_t> rows, float* out) {
        const std::size_t T = ids.size();
        check(T, sigma);
        check_rows(rows, 0, T);
        scratch_.tokens = 0;
        scratch_.committed = 0;
        grow(scratch_, T);
        run_cached(ids, 0, T, sigma, scratch_, &rows, out);
    }

    // The exact block cache of BD3-LM (its kv_cache sampling; model::kv_cache as for the
    // pre-norm models, pre_norm_lm::forward_block): logits of rows [first, first + count) of the
    // canvas ids (T), keys and values of rows [0, first) from the cache (first <= committed),
    // the range ending at a block boundary; commit keeps the rows' keys and values. Equals those
    // rows of forward() bit for bit when the conditioning is the same (time_conditioning false,
    // BD3-LM's setting: sigma is then unused; with it, the cached rows keep the sigma they were
    // computed at, as upstream's kv_cache does). Without rows: every row of the range; with rows:
    // exactly those (none: the store call).
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count, double sigma,
                       kv_cache& cache, bool commit, float* out) {
        block(ids, first, count, sigma, cache, commit, nullptr, out);
    }
    void forward_block(std::span<const token_id> ids, std::size_t first, std::size_t count, double sigma,
                       kv_cache& cache, bool commit, std::span<const std::size_t> rows, float* out) {
        check_rows(rows, first, first + count);
        block(ids, first, count, sigma, cache, commit, &rows, out);
    }

    // SEDD.forward: the log score out (T, vocab) = forward - log(e^sigma - 1) - log(V - 1) (with
    // scale_by_sigma; expm1 throughout, where upstream switches to exp(sigma) - 1 above 0.5),
    // then 0 at each position's own token. SEDD checkpoints only.
    void log_score(std::span<const token_id> ids, double sigma, float* out) {
        if (cfg_.variant != dit_variant::sedd)
            ddiff::detail::fail<invalid_argument>("dit::log_score: an MDLM checkpoint outputs logits, not scores; "
                                                  "expected a SEDD checkpoint");
        if (cfg_.scale_by_sigma && !(sigma > 0.0))
            ddiff::detail::fail<invalid_argument>("dit::log_score: sigma = ", sigma,
                                                  ", expected > 0 (scale_by_sigma divides by e^sigma - 1)");
        forward(ids, sigma, out);
        const std::size_t T = ids.size(), V = cfg_.vocab_size;
        const double shift = cfg_.scale_by_sigma ? -std::log(std::expm1(sigma)) - std::log(double(V - 1)) : 0.0;
        for (std::size_t t = 0; t < T; ++t) {
            float* row = out + t * V;
            for (std::size_t v = 0; v < V; ++v) row[v] = static_cast<float>(double(row[v]) + shift);
            row[static_cast<std::size_t>(ids[t])] = 0.0f;
        }
    }

    // Denoiser concept: x (batch, len), alpha (batch) probability clean, out (batch, len, vocab)
    // log p(x_0 | x_t): the SUBS transform of the raw output (file comment), sigma = -log(alpha).
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) {
        const std::size_t B = x.shape(0), T = x.shape(1), V = vocab_size();
        if (alpha.size() != B)
            ddiff::detail::fail<shape_error>("dit::denoise: ", alpha.size(), " noise levels for a batch of ", B,
                                             ", expected one per row");
        for (std::size_t b = 0; b < B; ++b) {
            const double a = alpha[b];
            if (!(a >= 0.0 && a <= 1.0))
                ddiff::detail::fail<invalid_argument>("dit::denoise: alpha[", b, "] = ", a,
                                                      ", expected a probability in [0, 1]");
            if (a == 0.0 && uses_sigma())
                ddiff::detail::fail<invalid_argument>("dit::denoise: alpha[", b, "] = 0 is infinite noise "
                                                      "(sigma = -log alpha), expected alpha > 0: use a schedule with eps > 0");
        }
        if (out.shape(0) != B || out.shape(1) != T || out.shape(2) != V) out = xt::xtensor<float, 3>::from_shape({B, T, V});
        const auto mask = static_cast<std::size_t>(cfg_.mask_id);
        constexpr float ninf = -std::numeric_limits<float>::infinity();
        for (std::size_t b = 0; b < B; ++b) {
            const token_id* ids = x.data() + b * T;
            const double sigma = alpha[b] > 0.0 ? -std::log(alpha[b]) : 0.0;  // alpha = 0 only when sigma is unused
            forward(std::span<const token_id>(ids, T), sigma, out.data() + b * T * V);
            for (std::size_t t = 0; t < T; ++t) {
                float* row = out.data() + (b * T + t) * V;
                const auto id = static_cast<std::size_t>(ids[t]);
                if (id != mask) {  // clean: carried over
                    std::fill(row, row + V, ninf);
                    row[id] = 0.0f;
                    continue;
                }
                row[mask] = ninf;
                double m = -std::numeric_limits<double>::infinity();
                for (std::size_t v = 0; v < V; ++v)
                    if (v != mask) m = std::max(m, double(row[v]));
                double z = 0.0;
                for (std::size_t v = 0; v < V; ++v)
                    if (v != mask) z += std::exp(double(row[v]) - m);
                const double log_z = m + std::log(z);
                for (std::size_t v = 0; v < V; ++v)
                    if (v != mask) row[v] = static_cast<float>(double(row[v]) - log_z);
            }
        }
    }

private:
    void block(std::span<const token_id> ids, std::size_t first, std::size_t count, double sigma, kv_cache& cache,
               bool commit, const std::span<const std::size_t>* rows, float* out) {
        const std::size_t T = ids.size(), L = cfg_.block_size;
        if (cfg_.variant != dit_variant::bd3lm)
            ddiff::detail::fail<invalid_argument>("dit::forward_block: an exact KV cache needs block-causal attention "
                                                  "(a BD3-LM checkpoint); MDLM / SEDD attend bidirectionally");
        check(T, sigma);
        if (count == 0 || first > T || count > T - first)
            ddiff::detail::fail<shape_error>("dit::forward_block: rows [", first, ", ", first + count, ") of a ", T,
                                             "-token canvas, expected a non-empty range inside it");
        if (first > cache.committed)
            ddiff::detail::fail<invalid_argument>("dit::forward_block: rows from ", first, " need the keys of rows [0, ",
                                                  first, ") but the cache holds ", cache.committed, " committed rows");
        if ((first + count) % L != 0)
            ddiff::detail::fail<shape_error>("dit::forward_block: rows [", first, ", ", first + count,
                                             ") end inside a block of ", L, ", expected a block boundary");
        grow(cache, T);
        run_cached(ids, first, count, sigma, cache, rows, out);
        cache.committed = commit ? first + count : std::min(cache.committed, first);
    }

    void check(std::size_t T, double sigma) const {
        if (T > cfg_.model_length)
            ddiff::detail::fail<invalid_argument>("dit: sequence of ", T, " tokens, expected at most model_length = ",
                                                  cfg_.model_length);
        if (cfg_.block_size && T % cfg_.block_size != 0)
            ddiff::detail::fail<shape_error>("dit: a BD3-LM canvas of ", T, " tokens, expected a multiple of the block "
                                             "size ", cfg_.block_size, " (its sampler appends whole blocks)");
        if (!std::isfinite(sigma))
            ddiff::detail::fail<invalid_argument>("dit: sigma = ", sigma, ", expected a finite noise level");
    }
    static void check_rows(std::span<const std::size_t> rows, std::size_t lo, std::size_t hi) {
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (rows[i] < lo || rows[i] >= hi || (i > 0 && rows[i] <= rows[i - 1]))
                ddiff::detail::fail<invalid_argument>("dit: row ", rows[i], " (entry ", i, ") is not inside [", lo, ", ",
                                                      hi, ") in strictly increasing order");
    }
    void set_conditioning(double sigma) {
        const auto c64 = conditioning(backbone_sigma(sigma));
        std::copy(c64.begin(), c64.end(), c_.begin());
    }
    std::size_t kv_width() const noexcept { return cfg_.hidden_size; }  // n_kv_heads = n_heads
    void grow(kv_cache& cache, std::size_t T) const {
        const std::size_t w = kv_width() * blocks_.size();
        if (cache.tokens >= T && cache.k.size() == w * cache.tokens) return;
        const std::size_t cap = std::max(T, 2 * cache.tokens);
        std::vector<float> k(w * cap, 0.0f), v(w * cap, 0.0f);
        const std::size_t keep = std::min(cache.committed, cache.tokens) * kv_width();
        for (std::size_t l = 0; l < blocks_.size() && !cache.k.empty(); ++l) {
            const auto src = std::ptrdiff_t(l * cache.tokens * kv_width()), dst = std::ptrdiff_t(l * cap * kv_width());
            std::copy(cache.k.begin() + src, cache.k.begin() + src + std::ptrdiff_t(keep), k.begin() + dst);
            std::copy(cache.v.begin() + src, cache.v.begin() + src + std::ptrdiff_t(keep), v.begin() + dst);
        }
        cache.k = std::move(k);
        cache.v = std::move(v);
        cache.tokens = cap;
    }
    void run_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, double sigma, kv_cache& cache,
                    const std::span<const std::size_t>* rows, float* out) {
        const std::size_t T = ids.size(), D = cfg_.hidden_size;
        reserve(T);
        set_conditioning(sigma);
        emb_.forward(ids.data() + first, count, x_.data(), D);
        const nn::attention_mask mask{nullptr, cfg_.block_size};
        const std::size_t nsel = rows ? rows->size() : count;
        sel_.resize(nsel);
        for (std::size_t i = 0; i < nsel; ++i) sel_[i] = rows ? (*rows)[i] - first : i;
        const bool all = nsel == count;
        for (std::size_t l = 0; l < blocks_.size(); ++l) {
            const std::size_t off = l * cache.tokens * kv_width();
            const nn::kv_cache_view view{cache.k.data() + off, cache.v.data() + off, T};
            if (all || l + 1 < blocks_.size()) {
                blocks_[l].forward_cached(x_.data(), count, first, c_.data(), positions_.data() + first, mask, view, ws_,
                                          *pool_);
            } else {
                blocks_[l].forward_cached(x_.data(), count, first, c_.data(), positions_.data() + first, mask, view, ws_,
                                          *pool_, nn::row_subset::of(sel_.data(), nsel), xsel_.data());
            }
        }
        out_.forward(all ? x_.data() : xsel_.data(), nsel, c_.data(), out, cfg_.vocab_size, ws_, *pool_);
    }

    // rotary_emb.inv_freq is a persistent buffer in both layouts: when present it must be
    // 10000^(-2j/hd) (the table ddiff builds), else the checkpoint uses another rotary base.
    static void check_inv_freq(const io::checkpoint& ck, const std::string& name, std::size_t hd) {
        if (!ck.contains(name)) return;
        const auto inv = read_vector(ck, name, hd / 2);
        for (std::size_t j = 0; j < inv.size(); ++j) {
            const double want = std::pow(dit_config::rope_theta, -2.0 * double(j) / double(hd));
            if (!(std::abs(double(inv[j]) - want) <= 4.0 * std::numeric_limits<float>::epsilon() * want))
                ddiff::detail::fail<format_error>(name, "[", j, "] = ", inv[j], ", expected 1 / 10000^(", 2 * j, "/", hd,
                                                  ") = ", want, " (ddiff's DiT uses rotary base 10000)");
        }
    }

    void reserve(std::size_t T) {
        if (T <= reserved_) return;
        const std::size_t threads = pool_->size();
        std::size_t need = out_.workspace_floats(T, threads);
        for (const auto& b : blocks_) need = std::max(need, b.workspace_floats(T, threads));
        ws_ = nn::workspace(need);
        x_.assign(T * cfg_.hidden_size, 0.0f);
        xsel_.assign(T * cfg_.hidden_size, 0.0f);
        positions_.resize(T);
        for (std::size_t i = 0; i < T; ++i) positions_[i] = static_cast<std::int64_t>(i);
        reserved_ = T;
    }

    dit_config cfg_;
    std::unique_ptr<thread_pool> pool_;
    std::vector<float> c_;                    // (C) conditioning after the SiLU
    nn::embedding emb_;
    std::vector<float> sigma_w0_, sigma_b0_;  // (C, 256), (C): sigma_map.mlp.0
    std::vector<float> sigma_w2_, sigma_b2_;  // (C, C), (C): sigma_map.mlp.2
    std::vector<nn::dit_block<Arch>> blocks_;
    nn::dit_output_layer<Arch> out_;
    nn::workspace ws_;
    std::vector<float> x_;                 // (T, d) residual stream
    std::vector<float> xsel_;              // (<= T, d) residual stream of the selected rows (last block)
    std::vector<std::int64_t> positions_;  // (T) RoPE positions 0..T-1
    std::vector<std::size_t> sel_;         // selected rows relative to the first computed row
    kv_cache scratch_;                     // forward_rows' keys and values
    std::size_t reserved_ = 0;
};

}  // namespace ddiff::model
