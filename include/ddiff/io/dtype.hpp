// Element types of the safetensors format and exact conversions of the 16-bit floats to float32.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "ddiff/simd/bf16.hpp"

namespace ddiff::io {

// The dtypes ddiff reads. Names and sizes follow the safetensors spec
// (https://github.com/huggingface/safetensors, safetensors/src/tensor.rs `enum Dtype`);
// every one is stored little-endian. BOOL is one byte per element.
enum class dtype : std::uint8_t { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean };

inline constexpr std::array<dtype, 10> all_dtypes = {dtype::f64, dtype::f32, dtype::f16, dtype::bf16,
                                                     dtype::i64, dtype::i32, dtype::i16, dtype::i8,
                                                     dtype::u8,  dtype::boolean};

// Bytes per element.
constexpr std::size_t dtype_size(dtype t) noexcept {
    switch (t) {
        case dtype::f64: case dtype::i64: return 8;
        case dtype::f32: case dtype::i32: return 4;
        case dtype::f16: case dtype::bf16: case dtype::i16: return 2;
        case dtype::i8: case dtype::u8: case dtype::boolean: return 1;
    }
    return 0;
}

// The spelling used in safetensors headers ("F32", "BF16", ...).
constexpr std::string_view dtype_name(dtype t) noexcept {
    switch (t) {
        case dtype::f64: return "F64";
        case dtype::f32: return "F32";
        case dtype::f16: return "F16";
        case dtype::bf16: return "BF16";
        case dtype::i64: return "I64";
        case dtype::i32: return "I32";
        case dtype::i16: return "I16";
        case dtype::i8: return "I8";
        case dtype::u8: return "U8";
        case dtype::boolean: return "BOOL";
    }
    return "?";
}

// Inverse of dtype_name; nullopt for a name ddiff does not support (F8_E4M3, U16, C64, ...).
constexpr std::optional<dtype> parse_dtype(std::string_view name) noexcept {
    for (dtype t : all_dtypes)
        if (dtype_name(t) == name) return t;
    return std::nullopt;
}

constexpr bool is_floating(dtype t) noexcept {
    return t == dtype::f64 || t == dtype::f32 || t == dtype::f16 || t == dtype::bf16;
}

// bfloat16 and IEEE half: one type each for the whole library, with their conversions, in
// simd/bf16.hpp.
using simd::bf16;
using simd::f16;
using simd::to_bf16;
using simd::to_float;
// The dtype whose stored bytes are exactly a T (what view<T>() requires). BOOL has none:
// a byte other than 0 or 1 read as a C++ bool is undefined behaviour, so booleans are read
// through to_i64() or as raw bytes.
template <class T>
struct dtype_of {};
template <> struct dtype_of<double> { static constexpr dtype value = dtype::f64; };
template <> struct dtype_of<float> { static constexpr dtype value = dtype::f32; };
template <> struct dtype_of<f16> { static constexpr dtype value = dtype::f16; };
template <> struct dtype_of<bf16> { static constexpr dtype value = dtype::bf16; };
template <> struct dtype_of<std::int64_t> { static constexpr dtype value = dtype::i64; };
template <> struct dtype_of<std::int32_t> { static constexpr dtype value = dtype::i32; };
template <> struct dtype_of<std::int16_t> { static constexpr dtype value = dtype::i16; };
template <> struct dtype_of<std::int8_t> { static constexpr dtype value = dtype::i8; };
template <> struct dtype_of<std::uint8_t> { static constexpr dtype value = dtype::u8; };

// A C++ type that can view stored elements in place.
template <class T>
concept storable = requires { dtype_of<T>::value; };

}  // namespace ddiff::io
