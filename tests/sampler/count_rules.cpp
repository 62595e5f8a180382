// Step rules that commit a planned number of best-scored positions: LLaDA's split (top_k),
// Dream's count, dllm's schedule-driven count, MaskGIT. Hand-computed counts.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "../support/test_models.hpp"
#include "ddiff/sampler/dream_count.hpp"
#include "ddiff/sampler/maskgit.hpp"
#include "ddiff/sampler/schedule_count.hpp"
#include "ddiff/sampler/top_k.hpp"
#include "ddiff/schedule/common.hpp"

using namespace ddiff;

namespace {
std::vector<sampler::candidate> ranked_candidates(std::size_t n) {
    std::vector<sampler::candidate> cs;
    for (std::size_t i = 0; i < n; ++i) cs.push_back({.position = i, .token = 1, .score = double(i)});
    return cs;
}
}  // namespace

TEST_CASE("LLaDA's split: 10 over 4 steps is 3, 3, 2, 2; top_k commits the plan's count, best first") {
    CHECK(sampler::llada_split(10, 4) == std::vector<std::size_t>{3, 3, 2, 2});
    CHECK(sampler::llada_split(3, 5) == std::vector<std::size_t>{1, 1, 1, 0, 0});
    CHECK(sampler::llada_split(8, 2) == std::vector<std::size_t>{4, 4});
    CHECK_THROWS_AS(sampler::llada_split(4, 0), invalid_argument);
    test::context_fixture f(10, ranked_candidates(10));
    auto c = f.make({.step_in_block = 1, .steps_in_block = 4}, 10);  // second step: 3 of 10
    sampler::top_k{}.step(c);
    CHECK(c.committed == 3);
    CHECK(f.canvas == std::vector<token_id>{9, 9, 9, 9, 9, 9, 9, 1, 1, 1});  // the three best scores
}

TEST_CASE("Dream's count floor(M (1 - s/t)) can be 0 and ends with all") {
    // eps 1e-3, 4 steps, M = 10 still masked: j = 0: t = 1, s = 0.75025: floor(10 * 0.24975) = 2.
    CHECK(sampler::dream_count::count(10, 0, 4, 1e-3) == 2);
    CHECK(sampler::dream_count::count(1, 0, 4, 1e-3) == 0);
    CHECK(sampler::dream_count::count(7, 3, 4, 1e-3) == 7);
}

TEST_CASE("dllm's schedule count rounds half to even, as torch.round") {
    // M = 5 still masked, p = 1 - (1 - alpha_s) / (1 - alpha_t) = 1 - 0.25 / 0.5 = 0.5: 2.5 -> 2
    // (std::llround would give 3); M = 7: 3.5 -> 4.
    CHECK(sampler::schedule_count<false>::rounded(5, 0.5) == 2);
    CHECK(sampler::schedule_count<false>::rounded(7, 0.5) == 4);
    CHECK(sampler::schedule_count<false>::rounded(3, 0.5) == 2);
    test::context_fixture f(5, ranked_candidates(5));
    auto c = f.make({.steps_in_block = 4, .time = {.t = 1.0, .s = 0.75, .alpha_t = 0.5, .alpha_s = 0.75}});
    sampler::schedule_count<false>{}.step(c);
    CHECK(c.committed == 2);
    CHECK(f.canvas == std::vector<token_id>{9, 9, 9, 1, 1});
    auto last = f.make({.steps_in_block = 4, .time = {.alpha_t = 0.5, .alpha_s = 0.75}, .last = true});
    sampler::schedule_count<false>{}.step(last);
    CHECK(last.committed == 5);
}

TEST_CASE("MaskGIT keeps floor(N0 gamma(r)) masked, at least one, and fills everything at the end") {
    test::context_fixture f(10, ranked_candidates(10));
    // cosine: gamma(0.25) = cos(pi / 8) = 0.924 -> mask_len 9 -> commit 1.
    const double a_s = 1.0 - std::cos(schedule::pi / 8.0);
    auto c = f.make({.steps_in_block = 4, .time = {.alpha_s = a_s}}, 10);
    sampler::maskgit{}.step(c);
    CHECK(c.committed == 1);
    CHECK(f.canvas[9] == 1);  // the best score
    // Late: gamma tiny -> mask_len clamps up to 1.
    auto late = f.make({.step_in_block = 2, .steps_in_block = 4, .time = {.alpha_s = 1.0 - 1e-6}}, 10);
    sampler::maskgit{}.step(late);
    CHECK(late.committed == 9);
    auto last = f.make({.step_in_block = 3, .steps_in_block = 4, .time = {.alpha_s = 1.0}, .last = true}, 10);
    sampler::maskgit{}.step(last);
    CHECK(last.committed == 10);
}
