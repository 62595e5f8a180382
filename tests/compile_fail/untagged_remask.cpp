// Must not compile: a remasking strategy without its opt-in tag.
#include "ddiff/core/concepts.hpp"

struct looks_like_a_remask {
    double score(const ddiff::position_view&, const ddiff::step_info&, const ddiff::counter_rng&) const { return 0; }
};

static_assert(ddiff::check_remasking_strategy<looks_like_a_remask>());

int main() { return 0; }
