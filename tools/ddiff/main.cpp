// The ddiff command-line program. Strings become policy types only here, at the edge.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

#include <ddiff/ddiff.hpp>

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
                 schedule::geometric, schedule::linear_sigma>
        s;
    double alpha(double t) const {
        return std::visit([t](const auto& x) { return x.alpha(t); }, s);
    }
    double alpha_prime(double t) const {
        return std::visit([t](const auto& x) { return x.alpha_prime(t); }, s);
    }
};
const std::vector<std::string> schedule_names = {"log_linear", "mdlm_cosine", "mdlm_cosine_squared",
                                                 "duo_cosine", "geometric", "linear_sigma"};
cli_schedule make_schedule(const std::string& name) {
    if (name == "mdlm_cosine") return {schedule::mdlm_cosine{}};
    if (name == "mdlm_cosine_squared") return {schedule::mdlm_cosine_squared{}};
    if (name == "duo_cosine") return {schedule::duo_cosine{}};
    if (name == "geometric") return {schedule::geometric{}};
    if (name == "linear_sigma") return {schedule::linear_sigma{}};
    return {schedule::log_linear{}};
}

using any_remask = std::variant<remask::low_confidence, remask::random, remask::confidence, remask::margin,
                                remask::entropy>;
const std::vector<std::string> remask_names = {"low_confidence", "random", "confidence", "margin", "entropy"};
any_remask make_remask(const std::string& n) {
    if (n == "random") return remask::random{};
    if (n == "confidence") return remask::confidence{};
    if (n == "margin") return remask::margin{};
    if (n == "entropy") return remask::entropy{};
    return remask::low_confidence{};
}

using any_sampler = std::variant<sampler::top_k, sampler::dream_count, sampler::schedule_count, sampler::ancestral,
                                 sampler::threshold, sampler::factor, sampler::entropy_bounded,
                                 sampler::first_hitting>;
const std::vector<std::string> sampler_names = {"top_k", "dream", "schedule", "schedule_binomial", "ancestral",
                                                "threshold", "factor", "eb", "first_hitting"};
any_sampler make_sampler(const std::string& n, const cli::options& opt) {
    if (n == "dream") return sampler::dream_count{};
    if (n == "schedule") return sampler::schedule_count{false};
    if (n == "schedule_binomial") return sampler::schedule_count{true};
    if (n == "ancestral") return sampler::ancestral{};
    if (n == "threshold") return sampler::threshold{opt.number("threshold", 0.0, 1.0)};
    if (n == "factor") return sampler::factor{opt.number("factor", 1e-9, 1e9)};
    if (n == "eb") return sampler::entropy_bounded{opt.number("gamma", 0.0, 1e9)};
    if (n == "first_hitting") return sampler::first_hitting{};
    return sampler::top_k{};
}

int generate(int argc, char** argv) {
    cli::options opt("ddiff generate",
                     "Generate text by discrete diffusion: start from a fully masked canvas and reveal tokens\n"
                     "over a number of steps. The model is the exact Markov-chain oracle fitted to a text.\n"
                     "Every sample uses seed + its index.",
                     {{"model", "SPEC", "markov", "markov (built-in Genesis 1 text) or markov:FILE (fit to FILE)"},
                      {"length", "N", "64", "number of positions to generate"},
                      {"steps", "N", "64", "number of denoising steps"},
                      {"schedule", "NAME", "log_linear", "noise schedule: log_linear, mdlm_cosine, "
                                                         "mdlm_cosine_squared, duo_cosine, geometric, linear_sigma"},
                      {"smoothing", "K", "0.1", "add-k smoothing of the bigram counts"},
                      {"remask", "NAME", "low_confidence", "remasking score: low_confidence, random, confidence, "
                                                           "margin, entropy"},
                      {"sampler", "NAME", "top_k", "step rule: top_k (LLaDA), dream, schedule, schedule_binomial, "
                                                   "ancestral, threshold, factor, eb, first_hitting"},
                      {"block-length", "N", "0", "semi-autoregressive block length (0 = one block)"},
                      {"temperature", "T", "1", "sampling temperature (0 = greedy)"},
                      {"top-k", "K", "0", "keep the K most likely tokens (0 = off)"},
                      {"top-p", "P", "1", "nucleus filter (1 = off)"},
                      {"cfg-scale", "W", "0", "LLaDA unsupervised classifier-free guidance weight"},
                      {"threshold", "TAU", "0.9", "confidence threshold of --sampler threshold"},
                      {"factor", "F", "1", "factor of --sampler factor"},
                      {"gamma", "G", "0.001", "entropy bound of --sampler eb"},
                      {"threads", "N", "1", "worker threads (the output does not depend on it)"},
                      {"prompt", "TEXT", "", "text the output starts with (kept fixed)"},
                      {"seed", "N", "0", "random seed: the same seed gives the same output"},
                      {"num-samples", "N", "1", "number of samples, one per line"},
                      {"print-ids", "", "", "print token ids instead of text"},
                      {"trace", "", "", "print the canvas after every step ('_' = masked) to stderr"}});
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

    oracle::text_chain tc = [&] {
        if (model == "markov") return oracle::fit_text(cli::default_text, k);
        if (model.rfind("markov:", 0) == 0) return oracle::fit_text_file(model.substr(7), k);
        throw cli::usage_error("ddiff generate: --model = '" + model +
                               "', expected 'markov' or 'markov:FILE' (transformer checkpoints are not supported yet)");
    }();
    oracle::absorbing_markov_oracle o(tc.chain);
    const sequence prompt = tc.encode(opt.str("prompt"));
    const bool ids = opt.flag("print-ids"), trace = opt.flag("trace");
    generate_options go;
    go.gen_length = length;
    go.steps = steps;
    go.block_length = std::size_t(opt.integer("block-length", 0, 1 << 20));
    go.temperature = opt.number("temperature", 0.0, 1e6);
    go.top_k = std::size_t(opt.integer("top-k", 0, 1 << 30));
    go.top_p = opt.number("top-p", 1e-9, 1.0);
    go.cfg_scale = opt.number("cfg-scale", 0.0, 1e6);
    go.threads = unsigned(opt.integer("threads", 1, 256));

    auto show = [&](std::span<const token_id> x, std::ostream& os) {
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (ids) os << (i ? " " : "") << x[i];
            else os << (x[i] == o.mask_id() ? '_' : tc.decode(x[i]));
        }
        os << '\n';
    };
    std::size_t nfe = 0;
    const auto start = std::chrono::steady_clock::now();
    auto run = [&](auto remask_policy, auto sampler_policy) {
        using model_t = oracle::absorbing_markov_oracle;
        decoder<model_t, cli_schedule, decltype(remask_policy), decltype(sampler_policy)> dec(o, sched, remask_policy,
                                                                                               sampler_policy);
        for (std::size_t r = 0; r < samples; ++r) {
            go.seed = seed + r;
            const auto res = dec.generate(prompt, go, [&](const step_record& rec) {
                if (!trace) return;
                std::cerr << "step " << rec.step + 1 << " ";
                show(std::span<const token_id>(rec.canvas->data() + rec.row * rec.canvas->shape(1),
                                               rec.canvas->shape(1)),
                     std::cerr);
            });
            nfe += res.nfe;
            show(std::span<const token_id>(res.tokens.data(), res.tokens.shape(1)), std::cout);
        }
    };
    std::visit(run, make_remask(opt.choice("remask", remask_names)),
               make_sampler(opt.choice("sampler", sampler_names), opt));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << "ddiff: " << samples << " sample(s), " << nfe << " model calls, " << secs << " s\n";
    return 0;
}

void usage(std::ostream& os) {
    os << "usage: ddiff <command> [options]\n\n"
          "commands:\n"
          "  generate   generate text by discrete diffusion (ddiff generate --help)\n"
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
