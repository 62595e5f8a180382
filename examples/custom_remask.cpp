// Tutorial: write your own remasking strategy in 20 lines (docs/tutorial-remask.md).
// This one commits masked positions strictly left to right, like an autoregressive model.
#include <ddiff/ddiff.hpp>

#include <iostream>

// 1. Opt in with the tag, 2. return a score per masked position: higher = commit sooner.
struct left_to_right {
    using remask_concept = ddiff::remask_tag;
    double score(const ddiff::position_view& v, const ddiff::step_info&, const ddiff::counter_rng&) const {
        return -static_cast<double>(v.position);  // the leftmost masked position scores highest
    }
};
static_assert(ddiff::check_remasking_strategy<left_to_right>());

int main() {
    const auto text = ddiff::oracle::fit_text("abracadabra, said the magician.");
    ddiff::oracle::absorbing_markov_oracle model(text.chain);
    // 3. Plug it into any decoder: here with LLaDA's top-k step rule, one token per step.
    ddiff::decoder<ddiff::oracle::absorbing_markov_oracle, ddiff::schedule::log_linear, left_to_right,
                   ddiff::sampler::top_k>
        dec(model);
    ddiff::generate_options opt;
    opt.gen_length = 12;
    opt.steps = 12;
    opt.temperature = 1.0;
    bool in_order = true;
    std::size_t expected = 3;  // the prompt "abr" fills positions 0..2
    const auto out = dec.generate(text.encode("abr"), opt, [&](const ddiff::step_record& r) {
        in_order = in_order && r.committed.size() == 1 && r.committed[0] == expected++;
    });
    for (auto v : out.tokens) std::cout << text.decode(v);
    std::cout << "\ncommitted left to right: " << (in_order ? "yes" : "no") << '\n';
    return in_order ? 0 : 1;
}
