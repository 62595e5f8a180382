// A small safetensors writer for the tests and the fuzzers' seed corpora (not a public header:
// the library only reads safetensors). The files it writes are what the reader must accept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/io/dtype.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/safetensors.hpp"

namespace ddiff::test {

// A tensor to write: `bytes` are the little-endian, row-major elements.
struct tensor_data {
    std::string name;
    io::dtype type = io::dtype::f32;
    std::vector<std::size_t> shape;
    std::vector<std::byte> bytes;

    template <io::storable T>
    static tensor_data from(std::string name, std::vector<std::size_t> shape, std::span<const T> values) {
        tensor_data t{std::move(name), io::dtype_of<T>::value, std::move(shape), {}};
        t.bytes.resize(values.size_bytes());
        if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), values.size_bytes());
        return t;
    }
    template <io::storable T>
    static tensor_data from(std::string name, std::vector<std::size_t> shape, const std::vector<T>& values) {
        return from(std::move(name), std::move(shape), std::span<const T>(values));
    }
};

// The bytes of a safetensors file holding `tensors` in the given order. The header is padded
// with spaces (allowed by the README) so that the data buffer starts at a multiple of 8 and
// every tensor of the file can be viewed in place. invalid_argument for a duplicate or reserved
// name or a name that is not UTF-8, shape_error when bytes do not match shape x dtype.
inline std::vector<std::byte> serialize_safetensors(const std::vector<tensor_data>& tensors,
                                                    const io::metadata_map& metadata = {}) {
    using ddiff::detail::fail;
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        auto& m = header["__metadata__"] = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata) m[k] = v;
    }
    std::size_t offset = 0;
    for (const auto& t : tensors) {
        const std::string where = "serialize_safetensors: tensor " + io::detail::quote_str(t.name);
        if (t.name == "__metadata__") fail<invalid_argument>(where, ": the name is reserved for the metadata");
        if (header.contains(t.name)) fail<invalid_argument>(where, ": duplicate name, expected each name once");
        const auto numel = io::detail::checked_numel(t.shape);
        std::size_t nbytes = 0;
        if (!numel || __builtin_mul_overflow(*numel, io::dtype_size(t.type), &nbytes))
            fail<shape_error>(where, ": shape ", io::detail::shape_string(t.shape), " needs more than 2^64 bytes");
        if (nbytes != t.bytes.size())
            fail<shape_error>(where, ": shape ", io::detail::shape_string(t.shape), " x ", io::dtype_name(t.type), " needs ",
                              nbytes, " bytes, got ", t.bytes.size());
        header[t.name] = {{"dtype", std::string(io::dtype_name(t.type))},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string text;
    try {
        text = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
    } catch (const nlohmann::json::exception& e) {
        fail<invalid_argument>("serialize_safetensors: a name or metadata string is not valid UTF-8 (", e.what(), ")");
    }
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');

    std::vector<std::byte> out(8 + text.size() + offset);
    const std::uint64_t n = text.size();
    std::memcpy(out.data(), &n, 8);
    std::memcpy(out.data() + 8, text.data(), text.size());
    std::byte* data = out.data() + 8 + text.size();
    for (const auto& t : tensors) {
        if (!t.bytes.empty()) std::memcpy(data, t.bytes.data(), t.bytes.size());
        data += t.bytes.size();
    }
    return out;
}

// Writes serialize_safetensors(tensors, metadata) to `path`; io_error if it cannot be written.
inline void write_safetensors(const std::filesystem::path& path, const std::vector<tensor_data>& tensors,
                              const io::metadata_map& metadata = {}) {
    const auto bytes = serialize_safetensors(tensors, metadata);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) ddiff::detail::fail<io_error>("cannot open '", path.string(), "' for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) ddiff::detail::fail<io_error>("cannot write '", path.string(), "'");
}

}  // namespace ddiff::test
