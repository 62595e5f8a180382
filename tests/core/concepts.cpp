// Positive and negative checks of every extension-point concept.
#include <doctest/doctest.h>

#include "ddiff/core/concepts.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
#include "ddiff/process/absorbing.hpp"
#include "ddiff/process/uniform.hpp"
#include "ddiff/schedule/all.hpp"

using namespace ddiff;

namespace {
// Looks like a schedule but never opted in.
struct untagged_schedule {
    double alpha(double t) const { return 1.0 - t; }
    double alpha_prime(double) const { return -1.0; }
};
// Opted in but alpha has the wrong shape.
struct tagged_without_alpha_prime {
    using schedule_concept = schedule_tag;
    double alpha(double t) const { return 1.0 - t; }
};
struct my_remask {
    using remask_concept = remask_tag;
    double score(const position_view& v, const step_info&, const counter_rng&) const { return v.probs[0]; }
};
struct remask_wrong_tag {
    using remask_concept = schedule_tag;
    double score(const position_view&, const step_info&, const counter_rng&) const { return 0.0; }
};
struct my_sampler {
    using sampler_concept = sampler_tag;
    template <class C>
    void step(C&) {}
};
struct some_context {};
}  // namespace

static_assert(noise_schedule<schedule::log_linear>);
static_assert(noise_schedule<schedule::mdlm_cosine>);
static_assert(noise_schedule<schedule::mdlm_cosine_squared>);
static_assert(noise_schedule<schedule::duo_cosine>);
static_assert(noise_schedule<schedule::bd3lm_cosine>);
static_assert(noise_schedule<schedule::bd3lm_square>);
static_assert(noise_schedule<schedule::bd3lm_sqrt>);
static_assert(noise_schedule<schedule::bd3lm_log>);
static_assert(noise_schedule<schedule::geometric>);
static_assert(noise_schedule<schedule::linear_sigma>);
static_assert(noise_schedule<schedule::d3pm>);
static_assert(noise_schedule<schedule::maskgit>);
static_assert(noise_schedule<schedule::remdm_loop>);
static_assert(invertible_schedule<schedule::log_linear>);
static_assert(check_noise_schedule<schedule::log_linear>());
static_assert(!noise_schedule<untagged_schedule>);
static_assert(!noise_schedule<tagged_without_alpha_prime>);
static_assert(!noise_schedule<int>);

static_assert(forward_process<process::absorbing>);
static_assert(forward_process<process::uniform>);
static_assert(check_forward_process<process::uniform>());
static_assert(!forward_process<schedule::log_linear>);

static_assert(remasking_strategy<my_remask>);
static_assert(!remasking_strategy<remask_wrong_tag>);
static_assert(sampler_policy_for<my_sampler, some_context>);
static_assert(!sampler_policy_for<my_remask, some_context>);

static_assert(denoiser<oracle::absorbing_markov_oracle>);
static_assert(denoiser<oracle::uniform_markov_oracle>);
static_assert(masked_denoiser<oracle::absorbing_markov_oracle>);
static_assert(!masked_denoiser<oracle::uniform_markov_oracle>);
static_assert(check_denoiser<oracle::absorbing_markov_oracle>());
static_assert(!denoiser<process::absorbing>);

TEST_CASE("concepts are checked at compile time (this file compiling is the test)") {
    // A run-time use of the positive cases so the file is not only declarations.
    const double p[] = {0.25, 0.75};
    CHECK(my_remask{}.score({0, p, 1}, {}, counter_rng(0)) == 0.25);
}
