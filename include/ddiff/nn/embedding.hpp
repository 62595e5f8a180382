// Token embedding: rows of a [V, d] table gathered by id (ids are range-checked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ddiff/core/error.hpp"

namespace ddiff::nn {

class embedding {
public:
    embedding() = default;
    embedding(std::vector<float> table, std::size_t vocab, std::size_t d) : table_(std::move(table)), vocab_(vocab), d_(d) {
        if (table_.size() != vocab * d)
            ddiff::detail::fail<shape_error>("embedding: table has ", table_.size(), " entries, expected ", vocab,
                                             " x ", d);
    }
    std::size_t vocab() const noexcept { return vocab_; }
    std::size_t dim() const noexcept { return d_; }

    // out: (tokens, d) at stride ldo.
    template <class Id>
    void forward(const Id* ids, std::size_t tokens, float* out, std::size_t ldo) const {
        for (std::size_t t = 0; t < tokens; ++t) {
            const auto id = ids[t];
            if (id < 0 || static_cast<std::size_t>(id) >= vocab_)
                ddiff::detail::fail<invalid_argument>("embedding: token id ", static_cast<long long>(id), " at position ",
                                                      t, " outside [0, ", vocab_, ")");
            std::memcpy(out + t * ldo, table_.data() + static_cast<std::size_t>(id) * d_, d_ * sizeof(float));
        }
    }

private:
    std::vector<float> table_;  // (vocab, d)
    std::size_t vocab_ = 0, d_ = 0;
};

}  // namespace ddiff::nn
