// Must not compile: a forward process with every member but no opt-in tag. Its twin (built with
// DDIFF_COMPILING_TWIN) adds the tag and must compile.
#include <span>

#include "ddiff/core/concepts.hpp"

struct looks_like_a_process {
#ifdef DDIFF_COMPILING_TWIN
    using process_concept = ddiff::process_tag;
#endif
    static constexpr ddiff::noise_kind kind = ddiff::noise_kind::absorbing;
    std::size_t num_states() const { return 2; }
    double prob(ddiff::token_id, ddiff::token_id, double) const { return 0.5; }
    ddiff::token_id sample(ddiff::token_id x0, double, const ddiff::counter_rng&, ddiff::draw_site) const { return x0; }
    void posterior(ddiff::token_id, ddiff::token_id, double, double, std::span<double>) const {}
    double elbo_weight(double, double) const { return 1.0; }
};

static_assert(ddiff::check_forward_process<looks_like_a_process>());

int main() { return 0; }
