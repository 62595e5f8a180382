// Tests for io/dtype.hpp: names and sizes, and the 16-bit float conversions against hand-computed
// IEEE bit patterns (values cross-checked with numpy's float16 and torch's bfloat16 rules).
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "ddiff/io/dtype.hpp"

using namespace ddiff::io;

namespace {
std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }
}  // namespace

TEST_CASE("dtype names and sizes follow the safetensors spec") {
    CHECK(dtype_name(dtype::bf16) == "BF16");
    CHECK(dtype_name(dtype::boolean) == "BOOL");
    CHECK(dtype_size(dtype::f64) == 8);
    CHECK(dtype_size(dtype::f32) == 4);
    CHECK(dtype_size(dtype::f16) == 2);
    CHECK(dtype_size(dtype::bf16) == 2);
    CHECK(dtype_size(dtype::i64) == 8);
    CHECK(dtype_size(dtype::i32) == 4);
    CHECK(dtype_size(dtype::i16) == 2);
    CHECK(dtype_size(dtype::i8) == 1);
    CHECK(dtype_size(dtype::u8) == 1);
    CHECK(dtype_size(dtype::boolean) == 1);
    for (dtype t : all_dtypes) CHECK(parse_dtype(dtype_name(t)) == t);
    CHECK_FALSE(parse_dtype("f32").has_value());  // case-sensitive, as in the spec
    CHECK_FALSE(parse_dtype("F8_E4M3").has_value());
    CHECK_FALSE(parse_dtype("").has_value());
    static_assert(dtype_of<float>::value == dtype::f32 && dtype_of<bf16>::value == dtype::bf16);
    static_assert(storable<std::int64_t> && !storable<bool> && !storable<long double>);
}

TEST_CASE("bf16 -> f32 is the upper half of the float32 bit pattern") {
    CHECK(bits(to_float(bf16{0x3f80})) == 0x3f800000u);  // 1
    CHECK(to_float(bf16{0x3f80}) == 1.0f);
    CHECK(to_float(bf16{0xc000}) == -2.0f);
    CHECK(bits(to_float(bf16{0x0000})) == 0x00000000u);
    CHECK(bits(to_float(bf16{0x8000})) == 0x80000000u);  // -0 keeps its sign
    // Subnormals: 0x0001 is 2^-133, 0x807f is -(127 * 2^-133).
    CHECK(to_float(bf16{0x0001}) == std::ldexp(1.0f, -133));
    CHECK(to_float(bf16{0x807f}) == -127.0f * std::ldexp(1.0f, -133));
    CHECK(to_float(bf16{0x0080}) == std::ldexp(1.0f, -126));  // smallest normal
    CHECK(to_float(bf16{0x7f7f}) == 3.3895313892515355e+38f);  // largest finite
    CHECK(std::isinf(to_float(bf16{0x7f80})));
    CHECK(to_float(bf16{0x7f80}) > 0);
    CHECK(bits(to_float(bf16{0xff80})) == 0xff800000u);  // -inf
    CHECK(bits(to_float(bf16{0x7fc0})) == 0x7fc00000u);  // quiet NaN
    CHECK(bits(to_float(bf16{0x7f81})) == 0x7f810000u);  // signalling NaN payload kept
    CHECK(std::isnan(to_float(bf16{0xffc1})));
}

TEST_CASE("f16 -> f32 against hand-computed bit patterns") {
    CHECK(bits(to_float(f16{0x3c00})) == 0x3f800000u);  // 1
    CHECK(bits(to_float(f16{0xc000})) == 0xc0000000u);  // -2
    CHECK(bits(to_float(f16{0x3555})) == 0x3eaaa000u);  // 0.333251953125
    CHECK(bits(to_float(f16{0x7bff})) == 0x477fe000u);  // 65504, largest finite
    CHECK(bits(to_float(f16{0x0400})) == 0x38800000u);  // 2^-14, smallest normal
    // Subnormals: m * 2^-24.
    CHECK(bits(to_float(f16{0x0001})) == 0x33800000u);  // 2^-24
    CHECK(bits(to_float(f16{0x03ff})) == 0x387fc000u);  // 1023 * 2^-24
    CHECK(bits(to_float(f16{0x8001})) == 0xb3800000u);  // -2^-24
    CHECK(bits(to_float(f16{0x0000})) == 0x00000000u);
    CHECK(bits(to_float(f16{0x8000})) == 0x80000000u);  // -0
    // Infinities and NaNs (payload and quiet bit moved up by 13 bits).
    CHECK(bits(to_float(f16{0x7c00})) == 0x7f800000u);
    CHECK(bits(to_float(f16{0xfc00})) == 0xff800000u);
    CHECK(bits(to_float(f16{0x7e00})) == 0x7fc00000u);
    CHECK(bits(to_float(f16{0x7c01})) == 0x7f802000u);
    CHECK(bits(to_float(f16{0xfe01})) == 0xffc02000u);
}

TEST_CASE("f16 -> f32 for all 65536 patterns matches the value formula") {
    // Independent reference: (-1)^s * (e == 0 ? m * 2^-24 : (1024 + m) * 2^(e - 25)).
    int mismatches = 0;
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const float got = to_float(f16{static_cast<std::uint16_t>(h)});
        const int e = (h >> 10) & 31, m = h & 1023;
        const double sign = (h & 0x8000) ? -1.0 : 1.0;
        if (e == 31) {
            mismatches += m == 0 ? !(std::isinf(got) && std::signbit(got) == (sign < 0)) : !std::isnan(got);
            continue;
        }
        const double ref = sign * (e == 0 ? std::ldexp(double(m), -24) : std::ldexp(double(1024 + m), e - 25));
        mismatches += !(double(got) == ref && std::signbit(got) == (sign < 0));
    }
    CHECK(mismatches == 0);
}

TEST_CASE("f32 -> bf16 rounds to nearest even and keeps NaN a NaN") {
    CHECK(to_bf16(1.0f).bits == 0x3f80);
    CHECK(to_bf16(std::bit_cast<float>(0x3f808000u)).bits == 0x3f80);  // tie, even below
    CHECK(to_bf16(std::bit_cast<float>(0x3f818000u)).bits == 0x3f82);  // tie, odd below: up
    CHECK(to_bf16(std::bit_cast<float>(0x3f808001u)).bits == 0x3f81);  // above the tie
    CHECK(to_bf16(std::bit_cast<float>(0x7f7fffffu)).bits == 0x7f80);  // FLT_MAX rounds to inf
    CHECK(to_bf16(std::bit_cast<float>(0x7f800001u)).bits == 0x7fc0);  // sNaN -> quiet, not inf
    CHECK(to_bf16(-0.0f).bits == 0x8000);
    for (std::uint32_t h = 0; h < 65536; ++h) {  // bf16 -> f32 -> bf16 is the identity off NaN
        const bf16 b{static_cast<std::uint16_t>(h)};
        if (!std::isnan(to_float(b))) REQUIRE(to_bf16(to_float(b)).bits == b.bits);
    }
}
