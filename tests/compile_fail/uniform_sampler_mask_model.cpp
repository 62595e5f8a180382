// Must not compile: a uniform-noise sampler with an absorbing (mask) model. Its twin (built with
// DDIFF_COMPILING_TWIN) pairs the sampler with a uniform-noise model and must compile.
#include "ddiff/ddiff.hpp"

#ifdef DDIFF_COMPILING_TWIN
using model = ddiff::oracle::uniform_markov_oracle;
#else
using model = ddiff::oracle::absorbing_markov_oracle;
#endif
using dec = ddiff::decoder<model, ddiff::schedule::log_linear, ddiff::remask::confidence, ddiff::sampler::duo>;
static_assert(sizeof(dec) > 0);

int main() { return 0; }
