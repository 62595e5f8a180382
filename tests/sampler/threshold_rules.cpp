// Adaptive step rules (run until the block is full): Fast-dLLM's threshold and factor, the
// EB-sampler, dInfer's threshold and hierarchical decoders. Hand-computed selections on scores.
#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "../support/test_models.hpp"
#include "ddiff/sampler/dinfer_hierarchical.hpp"
#include "ddiff/sampler/dinfer_threshold.hpp"
#include "ddiff/sampler/eb.hpp"
#include "ddiff/sampler/factor.hpp"
#include "ddiff/sampler/threshold.hpp"

using namespace ddiff;

namespace {
// position, token, score, confidence (deliberately different from the score), entropy
std::vector<sampler::candidate> four() {
    return {{0, 1, 0.95, 0.10, 0.1}, {1, 2, 0.50, 0.99, 1.0}, {2, 3, 0.92, 0.10, 0.2}, {3, 4, 0.70, 0.99, 0.6}};
}
}  // namespace

TEST_CASE("threshold commits the best score and every score >= tau") {
    test::context_fixture f(6, four());
    auto c = f.make();
    sampler::threshold{0.9}.step(c);  // 0.95 (the best) and 0.92
    CHECK(f.canvas == std::vector<token_id>{1, 9, 3, 9, 9, 9});
    auto only = f.make();
    sampler::threshold{0.99}.step(only);  // only the best
    CHECK(f.canvas == std::vector<token_id>{1, 9, 9, 9, 9, 9});
    CHECK_THROWS_AS(sampler::threshold{1.5}, invalid_argument);
}

TEST_CASE("factor commits the largest prefix n of the sorted scores with s_(n) >= 1 - f / (n + 1)") {
    // f = 1: sorted scores 0.95, 0.92, 0.7, 0.5 against 1 - 1/(n+1) = 0.5, 0.667, 0.75, 0.8:
    // 0.95 >= 0.5, 0.92 >= 0.667, 0.7 < 0.75 -> n = 2. (Ranking the confidences instead, 0.99 and
    // 0.99 at positions 1 and 3, would commit those.)
    test::context_fixture f(6, four());
    auto c = f.make();
    sampler::factor{1.0}.step(c);
    CHECK(f.canvas == std::vector<token_id>{1, 9, 3, 9, 9, 9});
    CHECK_THROWS_AS(sampler::factor{0.0}, invalid_argument);
}

TEST_CASE("EB commits the largest score-ranked prefix whose entropy sum minus its max is <= gamma") {
    // gamma = 0.25: by score H = 0.1, 0.2, 0.6, 1.0; sums minus max: 0, 0.1, 0.3 > 0.25 -> k = 2.
    test::context_fixture f(6, four());
    auto c = f.make();
    sampler::entropy_bounded{0.25}.step(c);
    CHECK(f.canvas == std::vector<token_id>{1, 9, 3, 9, 9, 9});
    auto one = f.make();
    sampler::entropy_bounded{0.0}.step(one);  // gamma 0 with positive entropies: one per step
    CHECK(one.committed == 1);
    CHECK(f.canvas[0] == 1);
}

TEST_CASE("dInfer threshold and hierarchical rules (hand-computed)") {
    // positions 0,1,2 | 4,5 | 7 with scores
    auto cs = std::vector<sampler::candidate>{{0, 1, 0.30}, {1, 1, 0.50}, {2, 1, 0.50},
                                              {4, 1, 0.35}, {5, 1, 0.20}, {7, 1, 0.95}};
    test::context_fixture f(8, cs);
    {
        auto c = f.make();
        sampler::dinfer_threshold{0.9}.step(c);  // only 0.95 >= min(0.9, 0.95 - 1e-5)
        CHECK(f.canvas == std::vector<token_id>{9, 9, 9, 9, 9, 9, 9, 1});
    }
    {
        auto c = f.make();
        sampler::dinfer_threshold{0.99}.step(c);  // tau_eff = 0.95 - 1e-5: still the best
        CHECK(c.committed == 1);
    }
    {
        auto c = f.make();
        sampler::dinfer_threshold{0.3}.step(c);  // tau_eff = 0.3: 0.3, 0.5, 0.5, 0.35, 0.95
        CHECK(f.canvas == std::vector<token_id>{1, 1, 1, 9, 1, 9, 9, 1});
    }
    {
        // runs: {0,1,2} max 0.5 (tied at 1 and 2) > 0.4 -> 1, 2; {4,5} max 0.35 < 0.4 -> none;
        // {7} 0.95 -> 7 (also > tau and the global best).
        auto c = f.make();
        sampler::dinfer_hierarchical{0.9, 0.4}.step(c);
        CHECK(f.canvas == std::vector<token_id>{9, 1, 1, 9, 9, 9, 9, 1});
    }
}

TEST_CASE("a best score of -inf (every proposal an EOS committed last) is still committed") {
    const double ninf = -std::numeric_limits<double>::infinity();
    auto cs = std::vector<sampler::candidate>{{2, 7, ninf}, {3, 7, ninf}};
    test::context_fixture f(4, cs);
    auto a = f.make();
    sampler::dinfer_threshold{0.9}.step(a);
    CHECK(f.canvas == std::vector<token_id>{9, 9, 7, 9});  // the lower position of the tie
    auto b = f.make();
    sampler::threshold{0.9}.step(b);
    CHECK(b.committed == 1);
    auto d = f.make();
    sampler::factor{1.0}.step(d);
    CHECK(d.committed == 1);
    auto h = f.make();
    sampler::dinfer_hierarchical{0.9, 0.4}.step(h);
    CHECK(h.committed == 1);
}
