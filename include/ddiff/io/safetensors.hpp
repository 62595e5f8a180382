// Memory-mapped safetensors reader that validates the whole header before any tensor is used,
// typed tensor access (zero-copy views, converting reads). (The writer the tests use is in
// tests/support/safetensors_writer.hpp.)
//
// Format (https://github.com/huggingface/safetensors, README "Format"):
//   bytes [0, 8)        N, the header length, u64 little-endian
//   bytes [8, 8 + N)    UTF-8 JSON object, starting with '{', optionally padded with spaces:
//                         {name: {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [b, e]},
//                          "__metadata__": {string: string}}          (metadata optional)
//   bytes [8 + N, end)  the data buffer; [b, e) is relative to its start. Elements are
//                       little-endian, row-major ("C" order).
// The README also requires: no duplicate names, and a buffer "entirely indexed" without holes
// (which rules out polyglot files). The reference parser (safetensors/src/tensor.rs,
// read_metadata and Metadata::validate) caps N at 100 MB and rejects offsets that overflow,
// overlap, leave gaps or do not match shape x dtype size; this reader makes the same checks.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/core/xtensor.hpp"
#include "ddiff/io/dtype.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/mapped_file.hpp"

namespace ddiff::io {

static_assert(std::endian::native == std::endian::little,
              "ddiff/io/safetensors.hpp reads the little-endian safetensors data in place; "
              "big-endian hosts would need a byte-swapping copy, which is not implemented");
static_assert(sizeof(std::size_t) == 8, "ddiff/io/safetensors.hpp assumes 64-bit sizes and offsets");

// "__metadata__": free-form string -> string pairs (e.g. {"format": "pt"}).
using metadata_map = std::map<std::string, std::string, std::less<>>;

// One validated header entry.
struct tensor_info {
    std::string name;
    io::dtype type = dtype::f32;
    std::vector<std::size_t> shape;  // row-major, outermost dimension first; empty for a scalar
    std::size_t begin = 0;           // [begin, end): bytes of the data buffer
    std::size_t end = 0;
    std::size_t numel = 1;           // product of shape (1 for a scalar, 0 if any dimension is 0)

    std::size_t nbytes() const noexcept { return end - begin; }
    std::size_t rank() const noexcept { return shape.size(); }
};

namespace detail {

// Header lengths above this are rejected before any JSON is parsed: the reference parser's
// MAX_HEADER_SIZE (safetensors/src/tensor.rs).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

inline std::string shape_string(std::span<const std::size_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// Product of `shape`, or nullopt when it exceeds 2^64. A zero dimension makes the product 0
// whatever the other dimensions (empty tensors are allowed by the README), and a wrapped
// product can itself be 0 (e.g. [2^32, 2^32]), hence the explicit test for a zero.
inline std::optional<std::size_t> checked_numel(std::span<const std::size_t> shape) noexcept {
    if (std::ranges::find(shape, std::size_t{0}) != shape.end()) return 0;
    std::size_t n = 1;
    for (std::size_t d : shape)
        if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
    return n;
}

template <class T>
T load_le(const std::byte* p, std::size_t i) noexcept {
    // memcpy, not a cast: the data buffer has no alignment guarantee.
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    return v;
}

}  // namespace detail

// The elements of one tensor as a contiguous T array. Zero-copy (pointing into the file) when the
// bytes are suitably aligned for T, else a private copy; either way nothing is converted.
// A zero-copy view is valid while the safetensors_file (or checkpoint) it came from lives.
template <storable T>
class tensor_view {
public:
    tensor_view(const tensor_info& info, std::span<const std::byte> bytes) : shape_(info.shape) {
        if (info.numel == 0) return;
        if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(T) == 0) {
            data_ = {reinterpret_cast<const T*>(bytes.data()), info.numel};
        } else {
            copy_.resize(info.numel);
            std::memcpy(copy_.data(), bytes.data(), info.numel * sizeof(T));
            data_ = copy_;
            owns_ = true;
        }
    }
    tensor_view(const tensor_view& o) : data_(o.data_), copy_(o.copy_), shape_(o.shape_), owns_(o.owns_) {
        if (owns_) data_ = copy_;
    }
    tensor_view(tensor_view&& o) noexcept = default;  // moving a vector keeps its buffer
    tensor_view& operator=(const tensor_view& o) {
        if (this != &o) *this = tensor_view(o);
        return *this;
    }
    tensor_view& operator=(tensor_view&& o) noexcept = default;

    std::span<const T> data() const noexcept { return data_; }
    const T* begin() const noexcept { return data_.data(); }
    const T* end() const noexcept { return data_.data() + data_.size(); }
    std::size_t size() const noexcept { return data_.size(); }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    std::span<const std::size_t> shape() const noexcept { return shape_; }
    std::size_t rank() const noexcept { return shape_.size(); }
    // True when the elements are read in place from the mapping.
    bool zero_copy() const noexcept { return !owns_; }

private:
    std::span<const T> data_;
    std::vector<T> copy_;
    std::span<const std::size_t> shape_;  // points into the tensor_info, owned by the file
    bool owns_ = false;
};

// A validated tensor inside a loaded file. Cheap to copy (three pointers); valid while the
// safetensors_file (or checkpoint) it came from lives. The reads below never allocate except
// the vector / xtensor returning ones.
class tensor_ref {
public:
    tensor_ref(const tensor_info& info, std::span<const std::byte> bytes, std::string_view source) noexcept
        : info_(&info), bytes_(bytes), source_(source) {}

    const tensor_info& info() const noexcept { return *info_; }
    std::string_view name() const noexcept { return info_->name; }
    io::dtype type() const noexcept { return info_->type; }
    std::span<const std::size_t> shape() const noexcept { return info_->shape; }
    std::size_t rank() const noexcept { return info_->shape.size(); }
    std::size_t numel() const noexcept { return info_->numel; }
    std::string_view source() const noexcept { return source_; }
    // The stored little-endian bytes, exactly nbytes() of them.
    std::span<const std::byte> bytes() const noexcept { return bytes_; }

    // The elements as stored; T must match the stored dtype exactly (float for F32, bf16 for BF16,
    // ...), else format_error. Zero-copy when aligned.
    template <storable T>
    tensor_view<T> view() const {
        if (info_->type != dtype_of<T>::value)
            fail_dtype("view", dtype_name(dtype_of<T>::value), "; to_f32() / to_f64() / to_i64() convert");
        return tensor_view<T>(*info_, bytes_);
    }

    // Converting reads into a caller buffer of exactly numel() elements (else shape_error).
    // to_f32: F32, F16, BF16 exactly; F64 rounded to nearest (beyond float's range -> +-inf).
    void to_f32(std::span<float> out) const {
        check_count(out.size(), "to_f32");
        const std::byte* p = bytes_.data();
        const std::size_t n = info_->numel;
        switch (info_->type) {
            case dtype::f32:
                if (n) std::memcpy(out.data(), p, n * sizeof(float));
                return;
            case dtype::f16:
                for (std::size_t i = 0; i < n; ++i) out[i] = to_float(detail::load_le<f16>(p, i));
                return;
            case dtype::bf16:
                for (std::size_t i = 0; i < n; ++i) out[i] = to_float(detail::load_le<bf16>(p, i));
                return;
            case dtype::f64:
                for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(detail::load_le<double>(p, i));
                return;
            default: fail_dtype("to_f32", "F32, F16, BF16 or F64");
        }
    }
    // to_f64: every floating dtype, exactly.
    void to_f64(std::span<double> out) const {
        check_count(out.size(), "to_f64");
        const std::byte* p = bytes_.data();
        const std::size_t n = info_->numel;
        switch (info_->type) {
            case dtype::f64:
                if (n) std::memcpy(out.data(), p, n * sizeof(double));
                return;
            case dtype::f32:
                for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<float>(p, i);
                return;
            case dtype::f16:
                for (std::size_t i = 0; i < n; ++i) out[i] = to_float(detail::load_le<f16>(p, i));
                return;
            case dtype::bf16:
                for (std::size_t i = 0; i < n; ++i) out[i] = to_float(detail::load_le<bf16>(p, i));
                return;
            default: fail_dtype("to_f64", "F64, F32, F16 or BF16");
        }
    }
    // to_i64: every integer dtype and BOOL (any nonzero byte is 1), exactly.
    void to_i64(std::span<std::int64_t> out) const {
        check_count(out.size(), "to_i64");
        const std::byte* p = bytes_.data();
        const std::size_t n = info_->numel;
        switch (info_->type) {
            case dtype::i64:
                if (n) std::memcpy(out.data(), p, n * sizeof(std::int64_t));
                return;
            case dtype::i32:
                for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::int32_t>(p, i);
                return;
            case dtype::i16:
                for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::int16_t>(p, i);
                return;
            case dtype::i8:
                for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::int8_t>(p, i);
                return;
            case dtype::u8:
                for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::uint8_t>(p, i);
                return;
            case dtype::boolean:
                for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::uint8_t>(p, i) != 0;
                return;
            default: fail_dtype("to_i64", "I64, I32, I16, I8, U8 or BOOL");
        }
    }

    std::vector<float> to_f32() const { return read_vector<float>(&tensor_ref::to_f32); }
    std::vector<double> to_f64() const { return read_vector<double>(&tensor_ref::to_f64); }
    std::vector<std::int64_t> to_i64() const { return read_vector<std::int64_t>(&tensor_ref::to_i64); }

    // As an xtensor of rank N (shape_error when the stored rank differs).
    template <std::size_t N>
    xt::xtensor<float, N> to_f32() const { return read_xtensor<float, N>(&tensor_ref::to_f32, "to_f32"); }
    template <std::size_t N>
    xt::xtensor<double, N> to_f64() const { return read_xtensor<double, N>(&tensor_ref::to_f64, "to_f64"); }
    template <std::size_t N>
    xt::xtensor<std::int64_t, N> to_i64() const {
        return read_xtensor<std::int64_t, N>(&tensor_ref::to_i64, "to_i64");
    }

    // shape_error unless the stored shape is exactly `expected` (what a model loader checks
    // before using a weight).
    void expect_shape(std::span<const std::size_t> expected) const {
        if (!std::ranges::equal(expected, info_->shape))
            ddiff::detail::fail<shape_error>(source_, ": tensor ", detail::quote_str(info_->name), " has shape ",
                                             detail::shape_string(info_->shape), ", expected ",
                                             detail::shape_string(expected));
    }
    void expect_shape(std::initializer_list<std::size_t> expected) const {
        expect_shape(std::span<const std::size_t>(expected.begin(), expected.size()));
    }

private:
    [[noreturn]] void fail_dtype(const char* fn, std::string_view wanted, std::string_view hint = {}) const {
        ddiff::detail::fail<format_error>(source_, ": tensor ", detail::quote_str(info_->name), " has dtype ",
                                          dtype_name(info_->type), ", expected ", wanted, " for ", fn, "()", hint);
    }
    void check_count(std::size_t n, const char* fn) const {
        if (n != info_->numel)
            ddiff::detail::fail<shape_error>(source_, ": tensor ", detail::quote_str(info_->name), " has ",
                                             info_->numel, " elements (shape ", detail::shape_string(info_->shape),
                                             "), but ", fn, "() was given a buffer of ", n);
    }
    template <class T>
    std::vector<T> read_vector(void (tensor_ref::*read)(std::span<T>) const) const {
        std::vector<T> out(info_->numel);
        (this->*read)(out);
        return out;
    }
    template <class T, std::size_t N>
    xt::xtensor<T, N> read_xtensor(void (tensor_ref::*read)(std::span<T>) const, const char* fn) const {
        if (info_->shape.size() != N)
            ddiff::detail::fail<shape_error>(source_, ": tensor ", detail::quote_str(info_->name), " has rank ",
                                             info_->shape.size(), " (shape ", detail::shape_string(info_->shape),
                                             "), expected rank ", N, " for ", fn, "<", N, ">()");
        std::array<std::size_t, N> shape{};
        std::copy(info_->shape.begin(), info_->shape.end(), shape.begin());
        auto out = xt::xtensor<T, N>::from_shape(shape);
        (this->*read)(std::span<T>(out.data(), out.size()));
        return out;
    }

    const tensor_info* info_;
    std::span<const std::byte> bytes_;
    std::string_view source_;
};

// The by-name accessors shared by safetensors_file and checkpoint (CRTP over
// `tensor_ref Derived::tensor(std::string_view) const`).
template <class Derived>
class tensor_access {
public:
    const tensor_info& info(std::string_view name) const { return self().tensor(name).info(); }
    std::span<const std::byte> bytes(std::string_view name) const { return self().tensor(name).bytes(); }

    template <storable T>
    tensor_view<T> view(std::string_view name) const { return self().tensor(name).template view<T>(); }

    std::vector<float> to_f32(std::string_view name) const { return self().tensor(name).to_f32(); }
    void to_f32(std::string_view name, std::span<float> out) const { self().tensor(name).to_f32(out); }
    template <std::size_t N>
    xt::xtensor<float, N> to_f32(std::string_view name) const { return self().tensor(name).template to_f32<N>(); }

    std::vector<double> to_f64(std::string_view name) const { return self().tensor(name).to_f64(); }
    void to_f64(std::string_view name, std::span<double> out) const { self().tensor(name).to_f64(out); }
    template <std::size_t N>
    xt::xtensor<double, N> to_f64(std::string_view name) const { return self().tensor(name).template to_f64<N>(); }

    std::vector<std::int64_t> to_i64(std::string_view name) const { return self().tensor(name).to_i64(); }
    void to_i64(std::string_view name, std::span<std::int64_t> out) const { self().tensor(name).to_i64(out); }
    template <std::size_t N>
    xt::xtensor<std::int64_t, N> to_i64(std::string_view name) const {
        return self().tensor(name).template to_i64<N>();
    }

private:
    const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
};

namespace detail {

struct safetensors_state {
    std::string source;               // file name (or label) used in every message
    mapped_file mapping;              // empty when parsed from caller-owned bytes
    std::span<const std::byte> file;  // the whole file
    std::span<const std::byte> data;  // the data buffer, file[8 + N, end)
    std::uint64_t header_length = 0;  // N
    std::vector<tensor_info> tensors; // sorted by name
    metadata_map metadata;
};

inline tensor_info parse_tensor_entry(const std::string& name, const nlohmann::json& entry,
                                      std::size_t data_size, const std::string& source) {
    using ddiff::detail::fail;
    const std::string where = source + ": tensor " + quote_str(name);
    if (!entry.is_object())
        fail<format_error>(where, " is ", describe(entry), ", expected an object with keys dtype, shape, data_offsets");
    for (const auto& [key, value] : entry.items())
        if (key != "dtype" && key != "shape" && key != "data_offsets")
            fail<format_error>(where, ": unexpected key ", quote_str(key), ", expected only dtype, shape and data_offsets");
    const auto field = [&](const char* key) -> const nlohmann::json& {
        const auto it = entry.find(key);
        if (it == entry.end()) fail<format_error>(where, ": missing key \"", key, "\"");
        return *it;
    };

    tensor_info t;
    t.name = name;

    const auto& dt = field("dtype");
    if (!dt.is_string()) fail<format_error>(where, ": dtype is ", describe(dt), ", expected a string such as \"F32\"");
    const auto parsed = parse_dtype(dt.get_ref<const std::string&>());
    if (!parsed)
        fail<format_error>(where, ": unknown dtype ", quote_str(dt.get_ref<const std::string&>()),
                           ", expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL");
    t.type = *parsed;

    const auto& shape = field("shape");
    if (!shape.is_array()) fail<format_error>(where, ": shape is ", describe(shape), ", expected an array of integers");
    t.shape.reserve(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const auto d = as_u64(shape[i]);
        if (!d) fail<format_error>(where, ": shape[", i, "] is ", describe(shape[i]), ", expected a non-negative integer");
        t.shape.push_back(*d);
    }
    const auto numel = checked_numel(t.shape);
    if (!numel) fail<format_error>(where, ": shape ", shape_string(t.shape), " has more than 2^64 elements");
    t.numel = *numel;

    const auto& offsets = field("data_offsets");
    const auto bad_offsets = [&] {
        fail<format_error>(where, ": data_offsets is ", describe(offsets),
                           ", expected [begin, end] with two non-negative integers");
    };
    if (!offsets.is_array() || offsets.size() != 2) bad_offsets();
    const auto begin = as_u64(offsets[0]);
    const auto end = as_u64(offsets[1]);
    if (!begin || !end) bad_offsets();
    t.begin = *begin;
    t.end = *end;
    const std::string range = shape_string(std::array<std::size_t, 2>{t.begin, t.end});  // "[b, e]"
    if (t.end < t.begin) fail<format_error>(where, ": data_offsets ", range, " has end < begin, expected begin <= end");

    std::uint64_t nbytes = 0;
    if (__builtin_mul_overflow(t.numel, dtype_size(t.type), &nbytes))
        fail<format_error>(where, ": shape ", shape_string(t.shape), " x ", dtype_name(t.type),
                           " needs more than 2^64 bytes");
    if (t.end - t.begin != nbytes)
        fail<format_error>(where, ": data_offsets ", range, " hold ", t.end - t.begin, " bytes, but shape ",
                           shape_string(t.shape), " x ", dtype_name(t.type), " (", dtype_size(t.type),
                           " bytes each) needs ", nbytes, " (size mismatch)");
    if (t.end > data_size)
        fail<format_error>(where, ": data_offsets ", range, " out of bounds, expected end <= ", data_size,
                           " (the data buffer size)");
    return t;
}

// Validates the whole file in s.file and fills the rest of s. Throws format_error.
inline void parse_safetensors(safetensors_state& s) {
    using ddiff::detail::fail;
    const std::span<const std::byte> file = s.file;
    const std::string& src = s.source;

    if (file.size() < 8)
        fail<format_error>(src, ": file is ", file.size(), " bytes, expected at least 8 (the u64 header length)");
    std::uint64_t n = 0;
    std::memcpy(&n, file.data(), 8);  // little-endian on disk and (static_assert above) in memory
    if (n > max_header_bytes)
        fail<format_error>(src, ": header length ", n, " exceeds the limit of ", max_header_bytes, " bytes");
    if (n > file.size() - 8)
        fail<format_error>(src, ": header length ", n, " goes beyond the end of the file (", file.size(),
                           " bytes, so at most ", file.size() - 8, " header bytes)");
    if (n < 2) fail<format_error>(src, ": header length ", n, ", expected at least 2 (the smallest header is {})");
    const std::string_view text(reinterpret_cast<const char*>(file.data()) + 8, n);
    if (text.front() != '{')
        fail<format_error>(src, ": header starts with byte ", static_cast<int>(static_cast<unsigned char>(text.front())),
                           ", expected '{' (123): the README requires the JSON object to start the header");

    // Depth 3 is all a valid header needs: the top object, an entry or __metadata__, a shape
    // or data_offsets array.
    const nlohmann::json header = parse_json_strict(text, src + ": header", 3);
    if (!header.is_object()) fail<format_error>(src, ": header is ", describe(header), ", expected a JSON object");

    s.header_length = n;
    s.data = file.subspan(8 + n);
    const std::size_t data_size = s.data.size();

    s.tensors.reserve(header.size());
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__") {
            if (!value.is_object())
                fail<format_error>(src, ": __metadata__ is ", describe(value), ", expected an object of strings");
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string())
                    fail<format_error>(src, ": __metadata__ value for ", quote_str(mk), " is ", describe(mv),
                                       ", expected a string (metadata is string -> string)");
                s.metadata.emplace(mk, mv.get<std::string>());
            }
            continue;
        }
        s.tensors.push_back(parse_tensor_entry(key, value, data_size, src));
    }

    // Byte ranges in buffer order must tile [0, data_size) exactly: no overlap (two tensors
    // sharing bytes), no hole and no trailing bytes (README: "entirely indexed").
    std::vector<const tensor_info*> by_offset;
    by_offset.reserve(s.tensors.size());
    for (const auto& t : s.tensors) by_offset.push_back(&t);
    std::ranges::sort(by_offset, [](const tensor_info* a, const tensor_info* b) {
        return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
    });
    std::size_t covered = 0;
    const tensor_info* previous = nullptr;
    for (const tensor_info* t : by_offset) {
        if (t->begin < covered)
            fail<format_error>(src, ": tensors ", quote_str(previous->name), " [", previous->begin, ", ", previous->end,
                               ") and ", quote_str(t->name), " [", t->begin, ", ", t->end,
                               ") overlap in the data buffer, expected disjoint byte ranges");
        if (t->begin > covered)
            fail<format_error>(src, ": bytes [", covered, ", ", t->begin, ") of the data buffer before tensor ",
                               quote_str(t->name), " belong to no tensor, expected a buffer without holes");
        covered = t->end;
        previous = t;
    }
    if (covered != data_size)
        fail<format_error>(src, ": the data buffer has ", data_size, " bytes but the tensors cover ", covered,
                           ", expected no trailing bytes");

    std::ranges::sort(s.tensors, {}, &tensor_info::name);
}

}  // namespace detail

// One safetensors file: the header fully validated at construction, the data read in place.
// Copies share the same mapping (the state is reference counted and never moves, so tensor_refs
// and zero-copy views stay valid while any copy lives).
class safetensors_file : public tensor_access<safetensors_file> {
public:
    // Memory-maps `path` read-only. io_error if it cannot be opened or mapped, format_error if
    // anything in it is invalid.
    static safetensors_file open(const std::filesystem::path& path) {
        auto s = std::make_shared<detail::safetensors_state>();
        s->source = path.string();
        s->mapping = mapped_file(path);
        s->file = s->mapping.bytes();
        detail::parse_safetensors(*s);
        return safetensors_file(std::move(s));
    }

    // Parses caller-owned bytes (the fuzzing and test entry point). Nothing is copied: the
    // bytes must outlive the returned object. `source` names the bytes in error messages.
    static safetensors_file parse(std::span<const std::byte> bytes, std::string source = "<memory>") {
        auto s = std::make_shared<detail::safetensors_state>();
        s->source = std::move(source);
        s->file = bytes;
        detail::parse_safetensors(*s);
        return safetensors_file(std::move(s));
    }

    const std::string& source() const noexcept { return state_->source; }
    std::size_t size() const noexcept { return state_->tensors.size(); }
    // Every tensor, sorted by name.
    std::span<const tensor_info> tensors() const noexcept { return state_->tensors; }
    std::vector<std::string_view> names() const {
        std::vector<std::string_view> out;
        out.reserve(state_->tensors.size());
        for (const auto& t : state_->tensors) out.emplace_back(t.name);
        return out;
    }
    const metadata_map& metadata() const noexcept { return state_->metadata; }
    // 8 + N: where the data buffer starts in the file.
    std::size_t data_offset() const noexcept { return 8 + state_->header_length; }

    // Binary search over the sorted names: no allocation.
    const tensor_info* find(std::string_view name) const noexcept {
        const auto& ts = state_->tensors;
        const auto it = std::ranges::lower_bound(ts, name, {}, [](const tensor_info& t) { return std::string_view(t.name); });
        return it != ts.end() && it->name == name ? &*it : nullptr;
    }
    bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

    // format_error naming the file and the tensor when there is no such tensor.
    tensor_ref tensor(std::string_view name) const {
        const tensor_info* t = find(name);
        if (!t)
            ddiff::detail::fail<format_error>(state_->source, ": no tensor ", detail::quote_str(name), " (the file has ",
                                              state_->tensors.size(), " tensors)");
        return tensor(*t);
    }
    // The tensor described by `t`, which must be one of tensors().
    tensor_ref tensor(const tensor_info& t) const noexcept {
        return tensor_ref(t, state_->data.subspan(t.begin, t.end - t.begin), state_->source);
    }

    // True when the bytes are a memory mapping of the file (open), false for parse().
    bool mapped() const noexcept { return state_->mapping.size() != 0; }
    // Releases the resident pages of a tensor of this file (mapped_file::release); a no-op for
    // parsed caller-owned bytes and for tensors of other files.
    void release(const tensor_ref& t) const noexcept { state_->mapping.release(t.bytes()); }

private:
    explicit safetensors_file(std::shared_ptr<const detail::safetensors_state> s) : state_(std::move(s)) {}
    std::shared_ptr<const detail::safetensors_state> state_;
};

}  // namespace ddiff::io
