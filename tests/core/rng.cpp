// Tests for core/rng.hpp: Philox known answers, addressing, and thread-count independence.
#include <doctest/doctest.h>

#include <set>
#include <thread>
#include <vector>

#include "ddiff/core/rng.hpp"

using namespace ddiff;

TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors") {
    // kat_vectors from Random123 1.09 (philox4x32 10 rounds).
    CHECK(philox4x32::block({0, 0, 0, 0}, {0, 0}) ==
          philox4x32::counter_type{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
    CHECK(philox4x32::block({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}) ==
          philox4x32::counter_type{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
    CHECK(philox4x32::block({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}) ==
          philox4x32::counter_type{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("uniform draws are in (0, 1), addressed, and fill_uniform agrees with uniform") {
    const counter_rng g(42);
    std::vector<double> buf(101);
    g.fill_uniform({streams::token, 3, 7}, buf);
    for (std::uint32_t i = 0; i < buf.size(); ++i) {
        CHECK(buf[i] > 0.0);
        CHECK(buf[i] < 1.0);
        CHECK(buf[i] == g.uniform({streams::token, 3, 7}, i));
    }
    // Every coordinate of the address changes the draw.
    const double base = g.uniform({1, 2, 3}, 4);
    CHECK(base != g.uniform({2, 2, 3}, 4));
    CHECK(base != g.uniform({1, 3, 3}, 4));
    CHECK(base != g.uniform({1, 2, 4}, 4));
    CHECK(base != g.uniform({1, 2, 3}, 5));
    CHECK(base != counter_rng(43).uniform({1, 2, 3}, 4));
    CHECK(base != g.for_row(1).uniform({1, 2, 3}, 4));
    CHECK(base == counter_rng(42).uniform({1, 2, 3}, 4));
}

TEST_CASE("the extreme words map strictly inside (0, 1)") {
    CHECK(detail::to_open_unit(0u, 0u) > 0.0);
    CHECK(detail::to_open_unit(0xffffffffu, 0xffffffffu) < 1.0);
}

TEST_CASE("draws do not depend on the number of threads or their order") {
    const counter_rng g(2026);
    const std::size_t n = 4096;
    std::vector<double> one(n), two(n);
    for (std::size_t i = 0; i < n; ++i) one[i] = g.uniform({streams::transfer, 5, static_cast<std::uint32_t>(i)});
    // Two threads, interleaved positions, the second walking backwards.
    std::thread a([&] {
        for (std::size_t i = 0; i < n; i += 2) two[i] = g.uniform({streams::transfer, 5, static_cast<std::uint32_t>(i)});
    });
    std::thread b([&] {
        for (std::size_t i = n - 1; i < n; i -= 2) two[i] = g.uniform({streams::transfer, 5, static_cast<std::uint32_t>(i)});
    });
    a.join();
    b.join();
    CHECK(one == two);
}

TEST_CASE("uniform draws have the right mean and no repeats over 10^5 draws") {
    const counter_rng g(1);
    const std::size_t n = 100000;
    double sum = 0.0;
    std::set<double> seen;
    for (std::uint32_t i = 0; i < n; ++i) {
        const double u = g.uniform({streams::time, 0, i});
        sum += u;
        seen.insert(u);
    }
    // Mean of n U(0,1): sd = sqrt(1/12/n); 5 sd fixed in advance.
    CHECK(std::abs(sum / n - 0.5) < 5.0 * std::sqrt(1.0 / 12.0 / n));
    CHECK(seen.size() == n);
}
