// Must not compile: a uniform-noise sampler with an absorbing (mask) model.
#include "ddiff/ddiff.hpp"

using bad = ddiff::decoder<ddiff::oracle::absorbing_markov_oracle, ddiff::schedule::log_linear,
                           ddiff::remask::confidence, ddiff::sampler::duo_ancestral>;
static_assert(sizeof(bad) > 0);

int main() { return 0; }
