// Tests for io/safetensors.hpp: writer round trip, the committed goldens, typed access, and one
// hand-built corrupt file per validation rule (exception type and a distinctive message part).
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "ddiff/io/safetensors.hpp"
#include "../support/safetensors_writer.hpp"
#include "io_test_util.hpp"

using namespace ddiff;
using namespace ddiff::io;
using test::check_throws;
using test::raw_safetensors;
using test::serialize_safetensors;
using test::tensor_data;
using test::write_safetensors;

namespace {

const std::string data_dir = DDIFF_TEST_DATA;

// One tensor of every dtype, a scalar, an empty tensor.
std::vector<tensor_data> every_dtype() {
    std::vector<tensor_data> t;
    t.push_back(tensor_data::from("f32", {2, 3}, std::vector<float>{1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-40f}));
    t.push_back(tensor_data::from("f64", {3}, std::vector<double>{0.1, -1e300, 5e-324}));
    t.push_back(tensor_data::from("f16", {2, 2}, std::vector<f16>{{0x3c00}, {0x0001}, {0x7c00}, {0xc000}}));
    t.push_back(tensor_data::from("bf16", {4}, std::vector<bf16>{{0x3f80}, {0x0001}, {0xff80}, {0x4049}}));
    t.push_back(tensor_data::from("i64", {2}, std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 42}));
    t.push_back(tensor_data::from("i32", {2}, std::vector<std::int32_t>{-7, 2147483647}));
    t.push_back(tensor_data::from("i16", {1, 2}, std::vector<std::int16_t>{-32768, 12}));
    t.push_back(tensor_data::from("i8", {3}, std::vector<std::int8_t>{-128, 0, 127}));
    t.push_back(tensor_data::from("u8", {3}, std::vector<std::uint8_t>{0, 200, 255}));
    t.push_back(tensor_data{"bool", dtype::boolean, {3}, {std::byte{0}, std::byte{1}, std::byte{2}}});
    t.push_back(tensor_data::from("scalar", {}, std::vector<float>{7.0f}));
    t.push_back(tensor_data::from("empty", {0, 4}, std::vector<float>{}));
    return t;
}

// A valid two-tensor header text: a [2] F32 at [0, 8), b [2] F32 at [8, 16).
std::string entry(std::string_view name, std::string_view dt, std::string_view shape, std::size_t b, std::size_t e) {
    return "\"" + std::string(name) + "\": {\"dtype\": \"" + std::string(dt) + "\", \"shape\": " + std::string(shape) +
           ", \"data_offsets\": [" + std::to_string(b) + ", " + std::to_string(e) + "]}";
}

safetensors_file parse_bytes(const std::vector<std::byte>& bytes) {
    return safetensors_file::parse(bytes, "corrupt.safetensors");
}

}  // namespace

TEST_CASE("writer round trip: every dtype, metadata, scalar and empty tensors, from disk and memory") {
    const auto tensors = every_dtype();
    const metadata_map meta{{"format", "pt"}, {"note", "ünïcode \"quoted\"\n"}};
    test::scratch_dir dir;
    write_safetensors(dir / "rt.safetensors", tensors, meta);

    const auto file = safetensors_file::open(dir / "rt.safetensors");
    const auto bytes = serialize_safetensors(tensors, meta);
    const auto mem = safetensors_file::parse(bytes, "memory");
    for (const safetensors_file* f : {&file, &mem}) {
        CHECK(f->size() == tensors.size());
        CHECK(f->metadata() == meta);
        CHECK(f->data_offset() % 8 == 0);  // the writer pads the header
        for (const auto& t : tensors) {
            INFO(t.name);
            REQUIRE(f->contains(t.name));
            const auto& info = f->info(t.name);
            CHECK(info.type == t.type);
            CHECK(info.shape == t.shape);
            CHECK(info.nbytes() == t.bytes.size());
            const auto b = f->bytes(t.name);
            CHECK(std::equal(b.begin(), b.end(), t.bytes.begin(), t.bytes.end()));
        }
        const auto names = f->names();
        CHECK(std::is_sorted(names.begin(), names.end()));
        CHECK_FALSE(f->contains("F32"));
    }

    // Typed reads, exact.
    const auto v = file.view<float>("f32");
    CHECK(v.zero_copy());
    CHECK(v.size() == 6);
    CHECK(v.rank() == 2);
    CHECK(v[3] == 3.25f);
    CHECK(std::signbit(v[4]));
    CHECK(v[5] == 1e-40f);
    const auto x = file.to_f32<2>("f32");
    CHECK(x.shape()[0] == 2);
    CHECK(x.shape()[1] == 3);
    CHECK(x(1, 0) == 3.25f);
    CHECK(file.to_f64("f64") == std::vector<double>{0.1, -1e300, 5e-324});
    const auto as_f32 = file.to_f32("f64");
    CHECK(as_f32[0] == 0.1f);
    CHECK(std::isinf(as_f32[1]));  // beyond float's range: -inf, IEEE rounding
    CHECK(as_f32[2] == 0.0f);
    CHECK(file.to_f32("f16") == std::vector<float>{1.0f, std::ldexp(1.0f, -24), INFINITY, -2.0f});
    CHECK(file.to_f64("bf16") == std::vector<double>{1.0, std::ldexp(1.0, -133), -INFINITY, 3.140625});
    CHECK(file.to_i64("i64") == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 42});
    CHECK(file.to_i64("i32") == std::vector<std::int64_t>{-7, 2147483647});
    CHECK(file.to_i64("i16") == std::vector<std::int64_t>{-32768, 12});
    CHECK(file.to_i64("i8") == std::vector<std::int64_t>{-128, 0, 127});
    CHECK(file.to_i64("u8") == std::vector<std::int64_t>{0, 200, 255});
    CHECK(file.to_i64("bool") == std::vector<std::int64_t>{0, 1, 1});
    CHECK(file.to_f32<0>("scalar")() == 7.0f);
    CHECK(file.info("empty").numel == 0);
    CHECK(file.to_f32<2>("empty").size() == 0);
    CHECK(file.view<float>("empty").size() == 0);
    CHECK(file.view<bf16>("bf16")[3].bits == 0x4049);

    // Caller buffers: no allocation on the read.
    std::vector<float> out(4);
    file.to_f32("bf16", out);
    CHECK(out[0] == 1.0f);
    std::vector<std::int64_t> ints(3);
    file.to_i64("u8", ints);
    CHECK(ints[1] == 200);
}

TEST_CASE("views of misaligned bytes are copies with the same values") {
    const auto bytes = serialize_safetensors(every_dtype());
    std::vector<std::byte> shifted(bytes.size() + 1);
    std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
    const auto f = safetensors_file::parse(std::span<const std::byte>(shifted).subspan(1), "shifted");
    const auto v = f.view<float>("f32");
    CHECK_FALSE(v.zero_copy());
    CHECK(v[3] == 3.25f);
    const auto copy = v;  // the copy must point at its own buffer
    CHECK(copy.data().data() != v.data().data());
    CHECK(copy[3] == 3.25f);
    const auto d = f.view<double>("f64");
    CHECK(d[0] == 0.1);
}

TEST_CASE("the committed goldens load with the expected contents") {
    SUBCASE("llama_block.safetensors") {
        const auto f = safetensors_file::open(data_dir + "/blocks/llama_block.safetensors");
        CHECK(f.size() == 12);
        CHECK(f.metadata().at("n_kv_heads") == "2");
        CHECK(f.info("k_proj.weight").shape == std::vector<std::size_t>{24, 48});
        CHECK(f.info("output").type == dtype::f64);
        const auto pos = f.to_i64<1>("positions");
        CHECK(pos.size() == 11);
        for (std::size_t i = 0; i < 11; ++i) CHECK(pos(i) == std::int64_t(i + 3));
        const auto in = f.to_f64<2>("input");
        CHECK(in(0, 1) == doctest::Approx(1.0817014).epsilon(1e-7));
        CHECK(f.to_f64<2>("output")(10, 47) == -0.5929428850306038);
        const auto q = f.view<float>("q_proj.weight");
        CHECK(q.zero_copy());
        CHECK(q.size() == 48 * 48);
        CHECK(q[0] == doctest::Approx(-0.07281987).epsilon(1e-6));
        f.tensor("q_proj.weight").expect_shape({48, 48});
        check_throws<shape_error>([&] { f.tensor("q_proj.weight").expect_shape({48, 24}); },
                                  {"llama_block.safetensors", "\"q_proj.weight\"", "has shape [48, 48], expected [48, 24]"});
    }
    SUBCASE("llada_tiny_f32 and llada_tiny_bf16: the bf16 weights are the f32 ones rounded to nearest even") {
        const auto f32 = safetensors_file::open(data_dir + "/models/llada_tiny_f32/model.safetensors");
        const auto b16 = safetensors_file::open(data_dir + "/models/llada_tiny_bf16/model.safetensors");
        CHECK(f32.size() == 21);
        REQUIRE(f32.names() == b16.names());
        CHECK(f32.metadata().at("format") == "pt");
        CHECK(f32.info("model.transformer.wte.weight").shape == std::vector<std::size_t>{97, 64});
        std::size_t checked = 0;
        for (const auto& t : f32.tensors()) {
            INFO(t.name);
            CHECK(t.type == dtype::f32);
            CHECK(b16.info(t.name).type == dtype::bf16);
            CHECK(b16.info(t.name).shape == t.shape);
            const auto w = f32.view<float>(t.name);
            const auto h = b16.view<bf16>(t.name);
            const auto widened = b16.to_f32(t.name);
            for (std::size_t i = 0; i < w.size(); ++i, ++checked) {
                REQUIRE(h[i].bits == to_bf16(w[i]).bits);
                REQUIRE(widened[i] == to_float(h[i]));
            }
        }
        CHECK(checked > 30000);
    }
}

TEST_CASE("wrong dtype, rank, buffer size or name requested: typed errors naming the tensor") {
    const auto bytes = serialize_safetensors(every_dtype());
    const auto f = safetensors_file::parse(bytes, "typed.safetensors");
    check_throws<format_error>([&] { (void)f.view<float>("bf16"); },
                               {"typed.safetensors", "tensor \"bf16\"", "has dtype BF16, expected F32 for view()"});
    check_throws<format_error>([&] { (void)f.view<std::int32_t>("i64"); }, {"\"i64\"", "dtype I64, expected I32"});
    check_throws<format_error>([&] { (void)f.to_f32("i64"); }, {"\"i64\"", "has dtype I64, expected F32, F16, BF16 or F64"});
    check_throws<format_error>([&] { (void)f.to_f64("bool"); }, {"\"bool\"", "has dtype BOOL"});
    check_throws<format_error>([&] { (void)f.to_i64("f32"); }, {"\"f32\"", "has dtype F32, expected I64"});
    check_throws<shape_error>([&] { (void)f.to_f32<1>("f32"); },
                              {"\"f32\"", "has rank 2 (shape [2, 3]), expected rank 1"});
    check_throws<shape_error>([&] { (void)f.to_i64<2>("i8"); }, {"\"i8\"", "expected rank 2"});
    std::vector<float> small(5);
    check_throws<shape_error>([&] { f.to_f32("f32", small); }, {"\"f32\"", "has 6 elements", "buffer of 5"});
    check_throws<format_error>([&] { (void)f.tensor("nope"); }, {"typed.safetensors", "no tensor \"nope\""});
    check_throws<format_error>([&] { (void)f.to_f32("nope"); }, {"no tensor \"nope\""});
}

TEST_CASE("writer rejects inconsistent input") {
    auto t = every_dtype();
    t.push_back(tensor_data::from("f32", {1}, std::vector<float>{1}));
    check_throws<invalid_argument>([&] { (void)serialize_safetensors(t); }, {"\"f32\"", "duplicate name"});
    check_throws<invalid_argument>(
        [] { (void)serialize_safetensors({tensor_data::from("__metadata__", {1}, std::vector<float>{1})}); },
        {"reserved"});
    check_throws<shape_error>([] { (void)serialize_safetensors({tensor_data::from("x", {2, 2}, std::vector<float>{1, 2})}); },
                              {"\"x\"", "needs 16 bytes, got 8"});
    check_throws<invalid_argument>(
        [] { (void)serialize_safetensors({tensor_data::from("bad\xff", {1}, std::vector<float>{1})}); }, {"UTF-8"});
    test::scratch_dir dir;
    check_throws<io_error>([&] { write_safetensors(dir / "no" / "such" / "dir.safetensors", every_dtype()); },
                           {"cannot open", "for writing"});
}

// ---- one corrupt file per validation rule --------------------------------------------------

TEST_CASE("valid hand-built files parse (the base the corrupt cases below modify)") {
    const auto f = parse_bytes(raw_safetensors("{" + entry("a", "F32", "[2]", 0, 8) + ", " + entry("b", "F32", "[2]", 8, 16) + "}", 16));
    CHECK(f.size() == 2);
    CHECK(parse_bytes(raw_safetensors("{}", 0)).size() == 0);
    CHECK(parse_bytes(raw_safetensors("{}      ", 0)).size() == 0);  // space padding is allowed
    // Empty tensors may sit anywhere a zero-length range fits, with huge other dimensions.
    const auto e = parse_bytes(raw_safetensors("{" + entry("a", "F32", "[2]", 0, 8) + ", " +
                                               entry("z", "F64", "[0, 4611686018427387904]", 8, 8) + "}", 8));
    CHECK(e.info("z").numel == 0);
}

TEST_CASE("corrupt: file shorter than the 8-byte header length") {
    check_throws<format_error>([] { parse_bytes(std::vector<std::byte>(5)); },
                               {"corrupt.safetensors", "file is 5 bytes, expected at least 8"});
    test::scratch_dir dir;
    test::write_text(dir / "empty.safetensors", "");
    check_throws<format_error>([&] { (void)safetensors_file::open(dir / "empty.safetensors"); },
                               {"empty.safetensors", "file is 0 bytes"});
}

TEST_CASE("corrupt: header length beyond the file, absurd, or too small") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{}", 0, 3)); },
                               {"header length 3 goes beyond the end of the file (10 bytes"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{}", 0, 0xffffffffffffffffull)); },
                               {"header length 18446744073709551615 exceeds the limit of 100000000"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{}", 0, 1)); }, {"header length 1, expected at least 2"});
}

TEST_CASE("corrupt: header that is not a JSON object") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors("[1, 2]", 0)); }, {"header starts with byte 91, expected '{'"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{\"a\": ", 0)); }, {"corrupt.safetensors: header", "malformed JSON"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{} x", 0)); }, {"malformed JSON"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors(std::string_view("{}\0\0", 4), 0)); }, {"malformed JSON (NUL byte at offset 2"});  // NUL is not padding
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{\"a\xff\": 1}", 0)); }, {"malformed JSON"});  // not UTF-8
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{\"a\": [[[1]]]}", 0)); }, {"nested deeper than 3 levels"});
}

TEST_CASE("corrupt: entry with missing, extra or mistyped keys") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{\"a\": 5}", 0)); },
                               {"tensor \"a\" is an integer 5, expected an object"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors(R"({"a": {"dtype": "F32", "data_offsets": [0, 0]}})", 0)); },
                               {"tensor \"a\": missing key \"shape\""});
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4], "x": 1}})", 4)); },
        {"tensor \"a\": unexpected key \"x\""});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("a", "F32", "2", 0, 8) + "}", 8)); },
                               {"shape is an integer 2, expected an array"});
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors(R"({"a": {"dtype": 3, "shape": [], "data_offsets": [0, 4]}})", 4)); },
        {"dtype is an integer 3, expected a string"});
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}})", 8)); },
        {"data_offsets is an array of 3 element(s), expected [begin, end]"});
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}})", 4)); },
        {"expected [begin, end] with two non-negative integers"});
}

TEST_CASE("corrupt: unknown dtype") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "F33", "[2]", 0, 8) + "}", 8)); },
                               {"tensor \"w\": unknown dtype \"F33\", expected one of F64, F32"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "f32", "[2]", 0, 8) + "}", 8)); },
                               {"unknown dtype \"f32\""});
}

TEST_CASE("corrupt: shape entries negative, fractional or overflowing") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "F32", "[2, -3]", 0, 8) + "}", 8)); },
                               {"shape[1] is an integer -3, expected a non-negative integer"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "F32", "[2.0]", 0, 8) + "}", 8)); },
                               {"shape[0] is a floating-point number 2.0"});
    // 2^32 * 2^32 wraps to 0 in 64 bits: must not pass as an empty tensor.
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors("{" + entry("w", "F32", "[4294967296, 4294967296]", 0, 0) + "}", 0)); },
        {"shape [4294967296, 4294967296] has more than 2^64 elements"});
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors("{" + entry("w", "F64", "[4611686018427387904]", 0, 0) + "}", 0)); },
        {"needs more than 2^64 bytes"});
}

TEST_CASE("corrupt: size not equal to shape x dtype size") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "F32", "[3]", 0, 8) + "}", 8)); },
                               {"tensor \"w\": data_offsets [0, 8] hold 8 bytes, but shape [3] x F32", "needs 12 (size mismatch)"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "BF16", "[2, 2]", 0, 16) + "}", 16)); },
                               {"needs 8 (size mismatch)"});
}

TEST_CASE("corrupt: offsets reversed or out of bounds") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "F32", "[0]", 8, 4) + "}", 8)); },
                               {"data_offsets [8, 4] has end < begin"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("w", "F32", "[4]", 0, 16) + "}", 8)); },
                               {"tensor \"w\": data_offsets [0, 16] out of bounds, expected end <= 8"});
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors("{" + entry("w", "U8", "[1]", 18446744073709551614ull, 18446744073709551615ull) + "}", 8)); },
        {"out of bounds"});
}

TEST_CASE("corrupt: overlapping tensors, holes and trailing bytes") {
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors("{" + entry("a", "F32", "[2]", 0, 8) + ", " + entry("b", "F32", "[2]", 4, 12) + "}", 12)); },
        {"tensors \"a\" [0, 8) and \"b\" [4, 12) overlap"});
    check_throws<format_error>(  // the same range twice (aliasing)
        [] { parse_bytes(raw_safetensors("{" + entry("a", "F32", "[2]", 0, 8) + ", " + entry("b", "I32", "[2]", 0, 8) + "}", 8)); },
        {"overlap"});
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors("{" + entry("a", "F32", "[2]", 0, 8) + ", " + entry("b", "F32", "[2]", 12, 20) + "}", 20)); },
        {"bytes [8, 12) of the data buffer before tensor \"b\" belong to no tensor"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors("{" + entry("a", "F32", "[2]", 0, 8) + "}", 9)); },
                               {"the data buffer has 9 bytes but the tensors cover 8, expected no trailing bytes"});
}

TEST_CASE("corrupt: duplicate tensor names") {
    // nlohmann alone would silently keep one of the two.
    check_throws<format_error>(
        [] { parse_bytes(raw_safetensors("{" + entry("w", "F32", "[2]", 0, 8) + ", " + entry("w", "F32", "[2]", 8, 16) + "}", 16)); },
        {"corrupt.safetensors: header: duplicate key \"w\""});
    check_throws<format_error>(  // inside an entry too
        [] { parse_bytes(raw_safetensors(R"({"w": {"dtype": "F32", "dtype": "I32", "shape": [1], "data_offsets": [0, 4]}})", 4)); },
        {"duplicate key \"dtype\""});
}

TEST_CASE("corrupt: metadata that is not string -> string") {
    check_throws<format_error>([] { parse_bytes(raw_safetensors(R"({"__metadata__": {"n": 4}})", 0)); },
                               {"__metadata__ value for \"n\" is an integer 4, expected a string"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors(R"({"__metadata__": ["a"]})", 0)); },
                               {"__metadata__ is an array of 1 element(s), expected an object of strings"});
    check_throws<format_error>([] { parse_bytes(raw_safetensors(R"({"__metadata__": {"a": "x", "a": "y"}})", 0)); },
                               {"duplicate key \"a\""});
}

TEST_CASE("unreadable files are io_error") {
    check_throws<io_error>([] { (void)safetensors_file::open("/nonexistent/dir/model.safetensors"); },
                           {"cannot open '/nonexistent/dir/model.safetensors'", "No such file"});
    test::scratch_dir dir;
    check_throws<io_error>([&] { (void)safetensors_file::open(dir.path()); }, {"not a regular file"});
}

TEST_CASE("long or hostile names are quoted and cut in messages") {
    const std::string name = "x\n" + std::string(300, 'y');
    const auto msg = check_throws<format_error>(
        [&] { parse_bytes(raw_safetensors("{\"x\\n" + std::string(300, 'y') + "\": 5}", 0)); }, {"\"x\\nyyy", "...\""});
    CHECK(msg.size() < 300);
    CHECK(msg.find('\n') == std::string::npos);
}
