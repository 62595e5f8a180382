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

using any_schedule = std::variant<schedule::log_linear, schedule::mdlm_cosine, schedule::mdlm_cosine_squared,
                                  schedule::duo_cosine, schedule::geometric, schedule::linear_sigma>;
const std::vector<std::string> schedule_names = {"log_linear", "mdlm_cosine", "mdlm_cosine_squared",
                                                 "duo_cosine", "geometric", "linear_sigma"};

any_schedule make_schedule(const std::string& name) {
    if (name == "mdlm_cosine") return schedule::mdlm_cosine{};
    if (name == "mdlm_cosine_squared") return schedule::mdlm_cosine_squared{};
    if (name == "duo_cosine") return schedule::duo_cosine{};
    if (name == "geometric") return schedule::geometric{};
    if (name == "linear_sigma") return schedule::linear_sigma{};
    return schedule::log_linear{};
}

// MDLM ancestral sampling with the exact oracle: from t to s each masked position is
// revealed with probability (alpha_s - alpha_t) / (1 - alpha_t), its token drawn from the
// oracle's p(x_0^i | x_t); the last step reveals everything left.
template <class Schedule, class Observer>
sequence decode_with_oracle(const oracle::absorbing_markov_oracle& o, const Schedule& sched, sequence canvas,
                            std::uint32_t steps, const counter_rng& g, std::size_t& nfe, Observer&& observe) {
    const token_id mask = o.mask_id();
    const std::size_t L = canvas.size();
    xt::xtensor<double, 2> post;
    for (std::uint32_t j = 0; j < steps; ++j) {
        const double t = 1.0 - double(j) / steps, s = 1.0 - double(j + 1) / steps;
        const double a_t = sched.alpha(t), a_s = sched.alpha(s);
        bool any_masked = false;
        for (auto v : canvas) any_masked |= v == mask;
        if (!any_masked) break;
        o.posterior(std::span<const token_id>(canvas.data(), L), a_t, post);
        ++nfe;
        const double reveal = j + 1 == steps ? 1.0 : (a_s - a_t) / (1.0 - a_t);
        for (std::size_t i = 0; i < L; ++i) {
            if (canvas(i) != mask) continue;
            if (g.uniform({streams::transfer, j, std::uint32_t(i)}) >= reveal) continue;
            canvas(i) = token_id(sample_categorical(std::span<const double>(&post(i, 0), o.data_states()), g,
                                                    {streams::token, j, std::uint32_t(i)}));
        }
        observe(j, canvas);
    }
    return canvas;
}

int generate(int argc, char** argv) {
    cli::options opt("ddiff generate",
                     "Generate text by discrete diffusion: start from a fully masked canvas and reveal tokens\n"
                     "over a number of steps. The model is the exact Markov-chain oracle fitted to a text.",
                     {{"model", "SPEC", "markov", "markov (built-in Genesis 1 text) or markov:FILE (fit to FILE)"},
                      {"length", "N", "64", "number of positions to generate"},
                      {"steps", "N", "64", "number of denoising steps"},
                      {"schedule", "NAME", "log_linear", "noise schedule: log_linear, mdlm_cosine, "
                                                         "mdlm_cosine_squared, duo_cosine, geometric, linear_sigma"},
                      {"smoothing", "K", "0.1", "add-k smoothing of the bigram counts"},
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
    const auto sched = make_schedule(opt.choice("schedule", schedule_names));

    oracle::text_chain tc = [&] {
        if (model == "markov") return oracle::fit_text(cli::default_text, k);
        if (model.rfind("markov:", 0) == 0) return oracle::fit_text_file(model.substr(7), k);
        throw cli::usage_error("ddiff generate: --model = '" + model +
                               "', expected 'markov' or 'markov:FILE' (transformer checkpoints are not supported yet)");
    }();
    const oracle::absorbing_markov_oracle o(tc.chain);
    const sequence prompt = tc.encode(opt.str("prompt"));
    const bool ids = opt.flag("print-ids"), trace = opt.flag("trace");

    auto show = [&](const sequence& x, std::ostream& os) {
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (ids) os << (i ? " " : "") << x(i);
            else os << (x(i) == o.mask_id() ? '_' : tc.decode(x(i)));
        }
        os << '\n';
    };
    std::size_t nfe = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < samples; ++r) {
        sequence canvas = xt::zeros<token_id>({prompt.size() + length});
        for (std::size_t i = 0; i < canvas.size(); ++i) canvas(i) = i < prompt.size() ? prompt(i) : o.mask_id();
        const sequence out = std::visit(
            [&](const auto& s) {
                return decode_with_oracle(o, s, canvas, steps, counter_rng(seed, r), nfe,
                                          [&](std::uint32_t j, const sequence& c) {
                                              if (!trace) return;
                                              std::cerr << "step " << j + 1 << "/" << steps << " ";
                                              show(c, std::cerr);
                                          });
            },
            sched);
        show(out, std::cout);
    }
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
