// Tests for io/gguf.hpp: dequantisation of every supported type against gguf-py's own
// (tests/data/gguf/quants_golden.safetensors, written by tools/gguf/make_gguf.py with llama.cpp's
// gguf-py), typed metadata access, and one hand-built bad file per validation rule (exact
// exception type and a distinctive message part).
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../support/gguf_builder.hpp"
#include "ddiff/io/gguf.hpp"
#include "ddiff/io/safetensors.hpp"
#include "ddiff/nn/embedding.hpp"
#include "io_test_util.hpp"

using namespace ddiff;
using namespace ddiff::io;
using test::check_throws;
using test::gguf_builder;

namespace {

const std::string gguf_dir = std::string(DDIFF_TEST_DATA) + "/gguf";

std::vector<std::byte> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    return b;
}

template <class E = format_error>
void bad(const std::vector<std::byte>& bytes, std::initializer_list<std::string_view> parts) {
    check_throws<E>([&] { (void)gguf_file::parse(bytes, "bad.gguf"); }, parts);
}

}  // namespace

TEST_CASE("gguf: every supported type dequantises bit for bit as gguf-py's gguf.quants.dequantize") {
    const auto f = gguf_file::open(gguf_dir + "/quants.gguf");
    const auto golden = safetensors_file::open(gguf_dir + "/quants_golden.safetensors");
    CHECK(f.version() == 3);
    CHECK(f.alignment() == 32);
    CHECK(f.get<std::string>("general.architecture") == "llada");
    for (const char* name : {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"}) {
        CAPTURE(name);
        const auto t = f.tensor(name);
        CHECK(t.type_name() == name);
        t.expect_shape({3, 512});
        const auto got = t.to_f32();
        const auto want = golden.to_f32(name);
        REQUIRE(got.size() == want.size());
        std::size_t differ = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            differ += std::bit_cast<std::uint32_t>(got[i]) != std::bit_cast<std::uint32_t>(want[i]);
        CHECK(differ == 0);
        // Rows one at a time give the same values.
        std::vector<float> row(512);
        t.dequantize_rows(2, 3, row.data());
        CHECK(std::memcmp(row.data(), got.data() + 1024, 512 * sizeof(float)) == 0);
    }
}

TEST_CASE("gguf: an embedding kept in the stored type gathers gguf-py's rows bit for bit, and checks its input") {
    const auto f = gguf_file::open(gguf_dir + "/quants.gguf");
    const auto golden = safetensors_file::open(gguf_dir + "/quants_golden.safetensors");
    for (const char* name : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"}) {
        CAPTURE(name);
        const auto t = f.tensor(name);
        const auto e = nn::embedding::from_stored(t.type(), t.bytes(), 3, 512);
        CHECK(e.bytes() == t.bytes().size());
        const std::int32_t ids[] = {2, 0, 2, 1};
        std::vector<float> out(4 * 600, -1.0f);  // stride 600: the gaps stay untouched
        e.forward(ids, 4, out.data(), 600);
        const auto want = golden.to_f32(name);
        std::size_t differ = 0;
        for (std::size_t r = 0; r < 4; ++r)
            for (std::size_t i = 0; i < 512; ++i)
                differ += std::bit_cast<std::uint32_t>(out[r * 600 + i]) !=
                          std::bit_cast<std::uint32_t>(want[std::size_t(ids[r]) * 512 + i]);
        CHECK(differ == 0);
        CHECK(out[512] == -1.0f);
        const std::int32_t bad_id[] = {3};
        check_throws<invalid_argument>([&] { e.forward(bad_id, 1, out.data(), 512); }, {"token id 3", "[0, 3)"});
    }
    const auto q4k = f.tensor("Q4_K");
    check_throws<shape_error>([&] { (void)nn::embedding::from_stored(q4k.type(), q4k.bytes(), 2, 512); },
                              {"expected 2 rows of 288"});
    check_throws<shape_error>([&] { (void)nn::embedding::from_stored(q4k.type(), q4k.bytes(), 3, 100); },
                              {"width 100", "Q4_K's block of 256"});
    check_throws<invalid_argument>(
        [&] { (void)nn::embedding::from_stored(ggml_type::q4_1, q4k.bytes(), 3, 512); }, {"type id 3"});
}

TEST_CASE("gguf: typed metadata access") {
    const auto f = gguf_file::open(gguf_dir + "/quants.gguf");
    CHECK(f.get<std::uint32_t>("llada.context_length") == 64);
    CHECK(f.get<std::size_t>("llada.context_length") == 64);
    CHECK(f.get<float>("llada.rope.freq_base") == 500000.0f);
    CHECK(f.get<bool>("llada.attention.causal") == false);
    CHECK(f.get<std::int32_t>("test.negative") == -7);
    CHECK(f.get<std::int64_t>("test.negative") == -7);
    CHECK(f.get<std::uint64_t>("test.big") == (std::uint64_t{1} << 40));
    CHECK(f.get<double>("test.f64") == 0.1);
    CHECK(f.get<std::uint32_t>("absent.key", 17u) == 17u);
    const auto tokens = f.get_strings("tokenizer.ggml.tokens");
    REQUIRE(tokens.size() == 5);
    CHECK(tokens[2] == "\xc4\xa0" "c");
    CHECK(tokens[4] == "[MASK]");
    CHECK(f.get_array<std::int32_t>("tokenizer.ggml.token_type") == std::vector<std::int32_t>{1, 1, 1, 3, 3});
    CHECK(f.get_array<float>("tokenizer.ggml.scores") == std::vector<float>{0.0f, -1.0f, -2.5f, 0.0f, 0.0f});
    CHECK(f.get_strings("tokenizer.ggml.merges").size() == 2);
    CHECK(f.get<std::uint32_t>("tokenizer.ggml.mask_token_id") == 4);
    CHECK(f.get<bool>("tokenizer.ggml.add_bos_token"));
    CHECK(f.get<std::string_view>("tokenizer.chat_template").starts_with("{% for m in messages %}"));

    check_throws<format_error>([&] { (void)f.get<std::uint32_t>("test.negative"); }, {"'test.negative'", "-7", "range"});
    check_throws<format_error>([&] { (void)f.get<std::uint16_t>("test.big"); }, {"'test.big'", "1099511627776"});
    check_throws<format_error>([&] { (void)f.get<std::string>("llada.context_length"); },
                               {"'llada.context_length'", "UINT32", "expected STRING"});
    check_throws<format_error>([&] { (void)f.get<float>("llada.context_length"); }, {"expected FLOAT32 or FLOAT64"});
    check_throws<format_error>([&] { (void)f.get<bool>("no.such.key"); }, {"missing metadata key 'no.such.key'"});
    check_throws<format_error>([&] { (void)f.get_strings("tokenizer.ggml.scores"); },
                               {"ARRAY of FLOAT32", "expected ARRAY of STRING"});
    check_throws<format_error>([&] { (void)f.tensor("nope"); }, {"no tensor 'nope'"});
    check_throws<shape_error>([&] { f.tensor("Q8_0").expect_shape({512, 3}); }, {"'Q8_0'", "[3, 512]", "expected [512, 3]"});
}

TEST_CASE("gguf: version 2 files read like version 3") {
    auto bytes = read_all(gguf_dir + "/quants.gguf");
    bytes[4] = std::byte{2};
    const auto f = gguf_file::parse(bytes);
    CHECK(f.version() == 2);
    CHECK(f.tensor("Q4_K").to_f32() == gguf_file::open(gguf_dir + "/quants.gguf").tensor("Q4_K").to_f32());
}

TEST_CASE("gguf: every prefix that cuts into the tensor data is rejected with format_error, never a crash") {
    const auto bytes = read_all(gguf_dir + "/quants.gguf");
    const auto whole = gguf_file::parse(bytes);
    const auto& last = whole.tensors().back();
    const std::size_t data_end = whole.data_offset() + last.offset + last.nbytes;  // then only padding
    REQUIRE(data_end <= bytes.size());
    std::size_t rejected = 0, tried = 0;
    // Every length in the header region, then a stride through the data.
    for (std::size_t n = 0; n < data_end; n += (n < 2048 ? 1 : 97)) {
        ++tried;
        try {
            (void)gguf_file::parse(std::span(bytes.data(), n));
        } catch (const format_error&) {
            ++rejected;
        }
    }
    CHECK(rejected == tried);
    // Without (part of) the final padding nothing is missing: the file reads the same.
    for (std::size_t n = data_end; n <= bytes.size(); ++n)
        CHECK(gguf_file::parse(std::span(bytes.data(), n)).tensor(last.name).to_f32() ==
              whole.tensor(last.name).to_f32());
}

TEST_CASE("gguf: bad files are typed errors naming what is wrong") {
    // A valid skeleton first: one F32 tensor of 8 elements.
    {
        gguf_builder b;
        b.header(1, 1).kv_str("general.architecture", "llada").tensor("w", {8}, 0, 0).data(32);
        CHECK(gguf_file::parse(b.bytes).tensor("w").numel() == 8);
    }
    {
        gguf_builder b;
        b.put<std::uint32_t>(0x46554748).put<std::uint32_t>(3);
        bad(b.bytes, {"magic 'HGUF'", "expected 'GGUF'"});
    }
    {
        gguf_builder b;
        b.header(0, 0, 1);
        bad(b.bytes, {"version 1 is not supported"});
    }
    {
        gguf_builder b;
        b.header(0, 0, 0x03000000);
        bad(b.bytes, {"big-endian"});
    }
    {
        gguf_builder b;
        b.header(0, 0, 4);
        bad(b.bytes, {"GGUF version 4, expected 2 or 3"});
    }
    {  // lying counts
        gguf_builder b;
        b.header(0, 1'000'000'000);
        bad(b.bytes, {"key-value count 1000000000 cannot fit"});
        gguf_builder t;
        t.header(std::uint64_t{1} << 60, 0);
        bad(t.bytes, {"tensor count 1152921504606846976 cannot fit"});
        gguf_builder s;
        s.header(0, 1).put<std::uint64_t>(std::uint64_t{1} << 62).put<std::uint64_t>(0).put<std::uint64_t>(0);
        bad(s.bytes, {"key of metadata pair 0 has length 4611686018427387904", "remain"});
        gguf_builder a;
        a.header(0, 1).str("arr").put<std::uint32_t>(9).put<std::uint32_t>(4).put<std::uint64_t>(1'000'000'000);
        bad(a.bytes, {"'arr' claims 1000000000 elements of UINT32"});
        gguf_builder as;
        as.header(0, 1).str("arr").put<std::uint32_t>(9).put<std::uint32_t>(8).put<std::uint64_t>(1'000'000);
        bad(as.bytes, {"'arr' claims 1000000 strings"});
    }
    {  // value types
        gguf_builder b;
        b.header(0, 1).str("k").put<std::uint32_t>(13).put<std::uint32_t>(0);
        bad(b.bytes, {"'k' has unknown value type 13"});
        gguf_builder n;
        n.header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(9).put<std::uint64_t>(0);
        bad(n.bytes, {"array of arrays"});
        gguf_builder bo;
        bo.header(0, 1).str("flag").put<std::uint32_t>(7).put<std::uint8_t>(2);
        bad(bo.bytes, {"'flag' is a BOOL with byte value 2, expected 0 or 1"});
    }
    {  // duplicates
        gguf_builder b;
        b.header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2);
        bad(b.bytes, {"duplicate metadata key 'a.b'"});
        gguf_builder t;
        t.header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).data(64);
        bad(t.bytes, {"duplicate tensor name 'w'"});
    }
    {  // alignment key
        gguf_builder b;
        b.header(0, 1).kv_u32("general.alignment", 48);
        bad(b.bytes, {"general.alignment = 48, expected a power of two"});
        gguf_builder t;
        t.header(0, 1).kv_str("general.alignment", "32");
        bad(t.bytes, {"general.alignment has type STRING, expected UINT32"});
    }
    {  // tensor infos
        gguf_builder b;
        b.header(1, 0).tensor(std::string(64, 'x'), {8}, 0, 0).data(32);
        bad(b.bytes, {"name of 64 bytes"});
        gguf_builder d;
        d.header(1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).data(32);
        bad(d.bytes, {"'w' has 5 dimensions, expected at most 4"});
        gguf_builder o;
        o.header(1, 0).tensor("w", {std::uint64_t{1} << 32, std::uint64_t{1} << 32}, 0, 0);
        bad(o.bytes, {"'w' has shape [4294967296, 4294967296], more than 2^63 - 1 elements"});
        gguf_builder u;
        u.header(1, 0).tensor("w", {32}, 31, 0).data(64);
        bad(u.bytes, {"'w' has unknown ggml type 31"});
        gguf_builder r;
        r.header(1, 0).tensor("w", {48}, 12, 0).data(256);
        bad(r.bytes, {"'w' of type Q4_K has rows of 48 elements, expected a multiple of the block size 256"});
    }
    {  // offsets
        gguf_builder m;
        m.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 16).data(64);
        bad(m.bytes, {"'b' has offset 16, not a multiple of the alignment 32"});
        gguf_builder ov;
        ov.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).data(96);
        bad(ov.bytes, {"'b' has offset 32, which overlaps tensor 'a'", "expected offset 64"});
        gguf_builder h;
        h.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 64).data(96);
        bad(h.bytes, {"'b' has offset 64, expected 32", "no holes"});
        gguf_builder p;
        p.header(1, 0).tensor("a", {1024}, 0, 0).data(100);
        bad(p.bytes, {"'a' occupies data bytes [0, 4096)", "truncated"});
        gguf_builder tr;
        tr.header(1, 0).tensor("a", {8}, 0, 0).data(32 + 40);
        bad(tr.bytes, {"40 bytes after the padded end of the last tensor"});
    }
    {  // a type ddiff parses but does not read: named when read
        gguf_builder b;
        b.header(1, 0).tensor("w", {32}, 3, 0).data(20);  // Q4_1: 20 bytes per 32
        const auto f = gguf_file::parse(b.bytes);
        check_throws<format_error>([&] { (void)f.tensor("w").to_f32(); }, {"'w' has type Q4_1", "does not read"});
    }
}
