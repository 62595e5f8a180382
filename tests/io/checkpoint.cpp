// Tests for io/checkpoint.hpp: the committed sharded and unsharded LLaDA checkpoints hold
// identical tensors, and every index / shard inconsistency is a typed error.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "ddiff/io/checkpoint.hpp"
#include "../support/safetensors_writer.hpp"
#include "io_test_util.hpp"

using namespace ddiff;
using namespace ddiff::io;
using test::check_throws;
using test::serialize_safetensors;
using test::tensor_data;
using test::write_safetensors;

namespace {

const std::string models = std::string(DDIFF_TEST_DATA) + "/models";

tensor_data f32(std::string name, std::vector<float> v) {
    const std::size_t n = v.size();
    return tensor_data::from(std::move(name), {n}, v);
}

// A directory with shards a.safetensors (x, y) and b.safetensors (z), plus an index text.
struct sharded_dir {
    test::scratch_dir dir;
    sharded_dir() {
        write_safetensors(dir / "a.safetensors", {f32("x", {1, 2}), f32("y", {3})});
        write_safetensors(dir / "b.safetensors", {f32("z", {4, 5, 6})});
    }
    std::filesystem::path index(std::string_view weight_map) {
        test::write_text(dir / "model.safetensors.index.json",
                         "{\"metadata\": {\"total_size\": 24}, \"weight_map\": " + std::string(weight_map) + "}");
        return dir / "model.safetensors.index.json";
    }
};
constexpr std::string_view good_map = R"({"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"})";

}  // namespace

TEST_CASE("sharded and unsharded LLaDA checkpoints give identical tensors") {
    const auto one = checkpoint::open(models + "/llada_tiny_f32");
    const auto two = checkpoint::open(models + "/llada_tiny_sharded");
    CHECK_FALSE(one.sharded());
    CHECK(two.sharded());
    CHECK(one.shards().size() == 1);
    CHECK(two.shards().size() == 2);
    CHECK(two.path().filename() == "model.safetensors.index.json");
    REQUIRE(one.size() == 21);
    REQUIRE(one.names() == two.names());
    for (const auto name : one.names()) {
        INFO(name);
        const auto a = one.tensor(name);
        const auto b = two.tensor(name);
        CHECK(a.type() == b.type());
        CHECK(std::ranges::equal(a.shape(), b.shape()));
        CHECK(std::ranges::equal(a.bytes(), b.bytes()));
    }
    CHECK(two.shard_of("model.transformer.wte.weight").source().ends_with("model-00001-of-00002.safetensors"));
    CHECK(two.shard_of("model.transformer.ln_f.weight").source().ends_with("model-00002-of-00002.safetensors"));
    const auto w = two.to_f32<2>("model.transformer.ff_out.weight");
    CHECK(w.shape()[0] == 97);
    CHECK(w.shape()[1] == 64);
    CHECK(two.view<float>("model.transformer.ff_out.weight").zero_copy());

    // The index and the files can be named directly too.
    CHECK(checkpoint::open(models + "/llada_tiny_sharded/model.safetensors.index.json").size() == 21);
    CHECK(checkpoint::open(models + "/llada_tiny_bf16/model.safetensors").info("model.transformer.wte.weight").type ==
          dtype::bf16);
    check_throws<format_error>([&] { (void)two.tensor("model.lm_head.weight"); },
                               {"model.safetensors.index.json", "no tensor \"model.lm_head.weight\""});
}

TEST_CASE("a consistent hand-built sharded checkpoint loads") {
    sharded_dir d;
    d.index(good_map);
    const auto c = checkpoint::open(d.dir.path());
    CHECK(c.size() == 3);
    CHECK(c.to_f32("z") == std::vector<float>{4, 5, 6});
    CHECK(c.shard_of("y").source().ends_with("a.safetensors"));
    const auto copy = c;  // copies share the mappings
    CHECK(copy.view<float>("x")[1] == 2);
}

TEST_CASE("index and shards that disagree are format errors naming the tensor and shards") {
    sharded_dir d;
    SUBCASE("a mapped tensor missing from its shard") {
        const auto p = d.index(R"({"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors", "w": "b.safetensors"})");
        check_throws<format_error>([&] { (void)checkpoint::open(p); },
                                   {"model.safetensors.index.json", "maps tensor \"w\" to b.safetensors, but b.safetensors has no such tensor"});
    }
    SUBCASE("a tensor mapped to the wrong shard") {
        const auto p = d.index(R"({"x": "a.safetensors", "y": "b.safetensors", "z": "b.safetensors"})");
        check_throws<format_error>([&] { (void)checkpoint::open(p); },
                                   {"maps tensor \"y\" to b.safetensors, but it is stored in a.safetensors"});
    }
    SUBCASE("a tensor in two shards") {
        write_safetensors(d.dir / "b.safetensors", {f32("y", {9}), f32("z", {4, 5, 6})});
        const auto p = d.index(good_map);
        check_throws<format_error>([&] { (void)checkpoint::open(p); },
                                   {"tensor \"y\" is in both a.safetensors and b.safetensors"});
    }
    SUBCASE("a stored tensor the index does not list") {
        const auto p = d.index(R"({"x": "a.safetensors", "z": "b.safetensors"})");
        check_throws<format_error>([&] { (void)checkpoint::open(p); },
                                   {"shard a.safetensors holds tensor \"y\", which weight_map does not list"});
    }
    SUBCASE("a corrupt shard") {
        test::write_text(d.dir / "b.safetensors", "short");
        const auto p = d.index(good_map);
        check_throws<format_error>([&] { (void)checkpoint::open(p); }, {"b.safetensors", "file is 5 bytes"});
    }
}

TEST_CASE("malformed index files") {
    sharded_dir d;
    const auto p = d.dir / "model.safetensors.index.json";
    const auto open = [&] { (void)checkpoint::open(d.dir.path()); };
    test::write_text(p, "{\"weight_map\": {\"x\": \"a.safetensors\"");
    check_throws<format_error>(open, {"model.safetensors.index.json", "malformed JSON"});
    test::write_text(p, "[]");
    check_throws<format_error>(open, {"top-level JSON value is an array of 0 element(s), expected an object"});
    test::write_text(p, "{\"metadata\": {}}");
    check_throws<format_error>(open, {"missing key \"weight_map\""});
    test::write_text(p, "{\"weight_map\": {}}");
    check_throws<format_error>(open, {"weight_map is empty"});
    test::write_text(p, "{\"weight_map\": [\"a.safetensors\"]}");
    check_throws<format_error>(open, {"weight_map is an array of 1 element(s), expected an object"});
    test::write_text(p, "{\"weight_map\": {\"x\": 1}}");
    check_throws<format_error>(open, {"weight_map[\"x\"] is an integer 1, expected a shard file name"});
    test::write_text(p, "{\"metadata\": 3, \"weight_map\": {\"x\": \"a.safetensors\"}}");
    check_throws<format_error>(open, {"metadata is an integer 3, expected an object"});
    test::write_text(p, R"({"weight_map": {"x": "a.safetensors", "x": "b.safetensors"}})");
    check_throws<format_error>(open, {"duplicate key \"x\""});
    for (const char* bad : {"../a.safetensors", "/etc/passwd", "sub/a.safetensors", "..", ""}) {
        INFO(bad);
        test::write_text(p, "{\"weight_map\": {\"x\": \"" + std::string(bad) + "\"}}");
        check_throws<format_error>(open, {"expected a plain file name in the index's directory"});
    }
}

TEST_CASE("missing files are io errors") {
    sharded_dir d;
    const auto p = d.index(R"({"x": "a.safetensors", "y": "a.safetensors", "z": "c.safetensors"})");
    check_throws<io_error>([&] { (void)checkpoint::open(p); }, {"cannot open", "c.safetensors", "No such file"});
    test::scratch_dir empty;
    check_throws<io_error>([&] { (void)checkpoint::open(empty.path()); },
                           {"has neither model.safetensors nor model.safetensors.index.json"});
    check_throws<io_error>([] { (void)checkpoint::open("/nonexistent/model.safetensors.index.json"); }, {"cannot open"});
}

namespace {
// Resident set size of this process in bytes (/proc/self/statm, second field, in pages).
std::size_t resident_bytes() {
    std::ifstream f("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    f >> size >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}
}  // namespace

TEST_CASE("release drops a mapped tensor's pages from the resident set and keeps its bytes") {
    test::scratch_dir dir;
    const std::size_t n = 4u << 20;  // 16 MiB of f32
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = float(i % 1000);
    write_safetensors(dir / "big.safetensors", {tensor_data::from("w", {n}, v)});
    std::vector<float>().swap(v);
    const auto ck = checkpoint::open(dir / "big.safetensors");
    const auto t = ck.tensor("w");
    const auto view = t.view<float>();
    REQUIRE(view.zero_copy());
    double sum = 0;
    for (float x : view) sum += x;  // pages every byte in
    const std::size_t touched = resident_bytes();
    ck.release(t);
    const std::size_t released = resident_bytes();
    CHECK(touched >= released + (12u << 20));  // all but the partial first and last pages
    double again = 0;
    for (float x : view) again += x;  // read back from the page cache
    CHECK(again == sum);
    CHECK(view[n - 1] == float((n - 1) % 1000));
}

TEST_CASE("release never touches caller-owned bytes of a parsed file") {
    // madvise(MADV_DONTNEED) on anonymous memory would zero it: parsed bytes must be left alone.
    std::vector<float> v(1u << 20, 3.0f);
    const auto bytes = serialize_safetensors({tensor_data::from("w", {v.size()}, v)});
    const auto file = safetensors_file::parse(bytes);
    CHECK_FALSE(file.mapped());
    const auto t = file.tensor("w");
    file.release(t);
    const auto view = t.view<float>();
    std::size_t bad = 0;
    for (float x : view) bad += x != 3.0f;
    CHECK(bad == 0);
}
