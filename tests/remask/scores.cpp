// Stateless remasking scores on hand-computed distributions: LLaDA's low_confidence and random,
// Dream's confidence, margin and entropy, MaskGIT's annealed Gumbel, the PC-sampler.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ddiff/remask/all.hpp"

using namespace ddiff;

namespace {
// p~ = (0.5, 0.3, 0.2) drawn after a temperature; the raw softmax is (0.5, 0.25, 0.25).
const std::vector<double> p = {0.5, 0.3, 0.2};
const std::vector<double> l = {std::log(2.0), 0.0, 0.0};
position_view view(std::size_t position, token_id tok) {
    const double log_z = std::log(4.0);
    return {.position = position,
            .token = tok,
            .confidence = p[std::size_t(tok)],
            .raw_probability = std::exp(l[std::size_t(tok)] - log_z),
            .log_z = log_z,
            .probs = p,
            .logits = l};
}
}  // namespace

TEST_CASE("LLaDA's and Dream's scores") {
    const step_info s{};
    const counter_rng g(0);
    const auto v = view(3, 1);
    CHECK(remask::low_confidence{}.score(v, s, g) == doctest::Approx(0.25));
    CHECK(remask::confidence{}.score(v, s, g) == doctest::Approx(0.3));
    CHECK(remask::margin{}.score(v, s, g) == doctest::Approx(0.2));
    const double negent = 0.5 * std::log(0.5 + 1e-10) + 0.3 * std::log(0.3 + 1e-10) + 0.2 * std::log(0.2 + 1e-10);
    CHECK(remask::entropy{}.score(v, s, g) == doctest::Approx(negent).epsilon(1e-12));
    CHECK(remask::random{}.score(v, s, g) == g.uniform({streams::remask, 0, 3}));
    // A sharper distribution is more certain under entropy (Dream's sign).
    const std::vector<double> sharp = {0.9, 0.05, 0.05};
    CHECK(remask::entropy{}.score({.probs = sharp}, s, g) > remask::entropy{}.score(v, s, g));
}

TEST_CASE("MaskGIT's annealed Gumbel and the PC-sampler (hand-computed)") {
    const counter_rng g(9);
    // MaskGIT at the last step (r = 1): no noise, log p~(x^).
    const step_info last{.step = 5, .step_in_block = 3, .steps_in_block = 4};
    CHECK(remask::maskgit_gumbel{}.score(view(0, 1), last, g) == doctest::Approx(std::log(0.3)));
    // Earlier: log p - tau (1 - r) log(-log u) with the remask draw (index 2).
    const step_info first{.step = 5, .step_in_block = 0, .steps_in_block = 4};
    const double u = g.uniform({streams::remask, 5, 7}, 2);
    CHECK(remask::maskgit_gumbel{2.0}.score(view(7, 1), first, g) ==
          doctest::Approx(std::log(0.3) - 2.0 * 0.75 * std::log(-std::log(u))));
    // PC-sampler: exp(-lambda i) min(-p log(f + 1e-9), alpha); p = raw softmax 0.25, f = 0.1, i = 2.
    const remask::pc_sampler pc({0.6, 0.1, 0.3}, 0.5, 1.0);
    const step_info blk{.block_begin = 10};
    CHECK(pc.score(view(12, 1), blk, g) == doctest::Approx(std::exp(-0.5 * 2.0) * (-0.25 * std::log(0.1 + 1e-9))));
    auto unknown = view(12, 1);
    unknown.token = 5;  // no background frequency for token 5
    CHECK_THROWS_AS(pc.score(unknown, blk, g), shape_error);
    CHECK_THROWS_AS(remask::pc_sampler({0.5, 1.5}), invalid_argument);
}
