// The text codec of the Markov oracle: one byte per state of its alphabet.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/runtime/model.hpp"

namespace ddiff::runtime::detail {

class alphabet_codec final : public text_codec {
public:
    explicit alphabet_codec(std::string alphabet) : alphabet_(std::move(alphabet)) {}
    std::vector<token_id> encode(std::string_view t, bool) const override {
        std::vector<token_id> ids;
        for (char c : t) {
            const auto it = std::lower_bound(alphabet_.begin(), alphabet_.end(), c);
            if (it == alphabet_.end() || *it != c)
                ddiff::detail::fail("markov oracle: character code ", int(static_cast<unsigned char>(c)),
                                    " is not in the model's alphabet of ", alphabet_.size(), " characters");
            ids.push_back(static_cast<token_id>(it - alphabet_.begin()));
        }
        return ids;
    }
    std::string decode(std::span<const token_id> ids, token_id mask, bool show_masks, bool) const override {
        std::string s;
        for (token_id v : ids) {
            if (v == mask) {
                if (show_masks) s += '_';
            } else {
                s += piece(v);
            }
        }
        return s;
    }
    std::string piece(token_id v) const override {
        ddiff::detail::require(v >= 0 && static_cast<std::size_t>(v) < alphabet_.size(), "markov oracle", "token", v,
                               "a state of the alphabet");
        return std::string(1, alphabet_[static_cast<std::size_t>(v)]);
    }
    std::string describe() const override { return "the oracle's byte alphabet (" + std::to_string(alphabet_.size()) + " states)"; }

private:
    std::string alphabet_;  // alphabet_[v] is the byte of state v, sorted ascending
};

}  // namespace ddiff::runtime::detail
