// Remasking strategies with state: dInfer's credit fusion and KLASS. Hand-computed hooks, a
// score that is a pure function of the state, and their effect on the order of commits inside
// a decode.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include "../support/test_models.hpp"
#include "ddiff/decoder/decoder.hpp"
#include "ddiff/remask/all.hpp"
#include "ddiff/sampler/all.hpp"
#include "ddiff/schedule/log_linear.hpp"

using namespace ddiff;

namespace {
// A user sampler without a `name`: records every candidate's score at each step and commits
// nothing until the block's last planned step.
struct score_probe {
    using sampler_concept = sampler_tag;
    std::map<std::size_t, std::vector<double>>* scores = nullptr;  // position -> score per step
    void step(sampler::step_context& c) const {
        for (const auto& k : c.candidates) (*scores)[k.position].push_back(k.score);
        if (c.last_step()) c.commit_all();
    }
};

// The step at which each position was committed.
std::map<std::size_t, std::uint32_t> commit_steps(auto& dec, std::size_t len, std::uint32_t steps) {
    generate_options o;
    o.gen_length = len;
    o.steps = steps;
    std::map<std::size_t, std::uint32_t> when;
    dec.generate(sequence{}, o, [&](const step_record& r) {
        for (std::size_t p : r.committed) when[p] = r.step;
    });
    return when;
}
}  // namespace

TEST_CASE("credit fusion: the credit decays and grows at the top token (hand-computed)") {
    remask::credit cr;
    cr.reset(1, 4, 3);
    std::vector<double> lg = {std::log(2.0), 0.0, 0.0};  // softmax 0.5, 0.25, 0.25
    cr.fuse_logits(0, 1, lg, {.step_in_block = 0});
    const double c1 = std::pow(0.5, 0.2);  // first step: C = p_top1^0.2 at the top token
    CHECK(lg[0] == doctest::Approx(std::log(2.0) + 0.7 * std::log1p(c1)));
    CHECK(lg[1] == doctest::Approx(0.0));
    // Next step: C decays by 0.8 before the new boost.
    std::vector<double> lg2 = {std::log(2.0), 0.0, 0.0};
    cr.fuse_logits(0, 1, lg2, {.step_in_block = 1});
    CHECK(lg2[0] == doctest::Approx(std::log(2.0) + 0.7 * std::log1p(0.8 * float(c1) + c1)).epsilon(1e-6));
    // The state is per position of the block: position 2 starts fresh.
    std::vector<double> lg3 = {std::log(2.0), 0.0, 0.0};
    cr.fuse_logits(0, 2, lg3, {.step_in_block = 1});
    CHECK(lg3[0] == doctest::Approx(std::log(2.0) + 0.7 * std::log1p(c1)));
}

TEST_CASE("credit inside a decode: a constant proposal's fused confidence grows step by step") {
    // One position (plus a given prompt-free canvas of 1), p = (0.6, 0.2, 0.2): every step the
    // credit at token 0 is C_j = 0.8 C_{j-1} + 0.6^0.2, the fused logit log 0.6 + 0.7 log(1 + C_j).
    test::scripted_model m{.vocab = 4, .rows = [](std::size_t, std::size_t) { return test::peaked(3, 0, 0.6); }};
    std::map<std::size_t, std::vector<double>> scores;
    decoder<test::scripted_model, schedule::log_linear, remask::credit, score_probe> dec(m, {}, {}, {&scores});
    generate_options o;
    o.gen_length = 1;
    o.steps = 4;
    dec.generate(sequence{}, o);
    REQUIRE(scores[0].size() == 4);
    double c = 0.0;
    for (std::size_t j = 0; j < 4; ++j) {
        c = static_cast<float>(0.8 * c) + static_cast<float>(std::pow(0.6, 0.2));  // credit is stored as float
        const double top = 0.6 * std::pow(1.0 + c, 0.7), rest = 0.2;
        CHECK(scores[0][j] == doctest::Approx(top / (top + 2 * rest)).epsilon(1e-6));
    }
    CHECK(scores[0][3] > scores[0][0]);
}

TEST_CASE("KLASS: update records the step, score is a pure function (called twice, same value)") {
    remask::klass k;
    k.reset(1, 2, 3);
    const std::vector<double> p = {0.5, 0.3, 0.2};
    position_view v{.position = 1, .token = 0, .confidence = 0.5, .probs = p};
    const counter_rng g(0);
    k.tau = 0.4;
    k.update(v, {.step_in_block = 0});
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5 - 2.0));  // vs zeros: huge KL
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5 - 2.0));  // the same again: score changes nothing
    k.update(v, {.step_in_block = 1});
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5 - 2.0));  // history still holds the huge KL
    k.update(v, {.step_in_block = 2});
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5));  // two zero KLs: stable, and 0.5 >= tau
    const std::vector<double> moved = {0.2, 0.3, 0.5};
    position_view w{.position = 1, .token = 2, .confidence = 0.5, .probs = moved};
    k.update(w, {.step_in_block = 3});
    CHECK(k.score(w, {}, g) == doctest::Approx(0.5 - 2.0));
    k.tau = 0.6;  // stable but below tau: ranked with the unstable ones
    k.update(v, {.step_in_block = 0});
    k.update(v, {.step_in_block = 1});
    k.update(v, {.step_in_block = 2});
    CHECK(k.score(v, {}, g) == doctest::Approx(0.5 - 2.0));
}

TEST_CASE("KLASS defers a confident but unstable position; plain confidence commits it at once") {
    // Positions 0, 1: decoys at 0.98 and 0.97; position 2: stable at 0.95; position 3: 0.93 but
    // its top token flips every model call. Threshold 0.9 with KLASS: steps 0 and 1 have no
    // stable position yet (the history starts at zero) and commit the single best (0, then 1);
    // step 2 commits the stable 2 only; step 3 the remaining 3 (the fallback).
    auto rows = [](std::size_t i, std::size_t call) {
        if (i == 0) return test::peaked(3, 0, 0.98);
        if (i == 1) return test::peaked(3, 1, 0.97);
        if (i == 2) return test::peaked(3, 2, 0.95);
        return test::peaked(3, call % 2, 0.93);
    };
    test::scripted_model m1{.vocab = 4, .rows = rows};
    decoder<test::scripted_model, schedule::log_linear, remask::klass, sampler::threshold> klass(m1, {}, {}, sampler::threshold(0.9));
    const auto k = commit_steps(klass, 4, 4);
    CHECK(k.at(0) == 0);
    CHECK(k.at(1) == 1);
    CHECK(k.at(2) == 2);
    CHECK(k.at(3) == 3);
    test::scripted_model m2{.vocab = 4, .rows = rows};
    decoder<test::scripted_model, schedule::log_linear, remask::confidence, sampler::threshold> plain(m2, {}, {}, sampler::threshold(0.9));
    const auto p = commit_steps(plain, 4, 4);
    for (std::size_t i = 0; i < 4; ++i) CHECK(p.at(i) == 0);
}
