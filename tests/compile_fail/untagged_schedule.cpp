// Must not compile: a schedule with the right members but no opt-in tag. Its twin (built with
// DDIFF_COMPILING_TWIN) adds the tag and must compile.
#include "ddiff/core/concepts.hpp"

struct looks_like_a_schedule {
#ifdef DDIFF_COMPILING_TWIN
    using schedule_concept = ddiff::schedule_tag;
#endif
    double alpha(double t) const { return 1.0 - t; }
    double alpha_prime(double) const { return -1.0; }
};

static_assert(ddiff::check_noise_schedule<looks_like_a_schedule>());

int main() { return 0; }
