// libFuzzer target: arbitrary bytes through the safetensors parser and every typed read.
// Parsing may only throw format_error and reads only format_error or shape_error; any other
// exception escapes and aborts, and a crash, leak, hang or sanitizer report is a bug.
// A parsed file must also survive a writer round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "../support/safetensors_writer.hpp"
#include "ddiff/io/safetensors.hpp"

using namespace ddiff;
using namespace ddiff::io;
using ddiff::test::serialize_safetensors;
using ddiff::test::tensor_data;

namespace {

template <class F>
void allow_read_errors(F&& f) {
    try {
        f();
    } catch (const format_error&) {
    } catch (const shape_error&) {
    }
}

template <class T>
float sum(const tensor_view<T>& v) {
    float s = 0;
    for (const T& x : v) {
        if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) s += to_float(x);
        else s += static_cast<float>(x);
    }
    return s;
}

void exercise(const safetensors_file& f) {
    volatile float sink = 0;
    std::vector<float> buffer;
    for (const tensor_info& t : f.tensors()) {
        if (f.find(t.name) != &t) __builtin_trap();  // lookup must find the same entry
        const tensor_ref r = f.tensor(t.name);
        if (r.bytes().size() != t.numel * dtype_size(t.type)) __builtin_trap();
        allow_read_errors([&] {
            buffer.resize(r.numel());
            r.to_f32(buffer);
        });
        allow_read_errors([&] { sink = sink + float(r.to_f64().size()); });
        allow_read_errors([&] { sink = sink + float(r.to_i64().size()); });
        allow_read_errors([&] { sink = sink + float(r.to_f32<2>().size()); });
        allow_read_errors([&] { sink = sink + float(r.to_i64<1>().size()); });
        allow_read_errors([&] { sink = sink + sum(r.view<float>()); });
        allow_read_errors([&] { sink = sink + sum(r.view<bf16>()); });
        allow_read_errors([&] { sink = sink + sum(r.view<f16>()); });
        allow_read_errors([&] { sink = sink + sum(r.view<std::int64_t>()); });
        allow_read_errors([&] { r.expect_shape({2, 3}); });
    }
    allow_read_errors([&] { (void)f.tensor("model.embed_tokens.weight"); });

    // Writer round trip: same names, dtypes, shapes, bytes and metadata.
    std::vector<tensor_data> copy;
    for (const tensor_info& t : f.tensors()) {
        const auto b = f.tensor(t).bytes();
        copy.push_back({t.name, t.type, t.shape, std::vector<std::byte>(b.begin(), b.end())});
    }
    const auto bytes = serialize_safetensors(copy, f.metadata());
    const auto g = safetensors_file::parse(bytes, "round trip");
    if (g.size() != f.size() || g.metadata() != f.metadata()) __builtin_trap();
    for (std::size_t i = 0; i < f.size(); ++i) {
        const auto& a = f.tensors()[i];
        const auto& b = g.tensors()[i];
        if (a.name != b.name || a.type != b.type || a.shape != b.shape) __builtin_trap();
        const auto x = f.tensor(a).bytes();
        const auto y = g.tensor(b).bytes();
        if (!std::equal(x.begin(), x.end(), y.begin(), y.end())) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::optional<safetensors_file> f;
    try {
        f.emplace(safetensors_file::parse(std::as_bytes(std::span(data, size)), "fuzz input"));
    } catch (const format_error&) {
        return 0;
    }
    exercise(*f);
    return 0;
}
