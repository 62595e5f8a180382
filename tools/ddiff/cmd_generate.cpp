// ddiff generate: decode text with any model and any combination of policies named by flags.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <ddiff/runtime/session.hpp>

#include "commands.hpp"
#include "progress.hpp"

namespace ddiff::cli {
namespace {

// What generate adds to the runtime's options: the prompt and the output.
struct generate_args {
    std::string prompt;
    std::vector<token_id> prompt_ids;
    std::string infill;
    bool chat = false;
    std::string system;
    std::size_t num_samples = 1;
    bool print_ids = false, trace = false, no_progress = false;

    template <class V>
    void for_each_field(V&& v) {
        v(runtime::field_info{"prompt", "TEXT", "text the output starts with (kept fixed)"}, prompt);
        v(runtime::field_info{"prompt_ids", "IDS", "prompt as comma-separated token ids (instead of --prompt)"},
          prompt_ids);
        v(runtime::field_info{"infill", "TEXT", "infill: regenerate every '_' of TEXT, keep the rest (--length is ignored)"},
          infill);
        v(runtime::field_info{"chat", "", "wrap --prompt in the checkpoint's chat template (a user turn, the assistant's "
                                          "turn to come) and print only the reply"},
          chat);
        v(runtime::field_info{"system", "TEXT", "with --chat: a system turn first"}, system);
        v(runtime::field_info{"num_samples", "N", "number of samples, one per line (seed + index; newlines inside a "
                                                  "sample printed as \\n)",
                              1.0, 1 << 24},
          num_samples);
        v(runtime::field_info{"print_ids", "", "print token ids instead of text"}, print_ids);
        v(runtime::field_info{"trace", "", "print the canvas after every step ('_' = masked) to stderr"}, trace);
        v(runtime::field_info{"no_progress", "", "no progress bar on stderr"}, no_progress);
    }
};

class generate_command final : public command {
public:
    generate_command() { model_.model = default_model(); }
    const char* name() const override { return "generate"; }
    const char* summary() const override {
        return "Generate text by discrete diffusion: start from a fully masked (or, with --noise uniform, random)\n"
               "canvas and reveal tokens over a number of steps. The model is a checkpoint directory (the shipped\n"
               "character model by default) or the exact Markov-chain oracle fitted to a text.";
    }
    std::string footer() const override {
        return "schedules:\n" + runtime::help_lines(runtime::schedules{}) + "remasking scores:\n" +
               runtime::help_lines(runtime::remasks{}) + "step rules, absorbing noise:\n" +
               runtime::help_lines(runtime::absorbing_samplers{}) + "step rules, uniform noise (--noise uniform):\n" +
               runtime::help_lines(runtime::uniform_samplers{});
    }
    void fields(const field_visitor& v) override {
        visit_fields(model_, v);
        visit_fields(decode_, v);
        visit_fields(args_, v);
    }

    int run(const given_flags& given) override {
        auto given_ = [&](const char* flag) { return given.count(flag) > 0; };
        // Everything that can be checked without the model is checked before it is loaded.
        model_.validate();
        decode_.validate(model_.noise == "uniform");
        const int sources = int(given_("prompt")) + int(given_("prompt-ids")) + int(given_("infill"));
        if (sources > 1) throw usage_error("ddiff generate: give one of --prompt, --prompt-ids and --infill");
        if (given_("infill") && args_.infill.find('_') == std::string::npos)
            throw usage_error("ddiff generate: --infill text has no '_' to fill in");
        if (args_.chat && !given_("prompt")) throw usage_error("ddiff generate: --chat needs --prompt (the user's message)");
        if (given_("system") && !args_.chat) throw usage_error("ddiff generate: --system needs --chat");

        const auto load_start = std::chrono::steady_clock::now();
        auto s = open_session(model_);
        const double load_secs = seconds_since(load_start);

        runtime::decode_request req;
        req.options = decode_;
        const auto* codec = s.codec();
        auto need_codec = [&](const char* flag) {
            if (!codec)
                throw usage_error(std::string("ddiff generate: ") + flag +
                                  " needs a tokenizer (vocab.json or tokenizer.json in the model directory); use "
                                  "--prompt-ids");
        };
        if (given_("prompt") && args_.chat) {
            need_codec("--chat");
            std::vector<runtime::chat_turn> turns;
            if (given_("system")) turns.push_back({"system", args_.system});
            turns.push_back({"user", args_.prompt});
            // As transformers' apply_chat_template(tokenize=True): the template writes the special
            // tokens itself, so the text is encoded without the post-processor's.
            req.prompt = codec->encode(codec->chat(turns, /*add_generation_prompt=*/true), false);
        } else if (given_("prompt")) {
            need_codec("--prompt");
            req.prompt = codec->encode(args_.prompt);
        }
        if (given_("prompt-ids")) req.prompt = args_.prompt_ids;
        if (given_("infill")) {
            need_codec("--infill");
            std::vector<token_id> canvas;
            std::string run;
            auto flush = [&] {
                const auto e = codec->encode(run);
                canvas.insert(canvas.end(), e.begin(), e.end());
                run.clear();
            };
            for (char ch : args_.infill) {
                if (ch == '_') {
                    flush();
                    canvas.push_back(s.info().mask);
                } else {
                    run.push_back(ch);
                }
            }
            flush();
            req.canvas = std::move(canvas);
        }
        s.validate(req);

        const token_id mask = s.info().mask;
        // The whole canvas (prompt included), or with --chat the reply alone without special tokens.
        auto show = [&](std::span<const token_id> x, std::ostream& os, bool final) {
            if (args_.print_ids || !codec) {
                for (std::size_t i = 0; i < x.size(); ++i) os << (i ? " " : "") << x[i];
                os << '\n';
                return;
            }
            const bool reply = final && args_.chat;
            std::string t = reply ? codec->decode(x.subspan(req.prompt.size()), mask, false, true) : codec->decode(x, mask, true);
            if (args_.num_samples > 1)  // one sample per line
                for (std::size_t i = t.find('\n'); i != std::string::npos; i = t.find('\n', i + 2)) t.replace(i, 1, "\\n");
            os << t << '\n';
        };
        progress_bar bar(!args_.no_progress);
        std::size_t nfe = 0, steps = 0, generated = 0, budget = 0;
        double decode_secs = 0.0;
        for (std::size_t r = 0; r < args_.num_samples; ++r) {
            req.seeds = {decode_.seed + r};
            const auto res = s.decode(req, [&](const runtime::step_event& e) {
                if (args_.trace) {
                    std::cerr << "step " << e.step + 1 << " ";
                    show(e.canvas, std::cerr, false);
                }
                const std::size_t first = req.canvas ? 0 : req.prompt.size();
                std::size_t left = 0;
                for (std::size_t i = first; i < e.canvas.size(); ++i) left += e.canvas[i] == mask;
                const double span = double(std::max<std::size_t>(1, e.canvas.size() - first));
                bar.update((double(r) + 1.0 - double(left) / span) / double(args_.num_samples), r, args_.num_samples);
                return true;
            });
            nfe += res.nfe;
            steps += res.steps;
            decode_secs += res.seconds;
            // A block-diffusion decode that stopped at EOS leaves the blocks after it masked: not shown.
            const std::size_t len = res.length.empty() ? res.tokens.shape(1) : res.length[0];
            generated += req.canvas ? 1 : len - res.prompt_length;  // infilling: reported per sample
            budget += res.budget;
            show(std::span<const token_id>(res.tokens.data(), len), std::cout, true);
            std::cout.flush();
        }
        const std::string tokens =
            budget ? "; " + std::to_string(generated) + " of " + std::to_string(budget) + " new tokens generated" : "";
        std::fprintf(stderr,
                     "ddiff: %zu sample(s)%s; load %.3f s; %zu steps, %zu model calls (NFE); %.3f s decoding, "
                     "%.2f ms/step, %.1f tokens/s\n",
                     args_.num_samples, tokens.c_str(), load_secs, steps, nfe, decode_secs,
                     steps ? 1000.0 * decode_secs / double(steps) : 0.0,
                     decode_secs > 0 ? double(generated) / decode_secs : 0.0);
        return 0;
    }

private:
    static double seconds_since(std::chrono::steady_clock::time_point t0) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    runtime::model_options model_;
    runtime::decode_options decode_;
    generate_args args_;
};

}  // namespace

std::unique_ptr<command> make_generate() { return std::make_unique<generate_command>(); }

}  // namespace ddiff::cli
