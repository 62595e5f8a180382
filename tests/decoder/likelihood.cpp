// LLaDA's Monte Carlo negative ELBO: the loss of a fixed mask by hand, and the logit row it reads
// for a model that shifts its logits (Dream).
#include <doctest/doctest.h>

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
