// Counter-based random numbers (Philox4x32-10): every draw is a pure function of
// (seed, row, stream, step, position, index), so results never depend on thread count or order.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>

namespace ddiff {

// Philox4x32 with 10 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
struct philox4x32 {
    using counter_type = std::array<std::uint32_t, 4>;
    using key_type = std::array<std::uint32_t, 2>;

    static constexpr counter_type block(counter_type c, key_type k) noexcept {
        constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
        constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
        for (int round = 0; round < 10; ++round) {
            if (round > 0) {
                k[0] += w0;
                k[1] += w1;
            }
            const std::uint64_t p0 = std::uint64_t{m0} * c[0];
            const std::uint64_t p1 = std::uint64_t{m1} * c[2];
            c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<std::uint32_t>(p1),
                 static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<std::uint32_t>(p0)};
        }
        return c;
    }
};

// Purposes of draws; different purposes never share a counter.
namespace streams {
inline constexpr std::uint32_t forward_noise = 1;  // q(x_t | x_0)
inline constexpr std::uint32_t token = 2;          // which token a position takes
inline constexpr std::uint32_t transfer = 3;       // whether / which positions are committed
inline constexpr std::uint32_t time = 4;           // random times (first-hitting, Monte Carlo ELBO)
inline constexpr std::uint32_t remask = 5;         // re-masking decisions (ReMDM, MaskGIT)
inline constexpr std::uint32_t user = 1u << 16;    // first stream free for user policies
}  // namespace streams

// Where a draw happens: a purpose, a step of the decoder, a sequence position.
struct draw_site {
    std::uint32_t stream = 0;
    std::uint32_t step = 0;
    std::uint32_t position = 0;
};

namespace detail {
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
// 52 random bits from two words, mapped to the open interval (0, 1): (k + 1/2) 2^-52 is exact
// in double for every k < 2^52, so neither 0 nor 1 can come out.
constexpr double to_open_unit(std::uint32_t a, std::uint32_t b) noexcept {
    const std::uint64_t bits = (std::uint64_t{a >> 6} << 26) | (b >> 6);  // 26 + 26 = 52 bits
    return (static_cast<double>(bits) + 0.5) * 0x1.0p-52;
}
}  // namespace detail

// A seed plus a batch row; cheap to copy, no state: draws are addressed, not consumed.
class counter_rng {
public:
    constexpr explicit counter_rng(std::uint64_t seed, std::uint64_t row = 0) noexcept
        : seed_(seed), row_(row) {
        // The row is hashed into the key so that rows of one seed are independent streams.
        const std::uint64_t k = detail::splitmix64(seed ^ detail::splitmix64(row + 0x632BE59BD9B4E019ull));
        key_ = {static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(k >> 32)};
    }

    constexpr std::uint64_t seed() const noexcept { return seed_; }
    constexpr std::uint64_t row() const noexcept { return row_; }
    constexpr counter_rng for_row(std::uint64_t row) const noexcept { return counter_rng(seed_, row); }

    // Four raw words for block `block` of a site.
    constexpr philox4x32::counter_type bits(draw_site s, std::uint32_t block) const noexcept {
        return philox4x32::block({s.position, s.step, s.stream, block}, key_);
    }

    // Uniform in the open interval (0, 1) with 52 random bits; index i uses half i % 2 of block i / 2.
    constexpr double uniform(draw_site s, std::uint32_t index = 0) const noexcept {
        const auto w = bits(s, index / 2);
        return (index % 2 == 0) ? detail::to_open_unit(w[0], w[1]) : detail::to_open_unit(w[2], w[3]);
    }

    // out[i] == uniform(s, i) for every i, two draws per Philox block.
    void fill_uniform(draw_site s, std::span<double> out) const noexcept {
        const std::size_t n = out.size();
        for (std::size_t i = 0; i < n; i += 2) {
            const auto w = bits(s, static_cast<std::uint32_t>(i / 2));
            out[i] = detail::to_open_unit(w[0], w[1]);
            if (i + 1 < n) out[i + 1] = detail::to_open_unit(w[2], w[3]);
        }
    }

    // Exp(1) variate -log(u).
    double exponential(draw_site s, std::uint32_t index = 0) const noexcept { return -std::log(uniform(s, index)); }

private:
    std::uint64_t seed_;
    std::uint64_t row_;
    philox4x32::key_type key_{};
};

}  // namespace ddiff
