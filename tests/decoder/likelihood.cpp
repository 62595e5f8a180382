// LLaDA's Monte Carlo negative ELBO: the loss of a fixed mask by hand, and the logit row it reads
// for a model that shifts its logits (Dream).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ddiff/decoder/likelihood.hpp"

using namespace ddiff;

namespace {
// Row i of the logits is (i, 2i, 0, -inf) over tokens 0..2 and the mask 3, whatever the input.
template <bool Shift>
struct ramp_model {
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;
    static constexpr bool shift_logits = Shift;
    std::size_t vocab_size() const { return 4; }
    token_id mask_id() const { return 3; }
    void denoise(const token_batch& x, std::span<const double>, xt::xtensor<float, 3>& out) const {
        out = xt::zeros<float>({x.shape(0), x.shape(1), std::size_t{4}});
        for (std::size_t i = 0; i < x.shape(1); ++i) {
            out(0, i, 0) = float(i);
            out(0, i, 1) = float(2 * i);
            out(0, i, 3) = -INFINITY;
        }
    }
};
// -log softmax(row r)[token] for the ramp rows.
double nll(std::size_t r, std::size_t token) {
    const double l[3] = {double(r), double(2 * r), 0.0};
    return std::log(std::exp(l[0]) + std::exp(l[1]) + std::exp(l[2])) - l[token];
}
}  // namespace

TEST_CASE("masked_sample_loss reads row i, or row i - 1 for a shifting model") {
    const std::vector<token_id> ids = {0, 1, 2, 1};
    const std::vector<std::uint8_t> mask = {0, 1, 0, 1};  // positions 1 and 3 masked
    const double t = 0.5;
    ramp_model<false> plain;
    CHECK(masked_sample_loss(plain, ids, mask, t) == doctest::Approx((nll(1, 1) + nll(3, 1)) / t).epsilon(1e-12));
    ramp_model<true> shifted;  // Dream: position 1 from row 0, position 3 from row 2
    CHECK(masked_sample_loss(shifted, ids, mask, t) == doctest::Approx((nll(0, 1) + nll(2, 1)) / t).epsilon(1e-12));
    const std::vector<std::uint8_t> first = {1, 0, 0, 0};  // position 0 keeps its own row
    CHECK(masked_sample_loss(shifted, ids, first, 1.0) == doctest::Approx(nll(0, 0)).epsilon(1e-12));
}

namespace {
// Logits log q for every row whatever the input (q = (0.5, 0.25, 0.25) over tokens 0..2), block
// length Block (0 = bidirectional); records every canvas it is called with.
template <std::size_t Block>
struct recording_model {
    using denoiser_concept = denoiser_tag;
    using logit_type = float;
    static constexpr noise_kind noise = noise_kind::absorbing;
    std::vector<std::vector<token_id>>* calls = nullptr;
    std::size_t vocab_size() const { return 4; }
    token_id mask_id() const { return 3; }
    std::size_t block_length() const { return Block; }
    void denoise(const token_batch& x, std::span<const double>, xt::xtensor<float, 3>& out) const {
        calls->emplace_back(x.begin(), x.end());
        out = xt::zeros<float>({x.shape(0), x.shape(1), std::size_t{4}});
        for (std::size_t i = 0; i < x.shape(1); ++i) {
            out(0, i, 0) = float(std::log(0.5));
            out(0, i, 1) = out(0, i, 2) = float(std::log(0.25));
            out(0, i, 3) = -INFINITY;
        }
    }
};
}  // namespace

TEST_CASE("the ELBO of a context-free model over one repeated token is l (-log q) for every sample") {
    // Every sample masks x positions and weighs them by 1 / t = l / x (per block: l_k / x), so each
    // sample's loss is exactly l * (-log q(token)) and the standard error is 0.
    const std::vector<token_id> ids(10, 1);  // -log q(1) = log 4
    const double exact = 10.0 * std::log(4.0);
    std::vector<std::vector<token_id>> calls;
    elbo_options o{.mc_num = 8, .batch_size = 4, .seed = 7};
    recording_model<0> whole{&calls};
    const auto w = masked_elbo(whole, ids, o, [](std::size_t, std::size_t) {});
    CHECK(w.block_length == 0);
    CHECK(w.sample_loss.size() == 8);
    for (double s : w.sample_loss) CHECK(s == doctest::Approx(exact).epsilon(1e-6));
    CHECK(w.nats == doctest::Approx(exact).epsilon(1e-6));
    CHECK(calls.size() == 8);
    calls.clear();
    recording_model<4> blocks{&calls};
    const auto b = masked_elbo(blocks, ids, o, [](std::size_t, std::size_t) {});
    CHECK(b.block_length == 4);
    CHECK(b.sample_loss.size() == 8);
    for (double s : b.sample_loss) CHECK(s == doctest::Approx(exact).epsilon(1e-6));
    CHECK(b.standard_error == doctest::Approx(0.0).epsilon(1e-9));
    CHECK(calls.size() == 8 * 3);  // blocks [0,4), [4,8), [8,10) per sample
}

TEST_CASE("the block ELBO scores block k on the clean prefix up to its end, with stratified counts per block") {
    const std::vector<token_id> ids = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
    std::vector<std::vector<token_id>> calls;
    recording_model<4> m{&calls};
    const elbo_options o{.mc_num = 8, .batch_size = 4, .seed = 3};
    masked_elbo(m, ids, o, [](std::size_t, std::size_t) {});
    REQUIRE(calls.size() == 2 * 3 * 4);  // mini-batches x blocks x samples
    std::size_t c = 0;
    for (std::size_t mb = 0; mb < 2; ++mb)
        for (std::size_t lo : {0u, 4u, 8u}) {
            const std::size_t hi = std::min<std::size_t>(lo + 4, ids.size()), lk = hi - lo;
            std::vector<std::size_t> counts;
            for (std::size_t j = 0; j < 4; ++j, ++c) {
                const auto& x = calls[c];
                CAPTURE(mb);
                CAPTURE(lo);
                CAPTURE(j);
                REQUIRE(x.size() == hi);  // the prefix up to the block's end
                for (std::size_t i = 0; i < lo; ++i) CHECK(x[i] == ids[i]);  // earlier blocks clean
                std::size_t n = 0;
                for (std::size_t i = lo; i < hi; ++i) {
                    if (x[i] == 3) ++n;
                    else CHECK(x[i] == ids[i]);
                }
                CHECK(n >= 1);
                CHECK(n <= lk);
                counts.push_back(n);
            }
            std::sort(counts.begin(), counts.end());
            if (lk == 4) {  // b = l_k: round(linspace(k, k + 3, 4)) wrapped = each count 1..4 once
                CHECK(counts == std::vector<std::size_t>{1, 2, 3, 4});
            } else {  // l_k = 2: linspace(k, k + 1.5, 4), half to even, wrapped: k = 1 gives 1, 2, 2, 2
                      // (1.5 and 2.5 round to 2), k = 2 gives 2, 2, 3 -> 1, 4 -> 2
                CHECK(counts == std::vector<std::size_t>{1, 2, 2, 2});
            }
        }
}
