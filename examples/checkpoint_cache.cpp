// A real checkpoint: load a LLaDA-layout model (safetensors + config.json + vocab.json; by
// default the shipped models/kjv-char), decode in blocks without a KV cache and with Fast-dLLM's
// prefix and dual caches, and print each text with its model calls and time.
//   example_checkpoint_cache [MODEL_DIR]
#include <ddiff/ddiff.hpp>
#include <ddiff/io/tokenizer.hpp>
#include <ddiff/model/llada.hpp>

#include <chrono>
#include <iostream>

#ifndef DDIFF_SHIPPED_MODEL
#define DDIFF_SHIPPED_MODEL "models/kjv-char"
#endif

int main(int argc, char** argv) {
    const std::filesystem::path dir = argc > 1 ? argv[1] : DDIFF_SHIPPED_MODEL;
    auto model = ddiff::model::llada<>::load(dir);
    const auto tok = ddiff::io::char_tokenizer::find(dir);
    if (!tok) {
        std::cerr << dir << " has no vocab.json\n";
        return 2;
    }
    ddiff::decoder<ddiff::model::llada<>, ddiff::schedule::log_linear, ddiff::remask::low_confidence,
                   ddiff::sampler::top_k>
        dec(model);
    const auto ids = tok->encode("In the beginning");
    const ddiff::sequence prompt = xt::adapt(ids, {ids.size()});

    ddiff::generate_options opt;
    opt.gen_length = 48;
    opt.steps = 48;
    opt.block_length = 16;  // the caches pay with several blocks
    opt.temperature = 0.0;
    for (auto mode : {ddiff::kv_cache_mode::none, ddiff::kv_cache_mode::prefix, ddiff::kv_cache_mode::dual}) {
        opt.cache = mode;
        const auto t0 = std::chrono::steady_clock::now();
        const auto out = dec.generate(prompt, opt);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const std::vector<ddiff::token_id> row(out.tokens.begin(), out.tokens.end());
        std::cout << ddiff::name(mode) << ": " << tok->decode(row) << "\n  (" << out.nfe << " model calls, " << ms
                  << " ms)\n";
    }
    return 0;
}
