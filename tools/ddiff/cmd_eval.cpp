// ddiff eval: the masked-diffusion negative ELBO of a text (LLaDA's Monte Carlo estimator), or
// the loss of fixed masks written by tools/train/eval_elbo.py.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ddiff/decoder/likelihood.hpp>
#include <ddiff/io/safetensors.hpp>
#include <ddiff/runtime/session.hpp>

#include "commands.hpp"
#include "progress.hpp"

namespace ddiff::cli {
namespace {

struct eval_args {
    std::string text, string, masks;
    std::size_t window = 256, window_step = 1, max_chars = 0, mc_num = 128, batch_size = 16;
    std::uint64_t seed = 0;
    bool no_progress = false;

    template <class V>
    void for_each_field(V&& v) {
        v(runtime::field_info{"text", "FILE", "the text to score"}, text);
        v(runtime::field_info{"string", "TEXT", "score this text instead of a file"}, string);
        v(runtime::field_info{"window", "N", "window length in characters (the model's training length)", 1.0, 1 << 20},
          window);
        v(runtime::field_info{"window_step", "N", "score every N-th window only (1 = all)", 1.0, 1 << 20}, window_step);
        v(runtime::field_info{"max_chars", "N", "use only the first N characters (0 = all)", 0.0, 9.2e18}, max_chars);
        v(runtime::field_info{"mc_num", "N", "Monte Carlo samples per window", 1.0, 1 << 24}, mc_num);
        v(runtime::field_info{"batch_size", "N", "samples per stratified mini-batch (divides --mc-num)", 1.0, 1 << 24},
          batch_size);
        v(runtime::field_info{"masks", "FILE", "score the fixed masks of a tools/train/eval_elbo.py --dump-masks file"},
          masks);
        v(runtime::field_info{"seed", "N", "random seed", 0.0, 9.2e18}, seed);
        v(runtime::field_info{"no_progress", "", "no progress bar on stderr"}, no_progress);
    }
};

class eval_command final : public command {
public:
    eval_command() { model_.model = default_model(); }
    const char* name() const override { return "eval"; }
    const char* summary() const override {
        return "The masked-diffusion negative ELBO of a text in bits per character, by Monte Carlo over\n"
               "masks (LLaDA's get_log_likelihood estimator), with its standard error. The text is cut into\n"
               "windows of --window characters, each an independent sequence. For a block-diffusion model\n"
               "(block-causal attention) it is BD3-LM's bound: per block, given the clean blocks before it.";
    }
    void fields(const field_visitor& v) override {
        visit_fields(model_, v);
        visit_fields(args_, v);
    }

    int run(const given_flags& given) override {
        auto given_ = [&](const char* flag) { return given.count(flag) > 0; };
        model_.validate();
        if (args_.mc_num % args_.batch_size != 0)
            throw usage_error("ddiff eval: --mc-num = " + std::to_string(args_.mc_num) +
                              ", expected a multiple of --batch-size = " + std::to_string(args_.batch_size));
        const bool fixed = given_("masks");
        if (!fixed && given_("text") == given_("string"))
            throw usage_error("ddiff eval: give one of --text and --string");
        auto s = open_session(model_);
        auto& m = s.model();
        if (fixed) return fixed_masks(m);

        if (!s.codec()) throw usage_error("ddiff eval: " + model_.model + " has no vocab.json / tokenizer.json");
        std::string text = args_.string;
        if (given_("text")) {
            std::ifstream in(args_.text, std::ios::binary);
            if (!in) throw ddiff::io_error("ddiff eval: cannot open '" + args_.text + "' for reading");
            text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        auto ids = s.codec()->encode(text);
        if (args_.max_chars && ids.size() > args_.max_chars) ids.resize(args_.max_chars);
        if (ids.empty()) throw usage_error("ddiff eval: the text is empty");
        elbo_options eo;
        eo.mc_num = args_.mc_num;
        eo.batch_size = args_.batch_size;
        eo.seed = args_.seed;
        const std::size_t windows = (ids.size() + args_.window - 1) / args_.window;
        std::vector<std::size_t> chosen;
        for (std::size_t w = 0; w < windows; w += args_.window_step) chosen.push_back(w);
        double nats = 0.0, var = 0.0;
        std::size_t chars = 0, done = 0, block = 0;
        progress_bar bar(!args_.no_progress);
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t w : chosen) {
            const std::size_t lo = w * args_.window, hi = std::min(ids.size(), lo + args_.window);
            eo.stream = static_cast<std::uint32_t>(w);
            const auto est = masked_elbo(m, std::span<const token_id>(ids.data() + lo, hi - lo), eo,
                                         [&](std::size_t k, std::size_t n) {
                                             bar.update((double(done) + double(k) / double(n)) / double(chosen.size()),
                                                        done, chosen.size());
                                         });
            block = est.block_length;
            nats += est.nats;
            var += est.standard_error * est.standard_error;
            chars += hi - lo;
            ++done;
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double bpc = nats / (double(chars) * std::log(2.0)), se = std::sqrt(var) / (double(chars) * std::log(2.0));
        std::printf("nelbo %.4f bits/char (standard error %.4f), %zu chars in %zu window(s) of %zu, %zu samples each",
                    bpc, se, chars, chosen.size(), args_.window, eo.mc_num);
        if (block) std::printf(", block-diffusion bound (blocks of %zu)", block);
        std::printf("\n");
        std::fprintf(stderr, "ddiff eval: %.1f s\n", secs);
        return 0;
    }

private:
    int fixed_masks(runtime::any_model& m) {
        const auto f = io::safetensors_file::open(args_.masks);
        const auto masks = f.tensor("masks").to_i64<2>();
        const auto t = f.tensor("t").to_f64<1>();
        const auto idv = f.tensor("input_ids").to_i64<1>();
        std::vector<token_id> ids(idv.begin(), idv.end());
        if (masks.shape(1) != ids.size() || t.size() != masks.shape(0))
            throw ddiff::format_error("ddiff eval: " + args_.masks + ": masks [" + std::to_string(masks.shape(0)) + ", " +
                                     std::to_string(masks.shape(1)) + "] and t [" + std::to_string(t.size()) +
                                     "], expected masks [n, " + std::to_string(ids.size()) + "] and t [n]");
        // Block-diffusion dumps score sample j on the canvas prefix of prefix[j] tokens.
        std::vector<std::size_t> prefix(masks.shape(0), ids.size());
        if (f.contains("prefix")) {
            const auto pv = f.tensor("prefix").to_i64<1>();
            if (pv.size() != prefix.size())
                throw ddiff::format_error("ddiff eval: " + args_.masks + ": prefix has " + std::to_string(pv.size()) +
                                         " entries, expected one per mask (" + std::to_string(prefix.size()) + ")");
            for (std::size_t j = 0; j < prefix.size(); ++j) {
                if (pv(j) < 1 || std::size_t(pv(j)) > ids.size())
                    throw ddiff::format_error("ddiff eval: " + args_.masks + ": prefix[" + std::to_string(j) + "] = " +
                                             std::to_string(pv(j)) + ", expected a length in [1, " +
                                             std::to_string(ids.size()) + "]");
                prefix[j] = std::size_t(pv(j));
            }
        }
        double sum = 0.0;
        std::vector<std::uint8_t> mask(ids.size());
        for (std::size_t j = 0; j < masks.shape(0); ++j) {
            for (std::size_t i = 0; i < ids.size(); ++i) mask[i] = std::uint8_t(masks(j, i) != 0);
            const std::size_t n = prefix[j];
            const double loss = masked_sample_loss(m, std::span<const token_id>(ids).first(n),
                                                   std::span<const std::uint8_t>(mask).first(n), t(j));
            std::printf("sample %zu: %.9g nats\n", j, loss);
            sum += loss;
        }
        std::printf("mean: %.9g nats over %zu samples, %zu tokens\n", sum / double(masks.shape(0)), masks.shape(0),
                    ids.size());
        return 0;
    }

    runtime::model_options model_;
    eval_args args_;
};

}  // namespace

std::unique_ptr<command> make_eval() { return std::make_unique<eval_command>(); }

}  // namespace ddiff::cli
