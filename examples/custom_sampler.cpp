// Tutorial: write your own step rule in 30 lines (docs/tutorial-sampler.md). This one commits,
// at every step, each masked position whose score is at least half of the best score.
#include <ddiff/ddiff.hpp>

#include <algorithm>
#include <iostream>

// 1. Opt in with the tag; 2. say it has no fixed plan (the block runs until it is full);
// 3. in step(), commit candidates into the canvas. A `name` is optional.
struct half_of_best {
    using sampler_concept = ddiff::sampler_tag;
    static constexpr bool adaptive = true;
    void step(ddiff::sampler::step_context& c) const {
        double best = 0.0;
        for (const auto& k : c.candidates) best = std::max(best, k.score);
        for (const auto& k : c.candidates)
            if (k.score >= best / 2) c.commit(k);
    }
};

int main() {
    const auto text = ddiff::oracle::fit_text("In the beginning God created the heaven and the earth.");
    ddiff::oracle::absorbing_markov_oracle model(text.chain);
    // 4. Plug it into any decoder: here with LLaDA's low_confidence score (a probability).
    ddiff::decoder<ddiff::oracle::absorbing_markov_oracle, ddiff::schedule::log_linear,
                   ddiff::remask::low_confidence, half_of_best>
        dec(model);
    ddiff::generate_options opt;
    opt.gen_length = 32;
    const auto out = dec.generate(text.encode("In the"), opt);
    bool filled = true;
    for (auto v : out.tokens) {
        filled = filled && v != model.mask_id();
        std::cout << (v == model.mask_id() ? '_' : text.decode(v));
    }
    std::cout << "\n32 positions in " << out.nfe << " model calls; filled: " << (filled ? "yes" : "no") << '\n';
    return filled && out.nfe < 32 ? 0 : 1;
}
