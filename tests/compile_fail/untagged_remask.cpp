// Must not compile: a remasking strategy with a score but no opt-in tag. Its twin (built with
// DDIFF_COMPILING_TWIN) adds the tag and must compile.
#include "ddiff/core/concepts.hpp"

struct looks_like_a_remask {
#ifdef DDIFF_COMPILING_TWIN
    using remask_concept = ddiff::remask_tag;
#endif
    double score(const ddiff::position_view&, const ddiff::step_info&, const ddiff::counter_rng&) const { return 0; }
};

static_assert(ddiff::check_remasking_strategy<looks_like_a_remask>());

int main() { return 0; }
