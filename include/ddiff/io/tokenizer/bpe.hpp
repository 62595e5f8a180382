// The models of the tokenizer engine: byte-pair encoding exactly as Hugging Face tokenizers'
// models/bpe (model.rs merge_word / tokenize_with_cache, word.rs merge_all), and the character
// vocabulary of the shipped model (one token per UTF-8 character).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"
#include "ddiff/io/tokenizer/vocab.hpp"

namespace ddiff::io::tok {

// The options of HF's BPE model (tokenizer.json "model": {...}).
struct bpe_options {
    std::optional<std::string> unk_token;
    std::optional<std::string> continuing_subword_prefix;
    std::optional<std::string> end_of_word_suffix;
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
};

// Memo of word -> ids (HF keeps the same cache: a pure speed-up, results are identical). Guarded
// by a mutex taken once per encode call with try_lock: a concurrent caller works uncached.
struct word_cache {
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return hash_bytes(s); }
    };
    static constexpr std::size_t max_word_bytes = 256;  // HF: MAX_LENGTH
    static constexpr std::size_t max_entries = 1u << 18;
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<token_id>, hash, std::equal_to<>> map;
};

class bpe_model {
public:
    bpe_model() = default;

    // vocab: (token, id) pairs; merges: (left, right) in rank order. `source` names the file in
    // errors. format_error for a duplicate token or id, a merge whose parts or result are not in the
    // vocabulary (HF: MergeTokenOutOfVocabulary).
    static bpe_model build(const std::vector<std::pair<std::string_view, token_id>>& vocab,
                           const std::vector<std::pair<std::string_view, std::string_view>>& merges, bpe_options opt,
                           std::string_view source) {
        vocabulary v;
        std::size_t bytes = 0;
        for (const auto& [t, id] : vocab) bytes += t.size();
        v.reserve(vocab.size(), bytes);
        for (std::size_t i = 0; i < vocab.size(); ++i) {
            if (i + 8 < vocab.size()) v.prefetch(vocab[i + 8].first);
            add_token(v, vocab[i].first, vocab[i].second, source, "model.vocab");
        }
        return build(std::move(v), merges, std::move(opt), source);
    }

    // The same from an already filled vocabulary.
    static bpe_model build(vocabulary vocab, const std::vector<std::pair<std::string_view, std::string_view>>& merges,
                           bpe_options opt, std::string_view source) {
        bpe_model m;
        m.vocab_ = std::move(vocab);
        m.init(merges, std::move(opt), source);
        return m;
    }

    static void add_token(vocabulary& v, std::string_view t, token_id id, std::string_view source,
                          std::string_view where) {
        if (id < 0)
            ddiff::detail::fail<format_error>(source, ": ", where, " token ", io::detail::quote_str(t), " has id ", id,
                                              ", expected an id >= 0");
        if (v.has_id(id))
            ddiff::detail::fail<format_error>(source, ": ", where, " gives id ", id, " to both ",
                                              io::detail::quote_str(v.token(id)), " and ", io::detail::quote_str(t),
                                              ", expected each id once");
        if (!v.insert(t, id))
            ddiff::detail::fail<format_error>(source, ": ", where, " lists token ", io::detail::quote_str(t),
                                              " twice, expected each token once");
    }

    const vocabulary& vocab() const noexcept { return vocab_; }
    const bpe_options& options() const noexcept { return opt_; }
    std::size_t merge_count() const noexcept { return merges_.size(); }

    // Appends the ids of one pre-tokenized word (HF: BPE::tokenize). `cache` may be null.
    void tokenize(std::string_view word, std::vector<token_id>& out, word_cache* cache) const {
        if (word.empty()) return;
        if (opt_.ignore_merges) {
            if (const auto id = vocab_.find(word)) {
                out.push_back(*id);
                return;
            }
        }
        if (cache && word.size() < word_cache::max_word_bytes) {
            if (const auto it = cache->map.find(word); it != cache->map.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return;
            }
            const std::size_t first = out.size();
            merge_word(word, out);
            if (cache->map.size() >= word_cache::max_entries) cache->map.clear();
            cache->map.emplace(std::string(word), std::vector<token_id>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
            return;
        }
        merge_word(word, out);
    }

private:
    void init(const std::vector<std::pair<std::string_view, std::string_view>>& merges, bpe_options opt,
              std::string_view source) {
        opt_ = std::move(opt);
        const std::size_t prefix_len = opt_.continuing_subword_prefix ? opt_.continuing_subword_prefix->size() : 0;
        merges_.reserve(merges.size());
        // Lookups in batches (vocabulary::find_batch overlaps their cache misses).
        constexpr std::size_t B = 256;
        std::string_view keys[2 * B];
        std::optional<token_id> ids[2 * B], joined_ids[B];
        std::vector<std::string> joined(B);
        std::string_view joined_views[B];
        for (std::size_t base = 0; base < merges.size(); base += B) {
            const std::size_t n = std::min(B, merges.size() - base);
            for (std::size_t k = 0; k < n; ++k) {
                keys[2 * k] = merges[base + k].first;
                keys[2 * k + 1] = merges[base + k].second;
            }
            vocab_.find_batch(keys, 2 * n, ids);
            for (std::size_t k = 0; k < n; ++k) {
                const std::size_t r = base + k;
                const auto& [a, b] = merges[r];
                if (!ids[2 * k] || !ids[2 * k + 1]) missing_merge(source, r, a, b, ids[2 * k] ? b : a);
                if (b.size() < prefix_len)
                    ddiff::detail::fail<format_error>(source, ": model.merges[", r, "] right part ", io::detail::quote_str(b),
                                                      " is shorter than continuing_subword_prefix, expected it to start with the prefix");
                joined[k].assign(a);
                joined[k].append(b.substr(prefix_len));
                joined_views[k] = joined[k];
            }
            vocab_.find_batch(joined_views, n, joined_ids);
            for (std::size_t k = 0; k < n; ++k) {
                const std::size_t r = base + k;
                if (!joined_ids[k]) missing_merge(source, r, merges[r].first, merges[r].second, joined[k]);
                merges_.insert_or_assign(*ids[2 * k], *ids[2 * k + 1], {static_cast<std::uint32_t>(r), *joined_ids[k]});
            }
        }
        for (int b = 0; b < 256; ++b) {
            static constexpr char hex[] = "0123456789ABCDEF";
            const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
            const auto id = vocab_.find(std::string_view(name, 6));
            byte_ids_[b] = id ? *id : -1;
        }
        if (opt_.unk_token) unk_id_ = vocab_.find(*opt_.unk_token);
    }

    [[noreturn]] static void missing_merge(std::string_view source, std::size_t r, std::string_view a, std::string_view b,
                                           std::string_view t) {
        ddiff::detail::fail<format_error>(source, ": model.merges[", r, "] (", io::detail::quote_str(a), ", ",
                                          io::detail::quote_str(b), "): token ", io::detail::quote_str(t),
                                          " is not in model.vocab, expected every merge part and result in it");
    }

    struct symbol {
        token_id c;
        std::int32_t prev, next;
        std::uint32_t len;
    };
    struct merge_item {
        std::uint32_t rank;
        std::uint32_t pos;
        token_id merged;
    };

    // HF models/bpe/model.rs merge_word + word.rs merge_all (without dropout).
    void merge_word(std::string_view w, std::vector<token_id>& out) const {
        thread_local std::vector<symbol> symbols;
        thread_local std::vector<merge_item> heap;
        thread_local std::string piece;
        symbols.clear();
        heap.clear();
        const auto add = [&](token_id c, std::size_t len) {
            const auto n = static_cast<std::int32_t>(symbols.size());
            if (n) symbols.back().next = n;
            symbols.push_back({c, n - 1, -1, static_cast<std::uint32_t>(len)});
        };
        bool unk = false;  // a pending unknown (HF: Option<(unk_id, unk_len)>)
        token_id unk_c = -1;
        std::size_t unk_len = 0;
        const bool affixes = opt_.continuing_subword_prefix || opt_.end_of_word_suffix;
        for (std::size_t i = 0; i < w.size();) {
            const std::size_t byte_len = utf8_len(static_cast<unsigned char>(w[i]));
            std::string_view s = w.substr(i, byte_len);
            const bool is_first = i == 0, is_last = i + byte_len >= w.size();
            i += byte_len;
            if (affixes) {
                piece.clear();
                if (!is_first && opt_.continuing_subword_prefix) piece += *opt_.continuing_subword_prefix;
                piece.append(s);
                if (is_last && opt_.end_of_word_suffix) piece += *opt_.end_of_word_suffix;
                s = piece;
            }
            if (const auto id = vocab_.find(s)) {
                if (unk) {
                    add(unk_c, unk_len);
                    unk = false;
                }
                add(*id, byte_len);
                continue;
            }
            if (opt_.byte_fallback) {
                bool all = true;
                for (unsigned char b : s) all = all && byte_ids_[b] >= 0;
                if (all) {
                    for (unsigned char b : s) add(byte_ids_[b], 1);
                    continue;
                }
            }
            if (opt_.unk_token) {
                if (!unk_id_)
                    ddiff::detail::fail<invalid_argument>("BPE: unk_token ", io::detail::quote_str(*opt_.unk_token),
                                                          " is not in the vocabulary, expected it there to encode ",
                                                          io::detail::quote_str(s));
                if (unk && opt_.fuse_unk) {
                    unk_len += byte_len;
                } else {
                    if (unk) add(unk_c, unk_len);
                    unk = true;
                    unk_c = *unk_id_;
                    unk_len = byte_len;
                }
            }
            // Neither in the vocabulary nor representable: HF drops the character.
        }
        if (unk) add(unk_c, unk_len);

        // Lowest rank first, then leftmost position (word.rs Merge's Ord, a min-heap).
        const auto later = [](const merge_item& x, const merge_item& y) {
            return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos;
        };
        for (std::size_t k = 0; k + 1 < symbols.size(); ++k)
            if (const auto* m = merges_.find(symbols[k].c, symbols[k + 1].c))
                heap.push_back({m->rank, static_cast<std::uint32_t>(k), m->merged});
        std::make_heap(heap.begin(), heap.end(), later);
        while (!heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), later);
            const merge_item top = heap.back();
            heap.pop_back();
            symbol& cur = symbols[top.pos];
            if (cur.len == 0 || cur.next == -1) continue;
            const auto next_pos = static_cast<std::size_t>(cur.next);
            const symbol right = symbols[next_pos];
            // An entry made stale by an earlier merge is skipped (same test as HF: the pair now
            // there must merge into the same token).
            const auto* now = merges_.find(cur.c, right.c);
            if (!now || now->merged != top.merged) continue;
            cur.c = top.merged;
            cur.len += right.len;
            cur.next = right.next;
            symbols[next_pos].len = 0;
            if (right.next > -1 && static_cast<std::size_t>(right.next) < symbols.size())
                symbols[static_cast<std::size_t>(right.next)].prev = static_cast<std::int32_t>(top.pos);
            if (cur.prev >= 0) {
                const symbol& p = symbols[static_cast<std::size_t>(cur.prev)];
                if (const auto* m = merges_.find(p.c, cur.c)) {
                    heap.push_back({m->rank, static_cast<std::uint32_t>(cur.prev), m->merged});
                    std::push_heap(heap.begin(), heap.end(), later);
                }
            }
            if (cur.next > -1 && static_cast<std::size_t>(cur.next) < symbols.size()) {
                const symbol& n = symbols[static_cast<std::size_t>(cur.next)];
                if (const auto* m = merges_.find(cur.c, n.c)) {
                    heap.push_back({m->rank, top.pos, m->merged});
                    std::push_heap(heap.begin(), heap.end(), later);
                }
            }
        }
        for (const symbol& s : symbols)
            if (s.len != 0) out.push_back(s.c);
    }

    vocabulary vocab_;
    merge_table merges_;
    bpe_options opt_;
    token_id byte_ids_[256] = {};
    std::optional<token_id> unk_id_;
};

// The character vocabulary of the shipped model (models/kjv-char/vocab.json): every
// single-character entry is a token; a character outside it is an error naming it (no silent
// fallback). Multi-character entries become special added tokens in the tokenizer.
class char_model {
public:
    char_model() = default;
    explicit char_model(vocabulary v) : vocab_(std::move(v)) {}
    const vocabulary& vocab() const noexcept { return vocab_; }

    // `offset` is the byte offset of `word` in the text, for the error message.
    void tokenize(std::string_view word, std::vector<token_id>& out, std::size_t offset) const {
        for (std::size_t i = 0; i < word.size();) {
            const std::size_t n = utf8_len(static_cast<unsigned char>(word[i]));
            const auto ch = word.substr(i, n);
            const auto id = vocab_.find(ch);
            if (!id)
                ddiff::detail::fail<invalid_argument>("character tokenizer: character ", io::detail::quote_str(ch),
                                                      " at byte ", offset + i,
                                                      " is not in the vocabulary, expected one of its characters");
            out.push_back(*id);
            i += n;
        }
    }

private:
    vocabulary vocab_;
};

}  // namespace ddiff::io::tok
