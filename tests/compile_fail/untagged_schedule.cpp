// Must not compile: a schedule with the right members but no opt-in tag.
#include "ddiff/core/concepts.hpp"

struct looks_like_a_schedule {
    double alpha(double t) const { return 1.0 - t; }
    double alpha_prime(double) const { return -1.0; }
};

static_assert(ddiff::check_noise_schedule<looks_like_a_schedule>());

int main() { return 0; }
