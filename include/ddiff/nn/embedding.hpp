// Token embedding: rows of a [V, d] table gathered by id (ids are range-checked). The table is
// f32, or kept as a GGUF file stores it (F16, BF16 or a quantized type: from_stored), each
// gathered row decoded by simd::quant::dequantize_row: the floats of dequantising the whole table
// first, at the stored size (a Q4_K table of a 4096 x 2048 model: 4.7 MB instead of 33.6 MB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/simd/quant/blocks.hpp"

namespace ddiff::nn {

class embedding {
public:
    embedding() = default;
    embedding(std::vector<float> table, std::size_t vocab, std::size_t d) : table_(std::move(table)), vocab_(vocab), d_(d) {
        if (table_.size() != vocab * d)
            ddiff::detail::fail<shape_error>("embedding: table has ", table_.size(), " entries, expected ", vocab,
                                             " x ", d);
    }
    // Rows of type t (a supported type of simd/quant/blocks.hpp), vocab rows of d elements, copied.
    static embedding from_stored(simd::quant::ggml_type t, std::span<const std::byte> rows, std::size_t vocab,
                                 std::size_t d) {
        const auto tr = simd::quant::traits(std::uint32_t(t));
        if (!tr || !tr->supported)
            ddiff::detail::fail<invalid_argument>("embedding: stored type id ", std::uint32_t(t), " is not one ddiff decodes");
        if (d == 0 || d % tr->block != 0)
            ddiff::detail::fail<shape_error>("embedding: width ", d, " is not a positive multiple of ", tr->name,
                                             "'s block of ", tr->block);
        const std::size_t rb = d / tr->block * tr->bytes;
        if (rows.size() != vocab * rb)
            ddiff::detail::fail<shape_error>("embedding: ", rows.size(), " stored bytes, expected ", vocab, " rows of ",
                                             rb, " (", tr->name, ")");
        embedding e;
        e.stored_.assign(rows.begin(), rows.end());
        e.type_ = t;
        e.row_bytes_ = rb;
        e.vocab_ = vocab;
        e.d_ = d;
        return e;
    }
    std::size_t vocab() const noexcept { return vocab_; }
    std::size_t dim() const noexcept { return d_; }
    // Bytes held for the table.
    std::size_t bytes() const noexcept { return table_.size() * sizeof(float) + stored_.size(); }

    // out: (tokens, d) at stride ldo.
    template <class Id>
    void forward(const Id* ids, std::size_t tokens, float* out, std::size_t ldo) const {
        for (std::size_t t = 0; t < tokens; ++t) {
            const auto id = ids[t];
            if (id < 0 || static_cast<std::size_t>(id) >= vocab_)
                ddiff::detail::fail<invalid_argument>("embedding: token id ", static_cast<long long>(id), " at position ",
                                                      t, " outside [0, ", vocab_, ")");
            const auto r = static_cast<std::size_t>(id);
            if (stored_.empty()) std::memcpy(out + t * ldo, table_.data() + r * d_, d_ * sizeof(float));
            else simd::quant::dequantize_row(type_, stored_.data() + r * row_bytes_, d_, out + t * ldo);
        }
    }

private:
    std::vector<float> table_;       // (vocab, d), or empty when stored
    std::vector<std::byte> stored_;  // vocab rows of row_bytes_, type_
    simd::quant::ggml_type type_ = simd::quant::ggml_type::f32;
    std::size_t row_bytes_ = 0;
    std::size_t vocab_ = 0, d_ = 0;
};

}  // namespace ddiff::nn
