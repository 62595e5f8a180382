// The extension-point concepts against every built-in policy (positive) and look-alikes that
// did not opt in or have the wrong members (negative), and the optional members' defaults.
#include <doctest/doctest.h>

#include "ddiff/core/concepts.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
#include "ddiff/process/absorbing.hpp"
#include "ddiff/process/uniform.hpp"
#include "ddiff/remask/all.hpp"
#include "ddiff/sampler/all.hpp"
#include "ddiff/schedule/all.hpp"

using namespace ddiff;

namespace {
// Looks like a schedule but never opted in.
struct untagged_schedule {
    double alpha(double t) const { return 1.0 - t; }
    double alpha_prime(double) const { return -1.0; }
};
// Opted in but alpha_prime is missing.
struct tagged_without_alpha_prime {
    using schedule_concept = schedule_tag;
    double alpha(double t) const { return 1.0 - t; }
};
// Opted in with the wrong tag.
struct remask_wrong_tag {
    using remask_concept = schedule_tag;
    double score(const position_view&, const step_info&, const counter_rng&) const { return 0.0; }
};
// A score that mutates: not callable on a const policy, so not a remasking strategy.
struct remask_non_const_score {
    using remask_concept = remask_tag;
    double score(const position_view&, const step_info&, const counter_rng&) { return 0.0; }
};
// Declares nothing optional: gets every `reads` field, time-free (absorbing), no shift.
struct plain_remask {
    using remask_concept = remask_tag;
    double score(const position_view& v, const step_info&, const counter_rng&) const { return v.confidence; }
};
struct runtime_traits_model {
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;
    bool shift = false, timed = false;
    bool shift_logits() const { return shift; }
    bool time_conditioned() const { return timed; }
    std::size_t vocab_size() const { return 2; }
    token_id mask_id() const { return 1; }
    void denoise(const token_batch&, std::span<const double>, xt::xtensor<float, 3>&) {}
};
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
static_assert(!noise_schedule<untagged_schedule>);
static_assert(!noise_schedule<tagged_without_alpha_prime>);
static_assert(!noise_schedule<int>);

static_assert(forward_process<process::absorbing>);
static_assert(forward_process<process::uniform>);
static_assert(!forward_process<schedule::log_linear>);

template <class... R>
constexpr bool all_remasks = (remasking_strategy<R> && ...);
static_assert(all_remasks<remask::low_confidence, remask::random, remask::confidence, remask::margin, remask::entropy,
                          remask::maskgit_gumbel, remask::pc_sampler, remask::credit, remask::klass, plain_remask>);
static_assert(!remasking_strategy<remask_wrong_tag>);
static_assert(!remasking_strategy<remask_non_const_score>);

template <class... S>
constexpr bool all_samplers = (sampler_policy_for<S, sampler::step_context> && ...);
static_assert(all_samplers<sampler::top_k, sampler::dream_count, sampler::schedule_count<false>,
                           sampler::schedule_count<true>, sampler::ancestral, sampler::threshold, sampler::factor,
                           sampler::entropy_bounded, sampler::first_hitting, sampler::maskgit,
                           sampler::dinfer_threshold, sampler::dinfer_hierarchical, sampler::remdm_cap,
                           sampler::remdm_rescale, sampler::remdm_conf, sampler::remdm_loop, sampler::sedd_euler<>,
                           sampler::sedd_analytic<>, sampler::duo, sampler::duo_greedy>);
static_assert(!sampler_policy_for<plain_remask, sampler::step_context>);

static_assert(denoiser<oracle::absorbing_markov_oracle>);
static_assert(denoiser<oracle::uniform_markov_oracle>);
static_assert(masked_denoiser<oracle::absorbing_markov_oracle>);
static_assert(!masked_denoiser<oracle::uniform_markov_oracle>);
static_assert(denoiser<runtime_traits_model>);
static_assert(!denoiser<process::absorbing>);

// Registry names are unique within each family.
static_assert(std::string_view(sampler::remdm_cap::name) != sampler::remdm_loop::name);
static_assert(std::string_view(remask::maskgit_gumbel::name) != sampler::maskgit::name);

TEST_CASE("optional members: declared values, run-time functions, and the defaults") {
    const reads all = policy::reads_of(plain_remask{});
    CHECK((all.probs && all.logits && all.entropy));
    const reads none = policy::reads_of(remask::low_confidence{});
    CHECK((!none.probs && !none.logits && !none.entropy));
    CHECK(policy::reads_of(sampler::entropy_bounded{}).entropy);
    CHECK(policy::reads_of(remask::klass{}).probs);
    CHECK(std::string(policy::name_of<plain_remask>()) == "(unnamed)");
    CHECK(std::string(policy::name_of<sampler::remdm_rescale>()) == "remdm_rescale");
    CHECK(policy::adaptive<sampler::threshold>());
    CHECK(!policy::adaptive<sampler::top_k>());
    CHECK(policy::remasks<sampler::remdm_cap>());
    CHECK(!policy::remasks<sampler::ancestral>());

    runtime_traits_model m;
    CHECK(!policy::shift_logits(m));
    CHECK(!policy::time_conditioned(m));
    m.shift = true;
    m.timed = true;
    CHECK(policy::shift_logits(m));
    CHECK(policy::time_conditioned(m));
    CHECK(!policy::time_conditioned(oracle::absorbing_markov_oracle(oracle::fit_text("ab").chain)));
    CHECK(policy::logit_row(true, 0) == 0);
    CHECK(policy::logit_row(true, 5) == 4);
    CHECK(policy::logit_row(false, 5) == 5);
}
