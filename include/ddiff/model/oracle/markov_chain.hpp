// A first-order Markov chain over a small vocabulary: the data distribution of the exact
// oracle denoisers. Built directly (initial distribution + transition matrix) or from a text
// (byte bigram counts with add-k smoothing).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/core/rng.hpp"
#include "ddiff/math/sampling.hpp"
#include "ddiff/core/types.hpp"

namespace ddiff::oracle {

class markov_chain {
public:
    static constexpr double tolerance = 1e-9;  // allowed deviation of a row sum from 1

    // initial: (V), transition: (V, V) row-stochastic, transition(a, b) = P(x_{i+1} = b | x_i = a).
    markov_chain(xt::xtensor<double, 1> initial, xt::xtensor<double, 2> transition)
        : init_(std::move(initial)), trans_(std::move(transition)) {
        const std::size_t V = init_.size();
        if (V == 0) ddiff::detail::fail("markov_chain: initial distribution is empty, expected at least 1 state");
        if (trans_.shape(0) != V || trans_.shape(1) != V)
            ddiff::detail::fail<shape_error>("markov_chain: transition matrix is ", trans_.shape(0), " x ",
                                             trans_.shape(1), ", expected ", V, " x ", V,
                                             " (the initial distribution's size)");
        check_distribution(std::span<const double>(init_.data(), V), "initial distribution", 0);
        for (std::size_t a = 0; a < V; ++a)
            check_distribution(std::span<const double>(trans_.data() + a * V, V), "transition matrix row", a);
    }

    std::size_t num_states() const noexcept { return init_.size(); }
    const xt::xtensor<double, 1>& initial() const noexcept { return init_; }
    const xt::xtensor<double, 2>& transition() const noexcept { return trans_; }
    double transition(std::size_t a, std::size_t b) const noexcept { return trans_(a, b); }

    // Exact log-probability of a sequence under the chain (natural log; -inf if impossible).
    double log_likelihood(std::span<const token_id> x) const {
        if (x.empty()) return 0.0;
        double lp = std::log(init_(checked(x[0])));
        for (std::size_t i = 1; i < x.size(); ++i) lp += std::log(trans_(checked(x[i - 1]), checked(x[i])));
        return lp;
    }

    // Exact sample of a length-n sequence; position i draws from site {stream, step, i}.
    sequence sample(std::size_t n, const counter_rng& g, std::uint32_t step = 0) const {
        sequence out = xt::zeros<token_id>({n});
        const std::size_t V = num_states();
        for (std::size_t i = 0; i < n; ++i) {
            const double* row = i == 0 ? init_.data() : trans_.data() + static_cast<std::size_t>(out(i - 1)) * V;
            out(i) = static_cast<token_id>(sample_categorical(std::span<const double>(row, V), g,
                                                              {streams::token, step, static_cast<std::uint32_t>(i)}));
        }
        return out;
    }

    // Stationary distribution pi = pi P by power iteration (throws if it does not converge,
    // e.g. for a periodic chain).
    xt::xtensor<double, 1> stationary(std::size_t max_iter = 100000) const {
        const std::size_t V = num_states();
        xt::xtensor<double, 1> p = xt::ones<double>({V}) / static_cast<double>(V);
        xt::xtensor<double, 1> q = xt::zeros<double>({V});
        for (std::size_t it = 0; it < max_iter; ++it) {
            q.fill(0.0);
            for (std::size_t a = 0; a < V; ++a)
                for (std::size_t b = 0; b < V; ++b) q(b) += p(a) * trans_(a, b);
            double diff = 0.0;
            for (std::size_t b = 0; b < V; ++b) diff = std::max(diff, std::abs(q(b) - p(b)));
            std::swap(p, q);
            if (diff < 1e-15) return p;
        }
        ddiff::detail::fail("markov_chain::stationary: power iteration did not converge in ", max_iter,
                            " iterations, expected an aperiodic chain");
    }

private:
    std::size_t checked(token_id x) const {
        ddiff::detail::require(x >= 0 && static_cast<std::size_t>(x) < num_states(), "markov_chain", "token", x,
                               "a state in [0, num_states)");
        return static_cast<std::size_t>(x);
    }
    static void check_distribution(std::span<const double> p, const char* what, std::size_t row) {
        double s = 0.0;
        for (std::size_t i = 0; i < p.size(); ++i) {
            if (!(p[i] >= 0.0) || !std::isfinite(p[i]))
                ddiff::detail::fail("markov_chain: ", what, " ", row, " entry ", i, " is ", p[i],
                                    ", expected a finite probability >= 0");
            s += p[i];
        }
        if (std::abs(s - 1.0) > tolerance)
            ddiff::detail::fail("markov_chain: ", what, " ", row, " sums to ", s, ", expected 1 (within ", tolerance,
                                ")");
    }

    xt::xtensor<double, 1> init_;   // (V)
    xt::xtensor<double, 2> trans_;  // (V, V)
};

// Where the chain's first token comes from when it is fitted to a text.
enum class initial_distribution {
    stationary,  // pi = pi P: every position has the same marginal (the default)
    unigram,     // add-k smoothed character frequencies
};

// A chain fitted to a text, plus the byte alphabet that maps its states to characters.
struct text_chain {
    std::string alphabet;  // alphabet[v] is the byte of state v, sorted ascending
    markov_chain chain;

    token_id encode(char c) const {
        const auto it = std::lower_bound(alphabet.begin(), alphabet.end(), c);
        if (it == alphabet.end() || *it != c)
            ddiff::detail::fail("text_chain::encode: character code ", static_cast<int>(static_cast<unsigned char>(c)),
                                " is not in the model's alphabet of ", alphabet.size(), " characters");
        return static_cast<token_id>(it - alphabet.begin());
    }
    sequence encode(std::string_view s) const {
        sequence out = xt::zeros<token_id>({s.size()});
        for (std::size_t i = 0; i < s.size(); ++i) out(i) = encode(s[i]);
        return out;
    }
    char decode(token_id v) const {
        ddiff::detail::require(v >= 0 && static_cast<std::size_t>(v) < alphabet.size(), "text_chain::decode", "token", v,
                               "a state of the alphabet");
        return alphabet[static_cast<std::size_t>(v)];
    }
};

// Byte bigram counts + k, rows normalised. The alphabet is the set of bytes in the text.
inline text_chain fit_text(std::string_view text, double k = 1.0,
                           initial_distribution init = initial_distribution::stationary) {
    ddiff::detail::require(std::isfinite(k) && k > 0.0, "fit_text", "k", k, "a finite smoothing count > 0");
    if (text.size() < 2)
        ddiff::detail::fail("fit_text: text has ", text.size(), " characters, expected at least 2 (one bigram)");
    std::array<bool, 256> seen{};
    for (char c : text) seen[static_cast<unsigned char>(c)] = true;
    std::string alphabet;
    for (int c = 0; c < 256; ++c)
        if (seen[static_cast<std::size_t>(c)]) alphabet.push_back(static_cast<char>(c));
    std::array<std::size_t, 256> index{};
    for (std::size_t v = 0; v < alphabet.size(); ++v) index[static_cast<unsigned char>(alphabet[v])] = v;
    const std::size_t V = alphabet.size();
    xt::xtensor<double, 2> counts = xt::zeros<double>({V, V});
    xt::xtensor<double, 1> uni = xt::zeros<double>({V});
    for (std::size_t i = 0; i < text.size(); ++i) {
        const std::size_t b = index[static_cast<unsigned char>(text[i])];
        uni(b) += 1.0;
        if (i > 0) counts(index[static_cast<unsigned char>(text[i - 1])], b) += 1.0;
    }
    for (std::size_t a = 0; a < V; ++a) {
        double s = 0.0;
        for (std::size_t b = 0; b < V; ++b) s += (counts(a, b) += k);
        for (std::size_t b = 0; b < V; ++b) counts(a, b) /= s;
    }
    const double total = static_cast<double>(text.size()) + k * static_cast<double>(V);
    for (std::size_t b = 0; b < V; ++b) uni(b) = (uni(b) + k) / total;
    markov_chain unigram_start(uni, counts);
    if (init == initial_distribution::unigram) return {alphabet, std::move(unigram_start)};
    return {alphabet, markov_chain(unigram_start.stationary(), counts)};
}

inline text_chain fit_text_file(const std::string& path, double k = 1.0,
                                initial_distribution init = initial_distribution::stationary) {
    std::ifstream in(path, std::ios::binary);
    if (!in) ddiff::detail::fail<io_error>("fit_text_file: cannot open '", path, "' for reading");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() < 2)
        ddiff::detail::fail("fit_text_file: '", path, "' has ", text.size(), " bytes, expected at least 2");
    return fit_text(text, k, init);
}

}  // namespace ddiff::oracle
