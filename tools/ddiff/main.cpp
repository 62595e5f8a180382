// The ddiff command-line program. Strings become policy types only here, at the edge.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <cstdio>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

#include <ddiff/ddiff.hpp>
#include <ddiff/decoder/likelihood.hpp>
#include <ddiff/io/config.hpp>
#include <ddiff/io/safetensors.hpp>
#include <ddiff/io/tokenizer.hpp>
#include <ddiff/model/dit.hpp>
#include <ddiff/model/dream.hpp>
#include <ddiff/model/llada.hpp>

#include "args.hpp"
#include "default_text.hpp"

namespace {
using namespace ddiff;

// The schedule chosen on the command line. The CLI is the one place where strings become
// types; a schedule is called twice per step, so one visit per call costs nothing, while
// a third nested variant would multiply the decoder instantiations by six.
struct cli_schedule {
    using schedule_concept = schedule_tag;
    std::variant<schedule::log_linear, schedule::mdlm_cosine, schedule::mdlm_cosine_squared, schedule::duo_cosine,
                 schedule::geometric, schedule::linear_sigma, schedule::maskgit, schedule::remdm_loop>
        s;
    double alpha(double t) const {
        return std::visit([t](const auto& x) { return x.alpha(t); }, s);
    }
    double alpha_prime(double t) const {
        return std::visit([t](const auto& x) { return x.alpha_prime(t); }, s);
    }
};
const std::vector<std::string> schedule_names = {"log_linear", "mdlm_cosine", "mdlm_cosine_squared", "duo_cosine",
                                                 "geometric", "linear_sigma", "maskgit_cosine", "remdm_loop"};
cli_schedule make_schedule(const std::string& name) {
    if (name == "mdlm_cosine") return {schedule::mdlm_cosine{}};
    if (name == "mdlm_cosine_squared") return {schedule::mdlm_cosine_squared{}};
    if (name == "duo_cosine") return {schedule::duo_cosine{}};
    if (name == "geometric") return {schedule::geometric{}};
    if (name == "linear_sigma") return {schedule::linear_sigma{}};
    if (name == "maskgit_cosine") return {schedule::maskgit(schedule::maskgit_kind::cosine)};
    if (name == "remdm_loop") return {schedule::remdm_loop{}};
    return {schedule::log_linear{}};
}

using any_remask = std::variant<remask::low_confidence, remask::random, remask::confidence, remask::margin,
                                remask::entropy, remask::maskgit_gumbel, remask::credit, remask::klass>;
const std::vector<std::string> remask_names = {"low_confidence", "random", "confidence", "margin",
                                               "entropy",        "maskgit", "credit",     "klass"};
any_remask make_remask(const std::string& n, const cli::options& opt) {
    if (n == "maskgit") return remask::maskgit_gumbel{opt.number("choice-temperature", 0.0, 1e6)};
    if (n == "random") return remask::random{};
    if (n == "credit") return remask::credit{};
    if (n == "klass") {
        remask::klass k;
        k.tau = opt.number("threshold", 0.0, 1.0);
        return k;
    }
    if (n == "confidence") return remask::confidence{};
    if (n == "margin") return remask::margin{};
    if (n == "entropy") return remask::entropy{};
    return remask::low_confidence{};
}

using any_sampler = std::variant<sampler::top_k, sampler::dream_count, sampler::schedule_count<false>,
                                 sampler::schedule_count<true>, sampler::ancestral,
                                 sampler::threshold, sampler::factor, sampler::entropy_bounded,
                                 sampler::first_hitting, sampler::maskgit, sampler::dinfer_threshold,
                                 sampler::dinfer_hierarchical, sampler::remdm_cap, sampler::remdm_rescale,
                                 sampler::remdm_conf, sampler::remdm_loop, sampler::sedd_euler<>,
                                 sampler::sedd_analytic<>>;
using any_uniform_sampler = std::variant<sampler::duo, sampler::duo_greedy, sampler::sedd_euler<noise_kind::uniform>,
                                         sampler::sedd_analytic<noise_kind::uniform>>;
const std::vector<std::string> sampler_names = {
    "top_k", "dream", "schedule", "schedule_binomial", "ancestral", "threshold", "factor", "eb", "first_hitting",
    "maskgit", "dinfer_threshold", "dinfer_hierarchical", "remdm_cap", "remdm_rescale", "remdm_conf", "remdm_loop",
    "sedd_euler", "sedd_analytic"};
const std::vector<std::string> uniform_sampler_names = {"duo", "duo_greedy", "sedd_euler", "sedd_analytic"};

any_uniform_sampler make_uniform_sampler(const std::string& n) {
    if (n == "duo_greedy") return sampler::duo_greedy{};
    if (n == "sedd_euler") return sampler::sedd_euler<noise_kind::uniform>{};
    if (n == "sedd_analytic") return sampler::sedd_analytic<noise_kind::uniform>{};
    return sampler::duo{};
}

template <class R>
R make_remdm(const cli::options& opt) {
    return opt.has("eta") ? R(opt.number("eta", 0.0, 1e6)) : R();
}

// The remasking score chosen on the command line, visited per call for the same reason as
// cli_schedule: the decoder is instantiated once per sampler, not once per (score, sampler).
struct cli_remask {
    using remask_concept = remask_tag;
    any_remask r;
    double score(const position_view& v, const step_info& s, const counter_rng& g) const {
        return std::visit([&](const auto& x) { return x.score(v, s, g); }, r);
    }
    ddiff::reads reads() const {
        return std::visit([](const auto& x) { return policy::reads_of(x); }, r);
    }
    // The optional hooks of stateful strategies (credit, KLASS), forwarded.
    void reset(std::size_t rows, std::size_t len, std::size_t vocab) {
        std::visit([&](auto& x) {
            if constexpr (requires { x.reset(rows, len, vocab); }) x.reset(rows, len, vocab);
        }, r);
    }
    void fuse_logits(std::size_t row, std::size_t pos, std::span<double> logits, const step_info& s) {
        std::visit([&](auto& x) {
            if constexpr (requires { x.fuse_logits(row, pos, logits, s); }) x.fuse_logits(row, pos, logits, s);
        }, r);
    }
    void update(const position_view& v, const step_info& s) {
        std::visit([&](auto& x) {
            if constexpr (requires { x.update(v, s); }) x.update(v, s);
        }, r);
    }
};

any_sampler make_sampler(const std::string& n, const cli::options& opt) {
    if (n == "maskgit") return sampler::maskgit{};
    if (n == "dinfer_threshold") return sampler::dinfer_threshold(opt.number("threshold", 0.0, 1.0));
    if (n == "dinfer_hierarchical")
        return sampler::dinfer_hierarchical(opt.number("threshold", 0.0, 1.0), opt.number("low-threshold", 0.0, 1.0));
    if (n == "remdm_cap") return make_remdm<sampler::remdm_cap>(opt);
    if (n == "remdm_rescale") return make_remdm<sampler::remdm_rescale>(opt);
    if (n == "remdm_conf") return make_remdm<sampler::remdm_conf>(opt);
    if (n == "remdm_loop") return make_remdm<sampler::remdm_loop>(opt);
    if (n == "sedd_euler") return sampler::sedd_euler<>{};
    if (n == "sedd_analytic") return sampler::sedd_analytic<>{};
    if (n == "dream") return sampler::dream_count{};
    if (n == "schedule") return sampler::schedule_count<false>{};
    if (n == "schedule_binomial") return sampler::schedule_count<true>{};
    if (n == "ancestral") return sampler::ancestral{};
    if (n == "threshold") return sampler::threshold(opt.number("threshold", 0.0, 1.0));
    if (n == "factor") return sampler::factor(opt.number("factor", 1e-9, 1e9));
    if (n == "eb") return sampler::entropy_bounded(opt.number("gamma", 0.0, 1e9));
    if (n == "first_hitting") return sampler::first_hitting{};
    return sampler::top_k{};
}

// Progress on stderr for runs longer than a second, when stderr is a terminal: the fraction of
// positions decoded.
class progress_bar {
public:
    explicit progress_bar(bool enabled)
        : enabled_(enabled && isatty(fileno(stderr))), start_(std::chrono::steady_clock::now()) {}
    void update(double fraction, std::size_t sample, std::size_t samples) {
        if (!enabled_) return;
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        if (secs < 1.0) return;
        const int width = 30, filled = static_cast<int>(fraction * width + 0.5);
        std::fprintf(stderr, "\r[%s%s] sample %zu/%zu %5.1f%% %.1fs", std::string(std::size_t(filled), '#').c_str(),
                     std::string(std::size_t(width - filled), ' ').c_str(), sample + 1, samples, 100.0 * fraction, secs);
        shown_ = true;
    }
    ~progress_bar() {
        if (shown_) std::fprintf(stderr, "\n");
    }

private:
    bool enabled_, shown_ = false;
    std::chrono::steady_clock::time_point start_;
};

std::vector<token_id> parse_ids(const std::string& flag, const std::string& text, std::size_t vocab) {
    std::vector<token_id> ids;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = text.find_first_of(", ", i);
        if (j == std::string::npos) j = text.size();
        const std::string item = text.substr(i, j - i);
        if (!item.empty()) {
            char* end = nullptr;
            const long v = std::strtol(item.c_str(), &end, 10);
            if (*end != '\0' || v < 0 || static_cast<std::size_t>(v) >= vocab)
                throw cli::usage_error("ddiff generate: --" + flag + " item '" + item + "', expected a token id in [0, " +
                                       std::to_string(vocab) + ")");
            ids.push_back(static_cast<token_id>(v));
        }
        i = j + 1;
    }
    return ids;
}

// The shipped model when it is present (build tree or installed data directory), else the oracle.
std::string default_model() {
    for (const char* dir : {DDIFF_SOURCE_MODEL_DIR, DDIFF_INSTALLED_MODEL_DIR})
        if (std::filesystem::exists(std::filesystem::path(dir) / "config.json")) return dir;
    return "markov";
}

// Any checkpoint the CLI can load, behind one denoiser type, so the decoder is instantiated once
// per sampler rather than once per (architecture, sampler); one visit per forward pass costs
// nothing next to the pass. Dream's one-position logit shift is applied here (the static
// shift_logits trait cannot vary at run time), and the cache is off (time_conditioned)
// because the DiT may be time-conditioned.
struct cli_checkpoint {
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;
    static constexpr bool time_conditioned = true;
    std::variant<model::llada<>, model::dream<>, model::dit<>> m;
    std::string type;

    static cli_checkpoint load(const std::filesystem::path& dir, const model::load_options& lo) {
        const auto cfg = io::json_config::load(dir / "config.json");
        const std::string type = cfg.get<std::string>("model_type", cfg.has_value("model") ? "sedd" : "");
        if (type == "llada") return {model::llada<>::load(dir, lo), type, {}};
        if (type == "Dream") return {model::dream<>::load(dir, lo), type, {}};
        if (type == "mdlm" || type == "sedd") return {model::dit<>::load(dir, lo), type, {}};
        throw cli::usage_error("ddiff: " + (dir / "config.json").string() + ": model_type '" + type +
                               "', expected one of: llada, Dream, mdlm (or a SEDD config with a \"model\" section)");
    }
    std::size_t vocab_size() const {
        return std::visit([](const auto& x) { return x.vocab_size(); }, m);
    }
    token_id mask_id() const {
        return std::visit([](const auto& x) { return x.mask_id(); }, m);
    }
    void denoise(const token_batch& x, std::span<const double> alpha, xt::xtensor<float, 3>& out) {
        std::visit([&](auto& model) {
            model.denoise(x, alpha, out);
            using M = std::decay_t<decltype(model)>;
            if constexpr (requires { M::shift_logits; }) {
                const std::size_t B = out.shape(0), T = out.shape(1), V = out.shape(2);
                for (std::size_t b = 0; b < B; ++b)
                    for (std::size_t t = T; t-- > 1;)
                        std::copy_n(out.data() + (b * T + t - 1) * V, V, out.data() + (b * T + t) * V);
            }
        }, m);
    }
    // --cache: LLaDA and Dream only; Dream's rows come back shifted as denoise() shifts them.
    using cache_type = model::kv_cache;
    void forward_cached(std::span<const token_id> ids, std::size_t first, std::size_t count, cache_type& cache,
                        float* out) {
        std::visit([&](auto& model) {
            using M = std::decay_t<decltype(model)>;
            if constexpr (requires { model.forward_cached(ids, first, count, cache, out); }) {
                if constexpr (requires { M::shift_logits; }) {
                    // Unshifted rows [f0, first + count), then row t <- row t - 1 (row 0 keeps its own).
                    const std::size_t V = model.vocab_size(), f0 = first > 0 ? first - 1 : 0;
                    shift_buffer.resize((first + count - f0) * V);
                    model.forward_cached(ids, f0, first + count - f0, cache, shift_buffer.data());
                    for (std::size_t t = first; t < first + count; ++t)
                        std::copy_n(shift_buffer.data() + ((t > 0 ? t - 1 : 0) - f0) * V, V, out + (t - first) * V);
                } else {
                    model.forward_cached(ids, first, count, cache, out);
                }
            } else {
                throw ddiff::invalid_argument("ddiff: --cache needs a LLaDA or Dream model, this one is " + type);
            }
        }, m);
    }
    std::vector<float> shift_buffer;
};

// How text maps to ids and back for the model at hand (the CLI edge: run-time functions).
struct text_codec {
    std::function<std::vector<token_id>(const std::string&)> encode;  // empty: the model has no tokenizer
    std::function<std::string(std::span<const token_id>)> decode;
    token_id mask = -1;
    std::size_t vocab = 0;
};

int generate(int argc, char** argv) {
    cli::options opt(
        "ddiff generate",
        "Generate text by discrete diffusion: start from a fully masked (or, with --noise uniform, random)\n"
        "canvas and reveal tokens over a number of steps. The model is a checkpoint directory (LLaDA\n"
        "layout; the shipped character model by default) or the exact Markov-chain oracle fitted to a\n"
        "text. Every sample uses seed + its index.",
        {{"model", "SPEC", default_model(), "a checkpoint directory (config.json + model.safetensors), markov (the "
                                                "exact oracle of the built-in Genesis 1 text) or markov:FILE"},
         {"noise", "KIND", "absorbing", "forward process of the model: absorbing or uniform"},
         {"length", "N", "64", "number of positions to generate"},
         {"steps", "N", "64", "number of denoising steps (a multiple of the number of blocks)"},
         {"schedule", "NAME", "log_linear",
          "noise schedule: log_linear, mdlm_cosine, mdlm_cosine_squared, duo_cosine, geometric, linear_sigma, "
          "maskgit_cosine, remdm_loop"},
         {"remask", "NAME", "low_confidence",
          "remasking score: low_confidence, random, confidence, margin, entropy, maskgit, credit, klass"},
         {"sampler", "NAME", "top_k",
          "step rule, absorbing: top_k (LLaDA), dream, schedule, schedule_binomial, ancestral, threshold, factor, eb, "
          "first_hitting, maskgit, dinfer_threshold, dinfer_hierarchical, remdm_cap, remdm_rescale, remdm_conf, "
          "remdm_loop, sedd_euler, sedd_analytic; uniform: duo, duo_greedy, sedd_euler, sedd_analytic"},
         {"block-length", "N", "0", "semi-autoregressive block length (0 = one block)"},
         {"cache", "MODE", "none",
          "Fast-dLLM KV cache for LLaDA / Dream models: none, prefix or dual (approximate; docs/decoder.md)"},
         {"temperature", "T", "1", "sampling temperature (0 = greedy)"},
         {"top-k", "K", "0", "keep the K most likely tokens (0 = off)"},
         {"top-p", "P", "1", "nucleus filter (1 = off)"},
         {"alg-temp", "T", "0", "draw committed positions from softmax(score / T) instead of the top scores (0 = off)"},
         {"cfg-scale", "W", "0", "LLaDA unsupervised classifier-free guidance weight"},
         {"threshold", "TAU", "0.9", "confidence threshold of threshold, dinfer_threshold, dinfer_hierarchical"},
         {"low-threshold", "TAU", "0.4", "per-run threshold of dinfer_hierarchical"},
         {"factor", "F", "1", "factor of --sampler factor"},
         {"gamma", "G", "0.001", "entropy bound of --sampler eb"},
         {"eta", "ETA", "", "ReMDM eta (defaults: cap 0.008, rescale 0.015, conf 1, loop 0.02)"},
         {"choice-temperature", "T", "1", "MaskGIT's Gumbel temperature of --remask maskgit"},
         {"smoothing", "K", "0.1", "add-k smoothing of the bigram counts"},
         {"prompt", "TEXT", "", "text the output starts with (kept fixed)"},
         {"prompt-ids", "IDS", "", "prompt as comma-separated token ids (instead of --prompt)"},
         {"infill", "TEXT", "", "infill: regenerate every '_' of TEXT, keep the rest (--length is ignored)"},
         {"eos-ids", "IDS", "", "ids that --suppress-eos and --eos-last act on"},
         {"suppress-eos", "", "", "never propose an EOS id (LLaDA logits_eos_inf)"},
         {"eos-last", "", "", "score EOS proposals -inf so they are committed last (LLaDA confidence_eos_eot_inf)"},
         {"seed", "N", "0", "random seed: the same seed gives the same output"},
         {"num-samples", "N", "1", "number of samples, one per line (newlines inside a sample printed as \\n)"},
         {"threads", "N", "1", "worker threads (the output does not depend on it)"},
         {"print-ids", "", "", "print token ids instead of text"},
         {"trace", "", "", "print the canvas after every step ('_' = masked) to stderr"},
         {"no-progress", "", "", "no progress bar on stderr"}});
    opt.parse(argc, argv, 2);
    if (opt.help()) {
        std::cout << opt.usage();
        return 0;
    }
    const std::string model = opt.str("model");
    const auto length = std::size_t(opt.integer("length", 1, 1 << 20));
    const auto steps = std::uint32_t(opt.integer("steps", 1, 1 << 20));
    const auto seed = std::uint64_t(opt.integer("seed", 0, INT64_MAX));
    const auto samples = std::size_t(opt.integer("num-samples", 1, 1 << 24));
    const double k = opt.number("smoothing", 1e-12, 1e12);
    const cli_schedule sched = make_schedule(opt.choice("schedule", schedule_names));
    const bool uniform_noise = opt.choice("noise", {"absorbing", "uniform"}) == "uniform";
    const auto threads = std::size_t(opt.integer("threads", 1, 256));
    const bool is_markov = model == "markov" || model.rfind("markov:", 0) == 0;
    if (int(opt.has("prompt")) + int(opt.has("prompt-ids")) + int(opt.has("infill")) > 1)
        throw cli::usage_error("ddiff generate: give one of --prompt, --prompt-ids and --infill");
    if (!is_markov && uniform_noise)
        throw cli::usage_error("ddiff generate: --noise uniform needs a uniform-noise model (the markov oracle)");
    const bool ids = opt.flag("print-ids"), trace = opt.flag("trace");
    const cli_remask remask_policy{make_remask(opt.choice("remask", remask_names), opt)};

    generate_options go;
    go.gen_length = length;
    go.steps = steps;
    go.block_length = std::size_t(opt.integer("block-length", 0, 1 << 20));
    go.temperature = opt.number("temperature", 0.0, 1e6);
    go.top_k = std::size_t(opt.integer("top-k", 0, 1 << 30));
    go.top_p = opt.number("top-p", 1e-9, 1.0);
    go.alg_temp = opt.number("alg-temp", 0.0, 1e6);
    go.cfg_scale = opt.number("cfg-scale", 0.0, 1e6);
    go.threads = unsigned(threads);
    go.suppress_eos = opt.flag("suppress-eos");
    go.eos_confidence_last = opt.flag("eos-last");
    const std::string cache = opt.choice("cache", {"none", "prefix", "dual"});
    for (auto m : {kv_cache_mode::none, kv_cache_mode::prefix, kv_cache_mode::dual})
        if (cache == name(m)) go.cache = m;

    // Runs the decode for any model; codec maps text.
    std::size_t nfe = 0, decode_steps = 0;
    double decode_secs = 0.0;
    auto decode_all = [&](auto& m, const text_codec& codec, auto sampler_variant) {
        go.eos_ids = parse_ids("eos-ids", opt.str("eos-ids"), codec.vocab);
        if ((go.suppress_eos || go.eos_confidence_last) && go.eos_ids.empty())
            throw cli::usage_error("ddiff generate: --suppress-eos and --eos-last need --eos-ids");
        sequence prompt = xt::zeros<token_id>({std::size_t{0}});
        auto need_codec = [&](const char* flag) {
            if (!codec.encode)
                throw cli::usage_error(std::string("ddiff generate: ") + flag +
                                       " needs a tokenizer (vocab.json or tokenizer.json in the model directory); "
                                       "use --prompt-ids");
        };
        if (opt.has("prompt")) {
            need_codec("--prompt");
            const auto v = codec.encode(opt.str("prompt"));
            prompt = xt::adapt(v, {v.size()});
        }
        if (opt.has("prompt-ids")) {
            const auto v = parse_ids("prompt-ids", opt.str("prompt-ids"), codec.vocab);
            prompt = xt::adapt(v, {v.size()});
        }
        const bool infill = opt.has("infill");
        token_batch canvas;
        if (infill) {
            need_codec("--infill");
            if (uniform_noise) throw cli::usage_error("ddiff generate: --infill needs --noise absorbing");
            const std::string t = opt.str("infill");
            if (t.find('_') == std::string::npos)
                throw cli::usage_error("ddiff generate: --infill text has no '_' to fill in");
            std::vector<token_id> v;
            std::string run;
            auto flush = [&] {
                const auto e = codec.encode(run);
                v.insert(v.end(), e.begin(), e.end());
                run.clear();
            };
            for (char ch : t) {
                if (ch == '_') {
                    flush();
                    v.push_back(codec.mask);
                } else {
                    run.push_back(ch);
                }
            }
            flush();
            canvas = xt::zeros<token_id>({std::size_t{1}, v.size()});
            for (std::size_t i = 0; i < v.size(); ++i) canvas(0, i) = v[i];
        }
        auto show = [&](std::span<const token_id> x, std::ostream& os) {
            if (ids || !codec.decode) {
                for (std::size_t i = 0; i < x.size(); ++i) os << (i ? " " : "") << x[i];
                os << '\n';
            } else {
                std::string t = codec.decode(x);
                // One sample per line: with several samples a newline inside one is printed as \n.
                if (samples > 1)
                    for (std::size_t i = t.find('\n'); i != std::string::npos; i = t.find('\n', i + 2))
                        t.replace(i, 1, "\\n");
                os << t << '\n';
            }
        };
        progress_bar bar(!opt.flag("no-progress"));
        std::visit(
            [&](auto sampler_p) {
                using model_t = std::decay_t<decltype(m)>;
                decoder<model_t, cli_schedule, cli_remask, decltype(sampler_p)> dec(m, sched, remask_policy, sampler_p);
                const auto start = std::chrono::steady_clock::now();
                for (std::size_t r = 0; r < samples; ++r) {
                    go.seed = seed + r;
                    auto observe = [&](const step_record& rec) {
                        const std::size_t L = rec.canvas->shape(1);
                        const std::span<const token_id> row(rec.canvas->data() + rec.row * L, L);
                        if (trace) {
                            std::cerr << "step " << rec.step + 1 << " ";
                            show(row, std::cerr);
                        }
                        std::size_t left = 0;
                        for (std::size_t i = prompt.size(); i < L; ++i) left += row[i] == codec.mask;
                        const double span = double(std::max<std::size_t>(1, L - prompt.size()));
                        bar.update((double(r) + 1.0 - double(left) / span) / double(samples), r, samples);
                    };
                    generate_result res;
                    if constexpr (model_t::noise == noise_kind::absorbing) {
                        res = infill ? dec.infill(canvas, go, observe) : dec.generate(prompt, go, observe);
                    } else {
                        res = dec.generate(prompt, go, observe);
                    }
                    nfe += res.nfe;
                    decode_steps += res.steps;
                    show(std::span<const token_id>(res.tokens.data(), res.tokens.shape(1)), std::cout);
                    std::cout.flush();
                }
                decode_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            },
            sampler_variant);
    };

    const auto load_start = std::chrono::steady_clock::now();
    double load_secs = 0.0;
    std::size_t generated = samples * length;
    if (is_markov) {
        const oracle::text_chain tc = [&] {
            if (model == "markov") return oracle::fit_text(cli::default_text, k);
            return oracle::fit_text_file(model.substr(7), k);
        }();
        text_codec codec;
        codec.mask = uniform_noise ? -1 : token_id(tc.alphabet.size());
        codec.vocab = tc.alphabet.size();
        codec.encode = [&](const std::string& t) {
            const auto x = tc.encode(t);
            return std::vector<token_id>(x.begin(), x.end());
        };
        codec.decode = [&](std::span<const token_id> x) {
            std::string out;
            for (auto v : x) out += v == codec.mask ? '_' : tc.decode(v);
            return out;
        };
        load_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
        if (uniform_noise) {
            oracle::uniform_markov_oracle m(tc.chain);
            decode_all(m, codec, any_uniform_sampler(make_uniform_sampler(opt.choice("sampler", uniform_sampler_names))));
        } else {
            oracle::absorbing_markov_oracle m(tc.chain);
            decode_all(m, codec, make_sampler(opt.choice("sampler", sampler_names), opt));
        }
    } else {
        const std::filesystem::path dir(model);
        if (!std::filesystem::exists(dir / "config.json"))
            throw cli::usage_error("ddiff generate: --model = '" + model +
                                   "', expected a checkpoint directory with config.json, 'markov' or 'markov:FILE'");
        model::load_options lo;
        lo.threads = threads;
        auto m = cli_checkpoint::load(dir, lo);
        const auto tok = io::char_tokenizer::find(dir);
        text_codec codec;
        codec.mask = m.mask_id();
        codec.vocab = m.vocab_size();
        if (tok) {
            codec.encode = [&](const std::string& t) { return tok->encode(t); };
            codec.decode = [&](std::span<const token_id> x) { return tok->decode(x, codec.mask); };
        }
        load_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
        decode_all(m, codec, make_sampler(opt.choice("sampler", sampler_names), opt));
        if (opt.has("infill")) generated = samples;  // reported per sample below
    }
    std::fprintf(stderr,
                 "ddiff: %zu sample(s); load %.3f s; %zu steps, %zu model calls (NFE); %.3f s decoding, "
                 "%.2f ms/step, %.1f tokens/s\n",
                 samples, load_secs, decode_steps, nfe, decode_secs,
                 decode_steps ? 1000.0 * decode_secs / double(decode_steps) : 0.0,
                 decode_secs > 0 ? double(generated) / decode_secs : 0.0);
    return 0;
}

int evaluate(int argc, char** argv) {
    cli::options opt(
        "ddiff eval",
        "The masked-diffusion negative ELBO of a text in bits per character, by Monte Carlo over\n"
        "masks (LLaDA's get_log_likelihood estimator), with its standard error. The text is cut into\n"
        "windows of --window characters, each an independent sequence.",
        {{"model", "DIR", default_model(), "checkpoint directory with a character-level vocab.json"},
         {"text", "FILE", "", "the text to score"},
         {"string", "TEXT", "", "score this text instead of a file"},
         {"window", "N", "256", "window length in characters (the model's training length)"},
         {"window-step", "N", "1", "score every N-th window only (1 = all)"},
         {"max-chars", "N", "0", "use only the first N characters (0 = all)"},
         {"mc-num", "N", "128", "Monte Carlo samples per window"},
         {"batch-size", "N", "16", "samples per stratified mini-batch (divides --mc-num)"},
         {"masks", "FILE", "", "score the fixed masks of a tools/train/eval_elbo.py --dump-masks file instead"},
         {"seed", "N", "0", "random seed"},
         {"threads", "N", "1", "threads of the model's matrix products"},
         {"no-progress", "", "", "no progress bar on stderr"}});
    opt.parse(argc, argv, 2);
    if (opt.help()) {
        std::cout << opt.usage();
        return 0;
    }
    const std::filesystem::path dir(opt.str("model"));
    if (!std::filesystem::exists(dir / "config.json"))
        throw cli::usage_error("ddiff eval: --model = '" + dir.string() + "', expected a checkpoint directory with config.json");
    model::load_options lo;
    lo.threads = std::size_t(opt.integer("threads", 1, 256));
    auto m = cli_checkpoint::load(dir, lo);
    const auto tok = io::char_tokenizer::find(dir);
    if (opt.has("masks")) {
        const auto f = io::safetensors_file::open(opt.str("masks"));
        const auto masks = f.tensor("masks").to_i64<2>();
        const auto t = f.tensor("t").to_f64<1>();
        const auto idv = f.tensor("input_ids").to_i64<1>();
        std::vector<token_id> ids(idv.begin(), idv.end());
        double sum = 0.0;
        std::vector<std::uint8_t> mask(ids.size());
        for (std::size_t j = 0; j < masks.shape(0); ++j) {
            for (std::size_t i = 0; i < ids.size(); ++i) mask[i] = std::uint8_t(masks(j, i) != 0);
            const double loss = masked_sample_loss(m, ids, mask, t(j));
            std::printf("sample %zu: %.9g nats\n", j, loss);
            sum += loss;
        }
        std::printf("mean: %.9g nats over %zu samples, %zu tokens\n", sum / double(masks.shape(0)), masks.shape(0),
                    ids.size());
        return 0;
    }
    if (!tok) throw cli::usage_error("ddiff eval: " + dir.string() + " has no vocab.json / tokenizer.json");
    if (opt.has("text") == opt.has("string")) throw cli::usage_error("ddiff eval: give one of --text and --string");
    std::string text = opt.str("string");
    if (opt.has("text")) {
        std::ifstream in(opt.str("text"), std::ios::binary);
        if (!in) throw ddiff::io_error("ddiff eval: cannot open '" + opt.str("text") + "' for reading");
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const auto max_chars = std::size_t(opt.integer("max-chars", 0, INT64_MAX));
    auto ids = tok->encode(text);
    if (max_chars && ids.size() > max_chars) ids.resize(max_chars);
    if (ids.empty()) throw cli::usage_error("ddiff eval: the text is empty");
    const auto window = std::size_t(opt.integer("window", 1, 1 << 20));
    const auto step = std::size_t(opt.integer("window-step", 1, 1 << 20));
    elbo_options eo;
    eo.mc_num = std::size_t(opt.integer("mc-num", 1, 1 << 24));
    eo.batch_size = std::size_t(opt.integer("batch-size", 1, 1 << 24));
    eo.seed = std::uint64_t(opt.integer("seed", 0, INT64_MAX));
    if (eo.mc_num % eo.batch_size != 0)
        throw cli::usage_error("ddiff eval: --mc-num = " + std::to_string(eo.mc_num) +
                               ", expected a multiple of --batch-size = " + std::to_string(eo.batch_size));
    const std::size_t windows = (ids.size() + window - 1) / window;
    std::vector<std::size_t> chosen;
    for (std::size_t w = 0; w < windows; w += step) chosen.push_back(w);
    double nats = 0.0, var = 0.0;
    std::size_t chars = 0, done = 0;
    progress_bar bar(!opt.flag("no-progress"));
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t w : chosen) {
        const std::size_t lo = w * window, hi = std::min(ids.size(), lo + window);
        eo.stream = static_cast<std::uint32_t>(w);
        const auto est = masked_elbo(m, std::span<const token_id>(ids.data() + lo, hi - lo), eo,
                                     [&](std::size_t k, std::size_t n) {
                                         bar.update((double(done) + double(k) / double(n)) / double(chosen.size()),
                                                    done, chosen.size());
                                     });
        nats += est.nats;
        var += est.standard_error * est.standard_error;
        chars += hi - lo;
        ++done;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double bpc = nats / (double(chars) * std::log(2.0)), se = std::sqrt(var) / (double(chars) * std::log(2.0));
    std::printf("nelbo %.4f bits/char (standard error %.4f), %zu chars in %zu window(s) of %zu, %zu samples each\n",
                bpc, se, chars, chosen.size(), window, eo.mc_num);
    std::fprintf(stderr, "ddiff eval: %.1f s, %zu model calls\n", secs, chosen.size() * eo.mc_num);
    return 0;
}

void usage(std::ostream& os) {
    os << "usage: ddiff <command> [options]\n\n"
          "commands:\n"
          "  generate   generate text by discrete diffusion (ddiff generate --help)\n"
          "  eval       negative ELBO of a text in bits per character (ddiff eval --help)\n"
          "  help       show this help\n";
}
}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 2) {
            usage(std::cerr);
            return 2;
        }
        const std::string cmd = argv[1];
        if (cmd == "generate") return generate(argc, argv);
        if (cmd == "eval") return evaluate(argc, argv);
        if (cmd == "help" || cmd == "--help" || cmd == "-h") {
            usage(std::cout);
            return 0;
        }
        throw cli::usage_error("ddiff: unknown command '" + cmd + "' (see ddiff --help)");
    } catch (const cli::usage_error& e) {
        std::cerr << e.what() << '\n';
        return 2;
    } catch (const ddiff::error& e) {
        std::cerr << "ddiff: " << e.what() << '\n';
        return 1;
    }
}
