// Builds GGUF bytes by hand for the reader's tests: every field written as given, so a test can
// make a file exactly as wrong as it needs (lying counts, bad offsets, unknown types, ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ddiff::test {

class gguf_builder {
public:
    std::vector<std::byte> bytes;

    template <class T>
    gguf_builder& put(T v) {
        const auto n = bytes.size();
        bytes.resize(n + sizeof(T));
        std::memcpy(bytes.data() + n, &v, sizeof(T));
        return *this;
    }
    gguf_builder& str(std::string_view s) {
        put<std::uint64_t>(s.size());
        for (char c : s) bytes.push_back(static_cast<std::byte>(c));
        return *this;
    }
    gguf_builder& header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
        for (char c : std::string_view("GGUF")) bytes.push_back(static_cast<std::byte>(c));
        return put<std::uint32_t>(version).put<std::uint64_t>(tensors).put<std::uint64_t>(kvs);
    }
    gguf_builder& kv_u32(std::string_view key, std::uint32_t v) { return str(key).put<std::uint32_t>(4).put(v); }
    gguf_builder& kv_str(std::string_view key, std::string_view v) { return str(key).put<std::uint32_t>(8).str(v); }
    // A tensor info: name, ne (GGUF order), ggml type id, offset.
    gguf_builder& tensor(std::string_view name, std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset) {
        str(name).put<std::uint32_t>(static_cast<std::uint32_t>(ne.size()));
        for (auto d : ne) put<std::uint64_t>(d);
        return put<std::uint32_t>(type).put<std::uint64_t>(offset);
    }
    // Zero padding up to a multiple of `align`, then `n` data bytes of value `fill`.
    gguf_builder& data(std::size_t n, std::size_t align = 32, std::uint8_t fill = 0x3c) {
        while (bytes.size() % align) bytes.push_back(std::byte{0});
        bytes.insert(bytes.end(), n, static_cast<std::byte>(fill));
        return *this;
    }
};

}  // namespace ddiff::test
