// Quick start: compose a decoder from policies and run it on the exact Markov oracle.
#include <ddiff/ddiff.hpp>

#include <iostream>

int main() {
    // The model: the exact p(x_0 | x_t) of a character bigram chain fitted to a text.
    const auto text = ddiff::oracle::fit_text("In the beginning God created the heaven and the earth.");
    ddiff::oracle::absorbing_markov_oracle model(text.chain);

    // The decoder: LLaDA's low-confidence remasking with its top-k step rule.
    ddiff::decoder<ddiff::oracle::absorbing_markov_oracle, ddiff::schedule::log_linear,
                   ddiff::remask::low_confidence, ddiff::sampler::top_k>
        dec(model);

    ddiff::generate_options opt;
    opt.gen_length = 48;
    opt.steps = 24;
    opt.block_length = 16;
    opt.temperature = 0.8;
    opt.seed = 7;
    const auto out = dec.generate(text.encode("In the"), opt);
    for (auto v : out.tokens) std::cout << text.decode(v);
    std::cout << "\n(" << out.nfe << " model calls)\n";
    return out.nfe == 24 ? 0 : 1;
}
