// Must not compile: a step rule with step() but no opt-in tag, used in a decoder. Its twin
// (built with DDIFF_COMPILING_TWIN) adds the tag and must compile.
#include "ddiff/ddiff.hpp"

struct looks_like_a_sampler {
#ifdef DDIFF_COMPILING_TWIN
    using sampler_concept = ddiff::sampler_tag;
#endif
    void step(ddiff::sampler::step_context& c) const { c.commit_all(); }
};

using dec = ddiff::decoder<ddiff::oracle::absorbing_markov_oracle, ddiff::schedule::log_linear,
                           ddiff::remask::confidence, looks_like_a_sampler>;
static_assert(sizeof(dec) > 0);

int main() { return 0; }
