// ggml's tensor types (llama.cpp ggml/include/ggml.h `enum ggml_type`) with their block sizes,
// and for the types ddiff reads (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) the decoding
// of a block into its *integer form*: small integers q with one scale (and for Q4_K / Q5_K one
// min) per sub-block, value = scale * q (symmetric types) or scale * q - min (affine types).
// The quantized GEMM packs exactly these integers and scales; dequantize_row evaluates the
// same expressions in the same order as gguf-py's dequantize_blocks (gguf-py/gguf/quants.py),
// so it equals gguf-py bit for bit. Block layouts: ggml/src/ggml-common.h (block_q8_0,
// block_q4_0, block_q4_K, block_q5_K, block_q6_K), element order: ggml/src/ggml-quants.c
// dequantize_row_*; llama.cpp commit c392e5094deaf2d1a7c18683214f007fad3fe42b.
//
// Exactness: every product scale * q is exact in binary32 (d is binary16, 11 significant bits;
// the sub-block scales are at most 8 bits and q at most 8 bits), so only the "- min" of the
// affine types rounds, once, and FMA contraction cannot change a result.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "ddiff/simd/bf16.hpp"

namespace ddiff::simd::quant {

enum class ggml_type : std::uint32_t {
    f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
    q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
    iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23,
    i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30, tq1_0 = 34, tq2_0 = 35, mxfp4 = 39,
};

inline constexpr std::size_t qk_k = 256;  // elements per K-quant super-block

struct type_traits {
    std::string_view name;     // as ggml_type_name
    std::size_t block = 0;     // elements per block
    std::size_t bytes = 0;     // bytes per block
    bool supported = false;    // ddiff decodes it
};

// The block geometry of every ggml type (gguf-py constants.py GGML_QUANT_SIZES), nullopt for an
// id that names no type.
constexpr std::optional<type_traits> traits(std::uint32_t id) noexcept {
    constexpr std::size_t K = qk_k;
    switch (static_cast<ggml_type>(id)) {
        case ggml_type::f32: return type_traits{"F32", 1, 4, true};
        case ggml_type::f16: return type_traits{"F16", 1, 2, true};
        case ggml_type::q4_0: return type_traits{"Q4_0", 32, 2 + 16, true};
        case ggml_type::q4_1: return type_traits{"Q4_1", 32, 2 + 2 + 16};
        case ggml_type::q5_0: return type_traits{"Q5_0", 32, 2 + 4 + 16};
        case ggml_type::q5_1: return type_traits{"Q5_1", 32, 2 + 2 + 4 + 16};
        case ggml_type::q8_0: return type_traits{"Q8_0", 32, 2 + 32, true};
        case ggml_type::q8_1: return type_traits{"Q8_1", 32, 4 + 4 + 32};
        case ggml_type::q2_k: return type_traits{"Q2_K", K, 2 + 2 + K / 16 + K / 4};
        case ggml_type::q3_k: return type_traits{"Q3_K", K, 2 + K / 4 + K / 8 + 12};
        case ggml_type::q4_k: return type_traits{"Q4_K", K, 2 + 2 + K / 2 + 12, true};
        case ggml_type::q5_k: return type_traits{"Q5_K", K, 2 + 2 + K / 2 + K / 8 + 12, true};
        case ggml_type::q6_k: return type_traits{"Q6_K", K, 2 + K / 2 + K / 4 + K / 16, true};
        case ggml_type::q8_k: return type_traits{"Q8_K", K, 4 + K + K / 8};
        case ggml_type::iq2_xxs: return type_traits{"IQ2_XXS", K, 2 + K / 4};
        case ggml_type::iq2_xs: return type_traits{"IQ2_XS", K, 2 + K / 4 + K / 32};
        case ggml_type::iq3_xxs: return type_traits{"IQ3_XXS", K, 2 + K / 4 + K / 8};
        case ggml_type::iq1_s: return type_traits{"IQ1_S", K, 2 + K / 8 + K / 16};
        case ggml_type::iq4_nl: return type_traits{"IQ4_NL", 32, 2 + 16};
        case ggml_type::iq3_s: return type_traits{"IQ3_S", K, 2 + K / 4 + K / 8 + K / 32 + 4};
        case ggml_type::iq2_s: return type_traits{"IQ2_S", K, 2 + K / 4 + K / 16};
        case ggml_type::iq4_xs: return type_traits{"IQ4_XS", K, 2 + 2 + K / 2 + K / 64};
        case ggml_type::i8: return type_traits{"I8", 1, 1};
        case ggml_type::i16: return type_traits{"I16", 1, 2};
        case ggml_type::i32: return type_traits{"I32", 1, 4};
        case ggml_type::i64: return type_traits{"I64", 1, 8};
        case ggml_type::f64: return type_traits{"F64", 1, 8};
        case ggml_type::iq1_m: return type_traits{"IQ1_M", K, K / 8 + K / 16 + K / 32};
        case ggml_type::bf16: return type_traits{"BF16", 1, 2, true};
        case ggml_type::tq1_0: return type_traits{"TQ1_0", K, 2 + 4 * 13};
        case ggml_type::tq2_0: return type_traits{"TQ2_0", K, 2 + 64};
        case ggml_type::mxfp4: return type_traits{"MXFP4", 32, 1 + 16};
    }
    return std::nullopt;
}

// The quantized types ddiff keeps quantized (the others it reads are float types).
constexpr bool is_quantized(ggml_type t) noexcept {
    return t == ggml_type::q8_0 || t == ggml_type::q4_0 || t == ggml_type::q4_k || t == ggml_type::q5_k ||
           t == ggml_type::q6_k;
}

// ---- integer forms -------------------------------------------------------------------------

// One block in integer form: q[i] for its block elements; sub-block s covers elements
// [s * sub, (s + 1) * sub). affine: value = scale[s] * q - min[s]; else value = scale[s] * q.
struct int_form_geometry {
    std::size_t block;   // elements per block
    std::size_t sub;     // elements per sub-block (one scale)
    bool affine;         // has mins (q >= 0)
    int q_min, q_max;    // range of q
};

constexpr int_form_geometry geometry(ggml_type t) noexcept {
    switch (t) {
        case ggml_type::q8_0: return {32, 32, false, -128, 127};
        case ggml_type::q4_0: return {32, 32, false, -8, 7};
        case ggml_type::q4_k: return {qk_k, 32, true, 0, 15};
        case ggml_type::q5_k: return {qk_k, 32, true, 0, 31};
        case ggml_type::q6_k: return {qk_k, 16, false, -32, 31};
        default: return {0, 0, false, 0, 0};
    }
}

namespace detail {
inline float half_at(const std::byte* p) noexcept {
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    return to_float(f16{h});
}
inline std::uint8_t u8_at(const std::byte* p, std::size_t i) noexcept { return std::to_integer<std::uint8_t>(p[i]); }

// Q4_K / Q5_K: 8 six-bit scales and mins packed in 12 bytes (ggml-quants.c get_scale_min_k4).
inline void scale_min_k4(int j, const std::byte* q, std::uint8_t& d, std::uint8_t& m) noexcept {
    if (j < 4) {
        d = u8_at(q, j) & 63;
        m = u8_at(q, j + 4) & 63;
    } else {
        d = static_cast<std::uint8_t>((u8_at(q, j + 4) & 0xF) | ((u8_at(q, j - 4) >> 6) << 4));
        m = static_cast<std::uint8_t>((u8_at(q, j + 4) >> 4) | ((u8_at(q, j) >> 6) << 4));
    }
}
}  // namespace detail

// Decodes the block at b (geometry(t).block elements) into q, scale[], min[] (min only for the
// affine types). t must be one of the quantized types.
inline void decode_block(ggml_type t, const std::byte* b, std::int8_t* q, float* scale, float* min) noexcept {
    using detail::half_at;
    using detail::u8_at;
    switch (t) {
        case ggml_type::q8_0: {  // d (f16), qs[32] int8
            scale[0] = half_at(b);
            for (int i = 0; i < 32; ++i) q[i] = static_cast<std::int8_t>(u8_at(b + 2, i));
            return;
        }
        case ggml_type::q4_0: {  // d (f16), qs[16]: element j = low nibble of qs[j], j + 16 = high
            scale[0] = half_at(b);
            for (int j = 0; j < 16; ++j) {
                q[j] = static_cast<std::int8_t>((u8_at(b + 2, j) & 0xF) - 8);
                q[j + 16] = static_cast<std::int8_t>((u8_at(b + 2, j) >> 4) - 8);
            }
            return;
        }
        case ggml_type::q4_k:
        case ggml_type::q5_k: {
            // d, dmin (f16), scales[12], (Q5_K: qh[32]), qs[128]. Sub-blocks 2c and 2c + 1 are the
            // low and high nibbles of qs[32c .. 32c + 32); Q5_K's fifth bit of element l of sub-block
            // s is bit s of qh[l].
            const float d = half_at(b), dmin = half_at(b + 2);
            const std::byte* sc = b + 4;
            const bool five = t == ggml_type::q5_k;
            const std::byte* qh = b + 16;
            const std::byte* qs = five ? b + 48 : b + 16;
            for (int s = 0; s < 8; ++s) {
                std::uint8_t ls, lm;
                detail::scale_min_k4(s, sc, ls, lm);
                scale[s] = d * float(ls);
                min[s] = dmin * float(lm);
                const int c = s / 2, shift = (s % 2) * 4;
                for (int l = 0; l < 32; ++l) {
                    int v = (u8_at(qs, 32 * c + l) >> shift) & 0xF;
                    if (five) v |= ((u8_at(qh, l) >> s) & 1) << 4;
                    q[32 * s + l] = static_cast<std::int8_t>(v);
                }
            }
            return;
        }
        case ggml_type::q6_k: {
            // ql[128], qh[64], scales[16] int8, d (f16). Per half n (128 elements): element
            // n + 32 r + l (r < 4, l < 32) = nibble (r / 2) of ql[64 h + 32 (r % 2) + l] | two bits
            // (2 r) of qh[32 h + l] << 4, minus 32; sub-blocks of 16 have scales[n / 16 + ...].
            const std::byte* ql = b;
            const std::byte* qh = b + 128;
            const std::byte* sc = b + 192;
            const float d = half_at(b + 208);
            for (int s = 0; s < 16; ++s) scale[s] = d * float(static_cast<std::int8_t>(u8_at(sc, s)));
            for (int h = 0; h < 2; ++h)
                for (int r = 0; r < 4; ++r)
                    for (int l = 0; l < 32; ++l) {
                        const int lo = (u8_at(ql, 64 * h + 32 * (r % 2) + l) >> (4 * (r / 2))) & 0xF;
                        const int hi = (u8_at(qh, 32 * h + l) >> (2 * r)) & 3;
                        q[128 * h + 32 * r + l] = static_cast<std::int8_t>((lo | (hi << 4)) - 32);
                    }
            return;
        }
        default: return;
    }
}

// A block's scales in the parts it stores: decode_block's scale[s] is float(d) * float(sc[s]) and
// min[s] is float(dmin) * float(mn[s]) (d, dmin: the binary16 bits), the same binary32 products,
// so a kernel that forms them from these parts gets decode_block's floats. Q8_0 / Q4_0: d, with
// sc[0] = 1, dmin = 0 and mn untouched; Q4_K / Q5_K: 8 six-bit sc and mn; Q6_K: 16 int8 sc,
// dmin = 0 and mn untouched. t must be one of the quantized types.
inline void decode_scale_parts(ggml_type t, const std::byte* b, std::uint16_t& d, std::uint16_t& dmin,
                               std::int8_t* sc, std::int8_t* mn) noexcept {
    using detail::u8_at;
    if (t == ggml_type::q8_0 || t == ggml_type::q4_0) {
        std::memcpy(&d, b, 2);
        dmin = 0;
        sc[0] = 1;
        return;
    }
    if (t == ggml_type::q6_k) {
        std::memcpy(&d, b + 208, 2);
        dmin = 0;
        for (int s = 0; s < 16; ++s) sc[s] = static_cast<std::int8_t>(u8_at(b + 192, s));
        return;
    }
    std::memcpy(&d, b, 2);
    std::memcpy(&dmin, b + 2, 2);
    for (int s = 0; s < 8; ++s) {
        std::uint8_t ls, lm;
        detail::scale_min_k4(s, b + 4, ls, lm);
        sc[s] = static_cast<std::int8_t>(ls);
        mn[s] = static_cast<std::int8_t>(lm);
    }
}

// out[0, n) = the values of the n elements stored at b (n a multiple of the block size), for
// every supported type; gguf-py's dequantize bit for bit.
inline void dequantize_row(ggml_type t, const std::byte* b, std::size_t n, float* out) noexcept {
    switch (t) {
        case ggml_type::f32: std::memcpy(out, b, n * 4); return;
        case ggml_type::f16:
            for (std::size_t i = 0; i < n; ++i) out[i] = detail::half_at(b + 2 * i);
            return;
        case ggml_type::bf16:
            for (std::size_t i = 0; i < n; ++i) {
                std::uint16_t h;
                std::memcpy(&h, b + 2 * i, 2);
                out[i] = to_float(simd::bf16{h});
            }
            return;
        default: break;
    }
    const auto tr = traits(static_cast<std::uint32_t>(t));
    const auto g = geometry(t);
    if (!tr || g.block == 0) return;
    std::int8_t q[qk_k];
    float scale[qk_k / 16], min[qk_k / 16];
    for (std::size_t b0 = 0; b0 < n; b0 += g.block, b += tr->bytes) {
        decode_block(t, b, q, scale, min);
        for (std::size_t i = 0; i < g.block; ++i) {
            const std::size_t s = i / g.sub;
            // gguf-py: d * q (symmetric), d * q - dm (affine); float32 throughout.
            out[b0 + i] = g.affine ? scale[s] * float(q[i]) - min[s] : scale[s] * float(q[i]);
        }
    }
}

}  // namespace ddiff::simd::quant
