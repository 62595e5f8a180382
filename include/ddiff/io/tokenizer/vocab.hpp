// A token vocabulary (string <-> id) and the merge table of a BPE model, as flat open-addressing
// hash tables: one arena for all token bytes, no allocation per token, and lookups by
// std::string_view. Loading a 150k-token vocabulary with 150k merges takes a few milliseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ddiff/core/types.hpp"

namespace ddiff::io::tok {

// 64-bit hash of a byte string: 8 bytes at a time, multiply-xorshift mixing (the constants of
// SplitMix64 / wyhash). Not cryptographic; tables stay fast on adversarial input because probing
// is bounded by the load factor, not by the hash quality.
inline std::uint64_t hash_bytes(std::string_view s) noexcept {
    constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xBF58476D1CE4E5B9ull, k3 = 0x94D049BB133111EBull;
    std::uint64_t h = k1 ^ (s.size() * k2);
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ (w * k3)) * k2;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = (h ^ (w * k3)) * k2;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= k3;
    h ^= h >> 29;
    return h;
}

inline std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

// token string <-> id. Ids are >= 0 and may have gaps. A slot holds the token's hash, arena
// offset, length and id, so a lookup touches one slot and the token's bytes.
class vocabulary {
public:
    void reserve(std::size_t n, std::size_t bytes) {
        arena_.reserve(bytes);
        by_id_.reserve(n);
        rehash(table_size_for(n));
    }

    // Adds (token, id). Returns false, changing nothing, when the token is already present.
    // The caller checks that the id is not used twice (has_id).
    bool insert(std::string_view tok, token_id id) {
        if ((count_ + 1) * 4 > slots_.size() * 3) rehash(slots_.empty() ? 64 : slots_.size() * 2);
        const std::uint64_t h = hash_bytes(tok);
        std::size_t i = h & (slots_.size() - 1);
        while (slots_[i].id >= 0) {
            if (slots_[i].hash == static_cast<std::uint32_t>(h) && view(slots_[i].offset, slots_[i].length) == tok)
                return false;
            i = (i + 1) & (slots_.size() - 1);
        }
        if (arena_.size() + tok.size() > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("vocabulary: more than 4 GiB of tokens");
        slots_[i] = {static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(arena_.size()),
                     static_cast<std::uint32_t>(tok.size()), id};
        if (static_cast<std::size_t>(id) >= by_id_.size()) by_id_.resize(static_cast<std::size_t>(id) + 1, {0, missing});
        by_id_[static_cast<std::size_t>(id)] = {static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint32_t>(tok.size())};
        arena_.append(tok);
        ++count_;
        return true;
    }

    // Starts fetching the slot a later insert or find of tok will probe.
    void prefetch(std::string_view tok) const noexcept {
        if (!slots_.empty()) __builtin_prefetch(&slots_[hash_bytes(tok) & (slots_.size() - 1)]);
    }

    std::optional<token_id> find(std::string_view tok) const noexcept {
        if (slots_.empty()) return std::nullopt;
        const std::uint64_t h = hash_bytes(tok);
        std::size_t i = h & (slots_.size() - 1);
        while (slots_[i].id >= 0) {
            const slot& s = slots_[i];
            if (s.hash == static_cast<std::uint32_t>(h) && s.length == tok.size() &&
                std::memcmp(arena_.data() + s.offset, tok.data(), tok.size()) == 0)
                return s.id;
            i = (i + 1) & (slots_.size() - 1);
        }
        return std::nullopt;
    }

    // find() of n keys with the memory accesses of 16 keys in flight at once (the table is larger
    // than the caches: one lookup at a time waits on two cache misses, 16 overlap them).
    void find_batch(const std::string_view* keys, std::size_t n, std::optional<token_id>* out) const noexcept {
        constexpr std::size_t B = 16;
        std::uint64_t h[B];
        std::size_t at[B];
        for (std::size_t base = 0; base < n; base += B) {
            const std::size_t m = std::min(B, n - base);
            if (slots_.empty()) {
                for (std::size_t k = 0; k < m; ++k) out[base + k] = std::nullopt;
                continue;
            }
            for (std::size_t k = 0; k < m; ++k) {
                h[k] = hash_bytes(keys[base + k]);
                at[k] = h[k] & (slots_.size() - 1);
                __builtin_prefetch(&slots_[at[k]]);
            }
            for (std::size_t k = 0; k < m; ++k) {  // first candidate's bytes
                const slot& s = slots_[at[k]];
                if (s.id >= 0) __builtin_prefetch(arena_.data() + s.offset);
            }
            for (std::size_t k = 0; k < m; ++k) {
                const std::string_view key = keys[base + k];
                std::size_t i = at[k];
                out[base + k] = std::nullopt;
                while (slots_[i].id >= 0) {
                    const slot& s = slots_[i];
                    if (s.hash == static_cast<std::uint32_t>(h[k]) && s.length == key.size() &&
                        std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
                        out[base + k] = s.id;
                        break;
                    }
                    i = (i + 1) & (slots_.size() - 1);
                }
            }
        }
    }

    bool has_id(token_id id) const noexcept {
        return id >= 0 && static_cast<std::size_t>(id) < by_id_.size() && by_id_[static_cast<std::size_t>(id)].second != missing;
    }
    // The token of an id (has_id(id) must hold).
    std::string_view token(token_id id) const noexcept {
        const auto& e = by_id_[static_cast<std::size_t>(id)];
        return view(e.first, e.second);
    }
    // Number of tokens (HF's Model::get_vocab_size: the map's size).
    std::size_t size() const noexcept { return count_; }
    // 1 + the largest id (0 when empty).
    std::size_t id_limit() const noexcept { return by_id_.size(); }

    template <class F>
    void for_each(F&& f) const {
        for (std::size_t id = 0; id < by_id_.size(); ++id)
            if (by_id_[id].second != missing) f(view(by_id_[id].first, by_id_[id].second), static_cast<token_id>(id));
    }

private:
    static constexpr std::uint32_t missing = std::numeric_limits<std::uint32_t>::max();
    struct slot {
        std::uint32_t hash = 0, offset = 0, length = 0;
        token_id id = -1;  // -1: empty
    };
    std::string_view view(std::uint32_t offset, std::uint32_t length) const noexcept { return {arena_.data() + offset, length}; }
    static std::size_t table_size_for(std::size_t n) {
        std::size_t s = 64;
        while (s * 3 < n * 4 + 4) s *= 2;
        return s;
    }
    void rehash(std::size_t n) {
        if (n <= slots_.size()) return;
        std::vector<slot> fresh(n);
        for (const slot& s : slots_) {
            if (s.id < 0) continue;
            std::size_t i = s.hash & (n - 1);  // the low 32 bits of the hash index tables up to 2^32 slots
            while (fresh[i].id >= 0) i = (i + 1) & (n - 1);
            fresh[i] = s;
        }
        slots_.swap(fresh);
    }

    std::string arena_;
    std::vector<slot> slots_;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> by_id_;  // id -> (offset, length)
    std::size_t count_ = 0;
};

// (left id, right id) -> (rank, merged id): the merges of a BPE model. A pair inserted twice keeps
// the later rank, as HF's HashMap built by collect() does (models/bpe/model.rs BpeBuilder::build).
class merge_table {
public:
    struct value {
        std::uint32_t rank;
        token_id merged;
    };
    void reserve(std::size_t n) { rehash(table_size_for(n)); }

    void insert_or_assign(token_id a, token_id b, value v) {
        if ((count_ + 1) * 4 > keys_.size() * 3) rehash(keys_.empty() ? 64 : keys_.size() * 2);
        const std::uint64_t k = key(a, b);
        std::size_t i = mix64(k) & (keys_.size() - 1);
        while (keys_[i] != empty_key) {
            if (keys_[i] == k) {
                vals_[i] = v;
                return;
            }
            i = (i + 1) & (keys_.size() - 1);
        }
        keys_[i] = k;
        vals_[i] = v;
        ++count_;
    }

    const value* find(token_id a, token_id b) const noexcept {
        if (keys_.empty()) return nullptr;
        const std::uint64_t k = key(a, b);
        std::size_t i = mix64(k) & (keys_.size() - 1);
        while (keys_[i] != empty_key) {
            if (keys_[i] == k) return &vals_[i];
            i = (i + 1) & (keys_.size() - 1);
        }
        return nullptr;
    }
    std::size_t size() const noexcept { return count_; }

private:
    static constexpr std::uint64_t empty_key = std::numeric_limits<std::uint64_t>::max();
    static std::uint64_t key(token_id a, token_id b) noexcept {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
    }
    static std::size_t table_size_for(std::size_t n) {
        std::size_t s = 64;
        while (s * 3 < n * 4 + 4) s *= 2;
        return s;
    }
    void rehash(std::size_t n) {
        if (n <= keys_.size()) return;
        std::vector<std::uint64_t> k2(n, empty_key);
        std::vector<value> v2(n);
        for (std::size_t j = 0; j < keys_.size(); ++j) {
            if (keys_[j] == empty_key) continue;
            std::size_t i = mix64(keys_[j]) & (n - 1);
            while (k2[i] != empty_key) i = (i + 1) & (n - 1);
            k2[i] = keys_[j];
            v2[i] = vals_[j];
        }
        keys_.swap(k2);
        vals_.swap(v2);
    }
    std::vector<std::uint64_t> keys_;
    std::vector<value> vals_;
    std::size_t count_ = 0;
};

}  // namespace ddiff::io::tok
