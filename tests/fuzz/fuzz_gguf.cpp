// libFuzzer target: arbitrary bytes through the GGUF parser, every typed metadata read and every
// tensor read. Parsing may only throw format_error; reads only format_error or shape_error; any
// other exception escapes and aborts, and a crash, leak, hang or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "ddiff/io/gguf.hpp"

using namespace ddiff;
using namespace ddiff::io;

namespace {
template <class F>
void allow_read_errors(F&& f) {
    try {
        f();
    } catch (const format_error&) {
    } catch (const shape_error&) {
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::optional<gguf_file> f;
    try {
        f = gguf_file::parse(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
    } catch (const format_error&) {
        return 0;
    }
    for (const auto& kv : f->metadata()) {
        allow_read_errors([&] { (void)f->get<std::uint64_t>(kv.key); });
        allow_read_errors([&] { (void)f->get<std::int32_t>(kv.key); });
        allow_read_errors([&] { (void)f->get<double>(kv.key); });
        allow_read_errors([&] { (void)f->get<bool>(kv.key); });
        allow_read_errors([&] { (void)f->get<std::string>(kv.key); });
        allow_read_errors([&] { (void)f->get_strings(kv.key); });
        allow_read_errors([&] { (void)f->get_array<std::int64_t>(kv.key); });
        allow_read_errors([&] { (void)f->get_array<float>(kv.key); });
    }
    std::size_t budget = std::size_t{1} << 22;  // dequantise at most 4M elements per input
    for (const auto& t : f->tensors()) {
        const auto ref = f->tensor(t.name);
        if (t.numel > budget) continue;
        budget -= t.numel;
        allow_read_errors([&] { (void)ref.to_f32(); });
        allow_read_errors([&] { ref.expect_shape({t.numel}); });
    }
    return 0;
}
