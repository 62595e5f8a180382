// Memory-mapped GGUF reader (versions 2 and 3) that validates the whole file before any tensor
// is used, with typed metadata access and tensor reads (dequantisation bit for bit as gguf-py's).
//
// Format (llama.cpp docs/gguf.md; ggml/src/gguf.cpp gguf_init_from_file_impl is the reference
// parser, llama.cpp commit c392e5094deaf2d1a7c18683214f007fad3fe42b). Little-endian:
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count
//   kv:      string key, u32 value_type, value        (string = u64 length + bytes, no NUL)
//            ARRAY value = u32 element type, u64 count, elements (arrays of arrays: rejected,
//            as llama.cpp does)
//   tensor:  string name, u32 n_dims (<= 4), u64 ne[n_dims] (ne[0] fastest), u32 ggml type,
//            u64 offset (relative to the data section)
//   padding to general.alignment (u32, a power of two, default 32), then the data section.
// Checks, each a format_error naming the file, the item and what was expected: magic, version
// (1 and big-endian files are refused by name), counts against the bytes that remain (a lying
// count cannot allocate), every string and array length, value types, bool values 0/1,
// duplicate keys and tensor names, tensor name length (< 64, GGML_MAX_NAME), dimensions and
// element counts (overflow-safe), known tensor types and whole blocks per row, and the tensor
// offsets: each must be where llama.cpp's writer puts it (the padded running sum in file order:
// aligned, no overlap, no hole) and end inside the file, with no bytes after the padded end.
// A known ggml type that ddiff does not decode (Q4_1, IQ2_XS, ...) parses, and reading such a
// tensor is a format_error naming its type.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/io/mapped_file.hpp"
#include "ddiff/simd/quant/blocks.hpp"

namespace ddiff::io {

static_assert(std::endian::native == std::endian::little, "ddiff/io/gguf.hpp reads little-endian GGUF in place");

using simd::quant::ggml_type;

enum class gguf_value_type : std::uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
    u64 = 10, i64 = 11, f64 = 12,
};

constexpr std::string_view gguf_type_name(gguf_value_type t) noexcept {
    switch (t) {
        case gguf_value_type::u8: return "UINT8";
        case gguf_value_type::i8: return "INT8";
        case gguf_value_type::u16: return "UINT16";
        case gguf_value_type::i16: return "INT16";
        case gguf_value_type::u32: return "UINT32";
        case gguf_value_type::i32: return "INT32";
        case gguf_value_type::f32: return "FLOAT32";
        case gguf_value_type::boolean: return "BOOL";
        case gguf_value_type::string: return "STRING";
        case gguf_value_type::array: return "ARRAY";
        case gguf_value_type::u64: return "UINT64";
        case gguf_value_type::i64: return "INT64";
        case gguf_value_type::f64: return "FLOAT64";
    }
    return "?";
}

// Bytes of one fixed-size value; 0 for STRING and ARRAY.
constexpr std::size_t gguf_type_size(gguf_value_type t) noexcept {
    switch (t) {
        case gguf_value_type::u8: case gguf_value_type::i8: case gguf_value_type::boolean: return 1;
        case gguf_value_type::u16: case gguf_value_type::i16: return 2;
        case gguf_value_type::u32: case gguf_value_type::i32: case gguf_value_type::f32: return 4;
        case gguf_value_type::u64: case gguf_value_type::i64: case gguf_value_type::f64: return 8;
        default: return 0;
    }
}

inline constexpr std::size_t gguf_default_alignment = 32;  // GGUF_DEFAULT_ALIGNMENT
inline constexpr std::size_t gguf_max_name = 64;           // GGML_MAX_NAME (names are shorter)
inline constexpr std::size_t gguf_max_dims = 4;            // GGML_MAX_DIMS

// One metadata value, viewing the file's bytes. Scalars: `scalar` holds the little-endian bytes
// (read with the accessors of gguf_file); STRING: `text`; ARRAY: `element`, `count`, and either
// `raw` (fixed-size elements) or `strings`.
struct gguf_value {
    gguf_value_type type = gguf_value_type::u8;
    std::uint64_t scalar = 0;              // bits of a fixed-size scalar, zero-extended
    std::string_view text;                 // STRING
    gguf_value_type element = gguf_value_type::u8;  // ARRAY
    std::uint64_t count = 0;                        // ARRAY
    std::span<const std::byte> raw;                 // ARRAY of fixed-size elements
    std::vector<std::string_view> strings;          // ARRAY of STRING
};

struct gguf_kv {
    std::string_view key;
    gguf_value value;
};

struct gguf_tensor_info {
    std::string name;
    ggml_type type = ggml_type::f32;
    std::vector<std::uint64_t> ne;  // GGUF order: ne[0] is the fastest-varying (row length)
    std::size_t offset = 0;         // bytes from the start of the data section
    std::size_t nbytes = 0;
    std::size_t numel = 1;

    std::string_view type_name() const noexcept { return simd::quant::traits(std::uint32_t(type))->name; }
    // Row-major shape, outermost first (PyTorch's order: a [out, in] weight has ne = [in, out]).
    std::vector<std::size_t> shape() const { return {ne.rbegin(), ne.rend()}; }
    std::size_t row_length() const noexcept { return ne.empty() ? 1 : ne[0]; }
    std::size_t rows() const noexcept { return row_length() ? numel / row_length() : 0; }
};

namespace detail {

inline std::string gguf_quote(std::string_view s, std::size_t max = 80) {
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    if (s.size() > max) out += "...";
    return out + "'";
}

inline std::string shape_of(std::span<const std::uint64_t> ne) {
    std::string s = "[";
    for (std::size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

struct gguf_state {
    std::string source;
    mapped_file mapping;
    std::span<const std::byte> file;
    std::uint32_t version = 0;
    std::size_t alignment = gguf_default_alignment;
    std::size_t data_offset = 0;
    std::vector<gguf_kv> kv;                 // file order
    std::vector<std::uint32_t> kv_sorted;    // indices of kv sorted by key
    std::vector<gguf_tensor_info> tensors;   // file order
    std::vector<std::uint32_t> tensor_sorted;
};

class gguf_cursor {
public:
    gguf_cursor(std::span<const std::byte> f, const std::string& src) : f_(f), src_(src) {}
    std::size_t pos() const noexcept { return pos_; }
    std::size_t remaining() const noexcept { return f_.size() - pos_; }

    template <class T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, f_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::span<const std::byte> bytes(std::size_t n, const std::string& what) {
        need(n, what);
        auto s = f_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    std::string_view string(const std::string& what) {
        const auto n = read<std::uint64_t>(what + " length");
        if (n > remaining())
            ddiff::detail::fail<format_error>(src_, ": ", what, " has length ", n, " at byte ", pos_ - 8,
                                              ", but only ", remaining(), " bytes remain in the file");
        const auto s = bytes(static_cast<std::size_t>(n), what);
        return {reinterpret_cast<const char*>(s.data()), s.size()};
    }
    void need(std::size_t n, const std::string& what) const {
        if (n > remaining())
            ddiff::detail::fail<format_error>(src_, ": truncated at byte ", pos_, " while reading ", what, " (needs ", n,
                                              " bytes, ", remaining(), " remain)");
    }

private:
    std::span<const std::byte> f_;
    const std::string& src_;
    std::size_t pos_ = 0;
};

inline void parse_value(gguf_cursor& c, gguf_value& v, const std::string& what, const std::string& src) {
    using ddiff::detail::fail;
    auto check_bool = [&](std::uint8_t b, const std::string& where) {
        if (b > 1) fail<format_error>(src, ": ", where, " is a BOOL with byte value ", int(b), ", expected 0 or 1");
    };
    switch (v.type) {
        case gguf_value_type::string: v.text = c.string(what); return;
        case gguf_value_type::array: {
            const auto et = c.read<std::uint32_t>(what + " element type");
            if (et > 12) fail<format_error>(src, ": ", what, " is an array of unknown value type ", et, ", expected 0..12");
            v.element = static_cast<gguf_value_type>(et);
            if (v.element == gguf_value_type::array)
                fail<format_error>(src, ": ", what, " is an array of arrays, which GGUF readers (llama.cpp) do not accept");
            v.count = c.read<std::uint64_t>(what + " element count");
            if (v.element == gguf_value_type::string) {
                if (v.count > c.remaining() / 8)
                    fail<format_error>(src, ": ", what, " claims ", v.count, " strings, but only ", c.remaining(),
                                       " bytes remain (8 bytes at least per string)");
                v.strings.reserve(static_cast<std::size_t>(v.count));
                for (std::uint64_t i = 0; i < v.count; ++i) v.strings.push_back(c.string(what + "[" + std::to_string(i) + "]"));
                return;
            }
            const std::size_t es = gguf_type_size(v.element);
            if (v.count > c.remaining() / es)
                fail<format_error>(src, ": ", what, " claims ", v.count, " elements of ", gguf_type_name(v.element),
                                   " (", es, " bytes each), but only ", c.remaining(), " bytes remain");
            v.raw = c.bytes(static_cast<std::size_t>(v.count) * es, what);
            if (v.element == gguf_value_type::boolean)
                for (std::size_t i = 0; i < v.raw.size(); ++i)
                    check_bool(std::to_integer<std::uint8_t>(v.raw[i]), what + "[" + std::to_string(i) + "]");
            return;
        }
        default: {
            const std::size_t n = gguf_type_size(v.type);
            const auto b = c.bytes(n, what);
            std::memcpy(&v.scalar, b.data(), n);
            if (v.type == gguf_value_type::boolean) check_bool(static_cast<std::uint8_t>(v.scalar), what);
            return;
        }
    }
}

inline void parse_gguf(gguf_state& s) {
    using ddiff::detail::fail;
    const std::string& src = s.source;
    gguf_cursor c(s.file, src);
    if (s.file.size() < 4 || std::memcmp(s.file.data(), "GGUF", 4) != 0) {
        std::string_view head(reinterpret_cast<const char*>(s.file.data()), std::min<std::size_t>(4, s.file.size()));
        fail<format_error>(src, ": magic ", gguf_quote(head), ", expected 'GGUF' (not a GGUF file)");
    }
    (void)c.read<std::uint32_t>("magic");
    const auto version = c.read<std::uint32_t>("version");
    if (version == 1) fail<format_error>(src, ": GGUF version 1 is not supported, expected version 2 or 3");
    if ((version & 0xffffu) == 0 && (version >> 16) != 0)
        fail<format_error>(src, ": version field ", version, " reads as a byte-swapped ", __builtin_bswap32(version),
                           ": a big-endian GGUF file, expected little-endian");
    if (version != 2 && version != 3) fail<format_error>(src, ": GGUF version ", version, ", expected 2 or 3");
    s.version = version;
    const auto n_tensors = c.read<std::uint64_t>("tensor count");
    const auto n_kv = c.read<std::uint64_t>("metadata key-value count");
    // The smallest key-value pair is 13 bytes (empty key, type, one byte); the smallest tensor
    // info 24 (empty name, n_dims 0, type, offset): more than fit is a lying count.
    if (n_kv > c.remaining() / 13)
        fail<format_error>(src, ": metadata key-value count ", n_kv, " cannot fit in the ", c.remaining(),
                           " bytes that remain (13 bytes at least per pair)");
    s.kv.resize(static_cast<std::size_t>(n_kv));
    for (std::size_t i = 0; i < s.kv.size(); ++i) {
        auto& kv = s.kv[i];
        kv.key = c.string("key of metadata pair " + std::to_string(i));
        const std::string what = "metadata " + gguf_quote(kv.key);
        const auto t = c.read<std::uint32_t>(what + " value type");
        if (t > 12) fail<format_error>(src, ": ", what, " has unknown value type ", t, ", expected 0..12");
        kv.value.type = static_cast<gguf_value_type>(t);
        parse_value(c, kv.value, what, src);
    }
    s.kv_sorted.resize(s.kv.size());
    for (std::uint32_t i = 0; i < s.kv_sorted.size(); ++i) s.kv_sorted[i] = i;
    std::ranges::stable_sort(s.kv_sorted, {}, [&](std::uint32_t i) { return s.kv[i].key; });
    for (std::size_t i = 1; i < s.kv_sorted.size(); ++i)
        if (s.kv[s.kv_sorted[i]].key == s.kv[s.kv_sorted[i - 1]].key)
            fail<format_error>(src, ": duplicate metadata key ", gguf_quote(s.kv[s.kv_sorted[i]].key), " (pairs ",
                               s.kv_sorted[i - 1], " and ", s.kv_sorted[i], "), expected each key once");

    // general.alignment: UINT32, a power of two (llama.cpp reads it with gguf_get_val_u32).
    {
        const auto it = std::ranges::lower_bound(s.kv_sorted, std::string_view("general.alignment"), {},
                                                 [&](std::uint32_t i) { return s.kv[i].key; });
        if (it != s.kv_sorted.end() && s.kv[*it].key == "general.alignment") {
            const auto& v = s.kv[*it].value;
            if (v.type != gguf_value_type::u32)
                fail<format_error>(src, ": general.alignment has type ", gguf_type_name(v.type), ", expected UINT32");
            const auto a = static_cast<std::uint32_t>(v.scalar);
            if (a == 0 || (a & (a - 1)) != 0)
                fail<format_error>(src, ": general.alignment = ", a, ", expected a power of two");
            s.alignment = a;
        }
    }

    if (n_tensors > c.remaining() / 24)
        fail<format_error>(src, ": tensor count ", n_tensors, " cannot fit in the ", c.remaining(),
                           " bytes that remain (24 bytes at least per tensor info)");
    s.tensors.resize(static_cast<std::size_t>(n_tensors));
    for (std::size_t i = 0; i < s.tensors.size(); ++i) {
        auto& t = s.tensors[i];
        const auto name = c.string("name of tensor " + std::to_string(i));
        t.name = std::string(name);
        const std::string what = "tensor " + gguf_quote(name);
        if (name.size() >= gguf_max_name)
            fail<format_error>(src, ": ", what, " has a name of ", name.size(), " bytes, expected fewer than ",
                               gguf_max_name, " (GGML_MAX_NAME)");
        const auto n_dims = c.read<std::uint32_t>(what + " dimension count");
        if (n_dims > gguf_max_dims)
            fail<format_error>(src, ": ", what, " has ", n_dims, " dimensions, expected at most ", gguf_max_dims);
        t.ne.resize(n_dims);
        for (auto& d : t.ne) {
            d = c.read<std::uint64_t>(what + " dimensions");
            if (d > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
                fail<format_error>(src, ": ", what, " has dimension ", d, ", expected at most 2^63 - 1");
        }
        std::size_t numel = 1;
        bool zero = false;
        for (auto d : t.ne) zero = zero || d == 0;
        if (!zero)
            for (auto d : t.ne)
                if (__builtin_mul_overflow(numel, std::size_t(d), &numel) ||
                    numel > std::size_t(std::numeric_limits<std::int64_t>::max()))
                    fail<format_error>(src, ": ", what, " has shape ", shape_of(t.ne), ", more than 2^63 - 1 elements");
        t.numel = zero ? 0 : numel;
        const auto type_id = c.read<std::uint32_t>(what + " type");
        const auto tr = simd::quant::traits(type_id);
        if (!tr) fail<format_error>(src, ": ", what, " has unknown ggml type ", type_id, " (no ggml type has this id)");
        t.type = static_cast<ggml_type>(type_id);
        if (t.row_length() % tr->block != 0)
            fail<format_error>(src, ": ", what, " of type ", tr->name, " has rows of ", t.row_length(),
                               " elements, expected a multiple of the block size ", tr->block);
        t.nbytes = t.numel / tr->block * tr->bytes;  // <= numel * 8: no overflow
        t.offset = c.read<std::uint64_t>(what + " offset");
    }
    s.tensor_sorted.resize(s.tensors.size());
    for (std::uint32_t i = 0; i < s.tensor_sorted.size(); ++i) s.tensor_sorted[i] = i;
    std::ranges::stable_sort(s.tensor_sorted, {}, [&](std::uint32_t i) { return std::string_view(s.tensors[i].name); });
    for (std::size_t i = 1; i < s.tensor_sorted.size(); ++i)
        if (s.tensors[s.tensor_sorted[i]].name == s.tensors[s.tensor_sorted[i - 1]].name)
            fail<format_error>(src, ": duplicate tensor name ", gguf_quote(s.tensors[s.tensor_sorted[i]].name),
                               " (tensors ", s.tensor_sorted[i - 1], " and ", s.tensor_sorted[i], ")");

    // The data section starts at the next multiple of the alignment; each tensor sits at the
    // padded running sum of the sizes before it (ggml/src/gguf.cpp: "tensor has offset ..., expected").
    const std::size_t a = s.alignment;
    const auto pad = [a](std::size_t x) { return x + (a - x % a) % a; };
    s.data_offset = pad(c.pos());
    std::size_t expected = 0, end = 0;
    for (std::size_t i = 0; i < s.tensors.size(); ++i) {
        const auto& t = s.tensors[i];
        const std::string what = "tensor " + gguf_quote(t.name);
        if (t.offset % a != 0)
            fail<format_error>(src, ": ", what, " has offset ", t.offset, ", not a multiple of the alignment ", a);
        if (t.offset < expected)
            fail<format_error>(src, ": ", what, " has offset ", t.offset, ", which overlaps tensor ",
                               gguf_quote(s.tensors[i - 1].name), " (data bytes [", s.tensors[i - 1].offset, ", ",
                               s.tensors[i - 1].offset + s.tensors[i - 1].nbytes, ")); expected offset ", expected);
        if (t.offset > expected)
            fail<format_error>(src, ": ", what, " has offset ", t.offset, ", expected ", expected,
                               " (the padded end of the tensor before it: no holes in the data section)");
        end = t.offset + t.nbytes;
        if (s.data_offset > s.file.size() || end > s.file.size() - s.data_offset)
            fail<format_error>(src, ": ", what, " occupies data bytes [", t.offset, ", ", end, ") but the file has ",
                               s.file.size() > s.data_offset ? s.file.size() - s.data_offset : 0,
                               " bytes of data after the header (", s.file.size(), " bytes in all): truncated");
        expected = pad(end);
    }
    if (!s.tensors.empty() && s.file.size() > s.data_offset + expected)
        fail<format_error>(src, ": ", s.file.size() - s.data_offset - expected,
                           " bytes after the padded end of the last tensor, expected none");
}

}  // namespace detail

// A validated tensor of a GGUF file: cheap to copy, valid while the gguf_file lives.
class gguf_tensor_ref {
public:
    gguf_tensor_ref(const gguf_tensor_info& info, std::span<const std::byte> bytes, std::string_view source) noexcept
        : info_(&info), bytes_(bytes), source_(source) {}

    const gguf_tensor_info& info() const noexcept { return *info_; }
    std::string_view name() const noexcept { return info_->name; }
    ggml_type type() const noexcept { return info_->type; }
    std::string_view type_name() const noexcept { return info_->type_name(); }
    std::vector<std::size_t> shape() const { return info_->shape(); }
    std::size_t numel() const noexcept { return info_->numel; }
    std::span<const std::byte> bytes() const noexcept { return bytes_; }
    std::string_view source() const noexcept { return source_; }

    // shape_error unless the row-major shape (outermost first) is exactly `expected`.
    void expect_shape(std::initializer_list<std::size_t> expected) const {
        const auto s = shape();
        if (!std::ranges::equal(s, expected)) {
            std::string want = "[", got = "[";
            std::size_t i = 0;
            for (auto d : expected) want += (i++ ? ", " : "") + std::to_string(d);
            for (i = 0; i < s.size(); ++i) got += (i ? ", " : "") + std::to_string(s[i]);
            ddiff::detail::fail<shape_error>(source_, ": tensor ", detail::gguf_quote(name()), " has shape ", got,
                                             "] (GGUF ne ", detail::shape_of(info_->ne), "), expected ", want, "]");
        }
    }

    // format_error unless ddiff decodes this tensor's type.
    void expect_supported() const {
        if (!simd::quant::traits(std::uint32_t(type()))->supported)
            ddiff::detail::fail<format_error>(source_, ": tensor ", detail::gguf_quote(name()), " has type ", type_name(),
                                              ", which ddiff does not read (supported: F32, F16, BF16, Q8_0, Q4_0, "
                                              "Q4_K, Q5_K, Q6_K)");
    }
    // Bytes of one row (ne[0] elements).
    std::size_t row_bytes() const noexcept {
        const auto tr = simd::quant::traits(std::uint32_t(type()));
        return info_->row_length() / tr->block * tr->bytes;
    }
    // Rows [r0, r1) dequantised into out ((r1 - r0) * row_length floats).
    void dequantize_rows(std::size_t r0, std::size_t r1, float* out) const {
        expect_supported();
        if (r0 > r1 || r1 > info_->rows())
            ddiff::detail::fail<invalid_argument>("gguf: rows [", r0, ", ", r1, ") of tensor ", detail::gguf_quote(name()),
                                                  ", which has ", info_->rows());
        const std::size_t n = info_->row_length(), rb = row_bytes();
        for (std::size_t r = r0; r < r1; ++r)
            simd::quant::dequantize_row(type(), bytes_.data() + r * rb, n, out + (r - r0) * n);
    }
    // Every element as f32 (gguf-py's dequantize bit for bit), row-major.
    std::vector<float> to_f32() const {
        expect_supported();
        std::vector<float> out(numel());
        if (!out.empty()) dequantize_rows(0, info_->rows(), out.data());
        return out;
    }

private:
    const gguf_tensor_info* info_;
    std::span<const std::byte> bytes_;
    std::string_view source_;
};

// One GGUF file: fully validated at construction, read in place. Copies share the mapping.
class gguf_file {
public:
    // io_error if the file cannot be opened or mapped, format_error if anything in it is invalid.
    static gguf_file open(const std::filesystem::path& path) {
        auto s = std::make_shared<detail::gguf_state>();
        s->source = path.string();
        s->mapping = mapped_file(path);
        s->file = s->mapping.bytes();
        detail::parse_gguf(*s);
        return gguf_file(std::move(s));
    }
    // Parses caller-owned bytes (the fuzzing and test entry point); they must outlive the result.
    static gguf_file parse(std::span<const std::byte> bytes, std::string source = "<memory>") {
        auto s = std::make_shared<detail::gguf_state>();
        s->source = std::move(source);
        s->file = bytes;
        detail::parse_gguf(*s);
        return gguf_file(std::move(s));
    }

    const std::string& source() const noexcept { return s_->source; }
    std::uint32_t version() const noexcept { return s_->version; }
    std::size_t alignment() const noexcept { return s_->alignment; }
    std::size_t data_offset() const noexcept { return s_->data_offset; }
    std::size_t file_size() const noexcept { return s_->file.size(); }

    // ---- metadata ----
    std::span<const gguf_kv> metadata() const noexcept { return s_->kv; }
    const gguf_value* find(std::string_view key) const noexcept {
        const auto& k = s_->kv_sorted;
        const auto it = std::ranges::lower_bound(k, key, {}, [&](std::uint32_t i) { return s_->kv[i].key; });
        return it != k.end() && s_->kv[*it].key == key ? &s_->kv[*it].value : nullptr;
    }
    bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

    // A scalar as T: unsigned / signed integers from any integer type whose value fits T, float /
    // double from FLOAT32 / FLOAT64, bool from BOOL, std::string / std::string_view from STRING.
    // format_error naming the key when it is missing, of another type, or out of T's range.
    template <class T>
    T get(std::string_view key) const {
        const gguf_value* v = find(key);
        if (!v) ddiff::detail::fail<format_error>(s_->source, ": missing metadata key ", detail::gguf_quote(key));
        return convert<T>(*v, key);
    }
    template <class T>
    T get(std::string_view key, T fallback) const {
        const gguf_value* v = find(key);
        return v ? convert<T>(*v, key) : fallback;
    }
    // An ARRAY of STRING.
    std::span<const std::string_view> get_strings(std::string_view key) const {
        const gguf_value& v = array_of(key, gguf_value_type::string, "STRING");
        return v.strings;
    }
    // An ARRAY of numbers or bools, each converted as get<T>.
    template <class T>
    std::vector<T> get_array(std::string_view key) const {
        const gguf_value* v = find(key);
        if (!v) ddiff::detail::fail<format_error>(s_->source, ": missing metadata key ", detail::gguf_quote(key));
        if (v->type != gguf_value_type::array || v->element == gguf_value_type::string)
            ddiff::detail::fail<format_error>(s_->source, ": metadata ", detail::gguf_quote(key), " has type ",
                                              type_string(*v), ", expected an ARRAY of numbers");
        std::vector<T> out;
        out.reserve(static_cast<std::size_t>(v->count));
        const std::size_t es = gguf_type_size(v->element);
        for (std::size_t i = 0; i < v->count; ++i) {
            gguf_value e;
            e.type = v->element;
            std::memcpy(&e.scalar, v->raw.data() + i * es, es);
            out.push_back(convert<T>(e, key));
        }
        return out;
    }
    // "UINT32", "ARRAY of STRING", ...
    static std::string type_string(const gguf_value& v) {
        if (v.type != gguf_value_type::array) return std::string(gguf_type_name(v.type));
        return "ARRAY of " + std::string(gguf_type_name(v.element));
    }

    // ---- tensors ----
    std::span<const gguf_tensor_info> tensors() const noexcept { return s_->tensors; }  // file order
    std::size_t size() const noexcept { return s_->tensors.size(); }
    const gguf_tensor_info* find_tensor(std::string_view name) const noexcept {
        const auto& k = s_->tensor_sorted;
        const auto it = std::ranges::lower_bound(k, name, {}, [&](std::uint32_t i) { return std::string_view(s_->tensors[i].name); });
        return it != k.end() && s_->tensors[*it].name == name ? &s_->tensors[*it] : nullptr;
    }
    bool contains_tensor(std::string_view name) const noexcept { return find_tensor(name) != nullptr; }
    gguf_tensor_ref tensor(std::string_view name) const {
        const gguf_tensor_info* t = find_tensor(name);
        if (!t)
            ddiff::detail::fail<format_error>(s_->source, ": no tensor ", detail::gguf_quote(name), " (the file has ",
                                              s_->tensors.size(), " tensors)");
        return tensor(*t);
    }
    gguf_tensor_ref tensor(const gguf_tensor_info& t) const noexcept {
        return gguf_tensor_ref(t, s_->file.subspan(s_->data_offset + t.offset, t.nbytes), s_->source);
    }
    // Drops a tensor's resident pages once it has been packed (mapped_file::release).
    void release(const gguf_tensor_ref& t) const noexcept { s_->mapping.release(t.bytes()); }

private:
    explicit gguf_file(std::shared_ptr<const detail::gguf_state> s) : s_(std::move(s)) {}

    const gguf_value& array_of(std::string_view key, gguf_value_type elem, const char* want) const {
        const gguf_value* v = find(key);
        if (!v) ddiff::detail::fail<format_error>(s_->source, ": missing metadata key ", detail::gguf_quote(key));
        if (v->type != gguf_value_type::array || v->element != elem)
            ddiff::detail::fail<format_error>(s_->source, ": metadata ", detail::gguf_quote(key), " has type ",
                                              type_string(*v), ", expected ARRAY of ", want);
        return *v;
    }

    template <class T>
    T convert(const gguf_value& v, std::string_view key) const {
        using ddiff::detail::fail;
        auto wrong = [&](const char* want) {
            fail<format_error>(s_->source, ": metadata ", detail::gguf_quote(key), " has type ", type_string(v),
                               ", expected ", want);
        };
        if constexpr (std::is_same_v<T, bool>) {
            if (v.type != gguf_value_type::boolean) wrong("BOOL");
            return v.scalar != 0;
        } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
            if (v.type != gguf_value_type::string) wrong("STRING");
            return T(v.text);
        } else if constexpr (std::is_floating_point_v<T>) {
            if (v.type == gguf_value_type::f32) return static_cast<T>(std::bit_cast<float>(static_cast<std::uint32_t>(v.scalar)));
            if (v.type == gguf_value_type::f64) return static_cast<T>(std::bit_cast<double>(v.scalar));
            wrong("FLOAT32 or FLOAT64");
            return T{};
        } else {
            static_assert(std::is_integral_v<T>, "get<T>: T is bool, an integer, float, double or a string");
            bool negative = false;
            std::uint64_t mag = 0;
            switch (v.type) {
                case gguf_value_type::u8: case gguf_value_type::u16: case gguf_value_type::u32: case gguf_value_type::u64:
                    mag = v.scalar;
                    break;
                case gguf_value_type::i8: case gguf_value_type::i16: case gguf_value_type::i32: case gguf_value_type::i64: {
                    const unsigned bits = 8 * unsigned(gguf_type_size(v.type));
                    std::int64_t x = static_cast<std::int64_t>(v.scalar << (64 - bits)) >> (64 - bits);  // sign-extend
                    negative = x < 0;
                    mag = negative ? std::uint64_t(0) - std::uint64_t(x) : std::uint64_t(x);
                    break;
                }
                default: wrong("an integer type"); return T{};
            }
            const bool fits = negative ? (std::is_signed_v<T> && mag <= std::uint64_t(std::numeric_limits<T>::max()) + 1)
                                       : mag <= std::uint64_t(std::numeric_limits<T>::max());
            if (!fits)
                fail<format_error>(s_->source, ": metadata ", detail::gguf_quote(key), " = ", negative ? "-" : "", mag,
                                   " is outside the range of the expected type (", +std::numeric_limits<T>::min(), " .. ",
                                   +std::numeric_limits<T>::max(), ")");
            return negative ? static_cast<T>(0 - static_cast<T>(mag - 1) - 1) : static_cast<T>(mag);
        }
    }

    std::shared_ptr<const detail::gguf_state> s_;
};

}  // namespace ddiff::io
