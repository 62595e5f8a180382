// Tests for io/config.hpp: the committed config.json files read with the right types, and every
// missing key, wrong type and out-of-range value is a config_error naming file, key, found and
// expected.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ddiff/io/config.hpp"
#include "io_test_util.hpp"

using namespace ddiff;
using namespace ddiff::io;
using test::check_throws;

namespace {
const std::string models = std::string(DDIFF_TEST_DATA) + "/models";

json_config cfg(std::string_view text) { return json_config::parse(text, "config.json"); }
}  // namespace

TEST_CASE("the committed LLaDA and Dream configs read with typed getters") {
    const auto llada = json_config::load(models + "/llada_tiny_f32/config.json");
    CHECK(llada.get<int>("d_model") == 64);
    CHECK(llada.get<std::size_t>("n_layers") == 2);
    CHECK(llada.get_in<int>("n_heads", 1, 1024) == 4);
    CHECK(llada.get<double>("rope_theta") == 500000.0);
    CHECK(llada.get<float>("rms_norm_eps") == 1e-5f);
    CHECK(llada.get<double>("mlp_ratio") == 2.0);  // a JSON integer read as a number
    CHECK(llada.get<bool>("weight_tying") == false);
    CHECK(llada.get<std::string>("model_type") == "llada");
    CHECK(llada.get<std::vector<std::string>>("architectures") == std::vector<std::string>{"LLaDAModelLM"});
    CHECK(llada.contains("multi_query_attention"));  // present but null
    CHECK_FALSE(llada.has_value("multi_query_attention"));
    CHECK_FALSE(llada.get_optional<bool>("multi_query_attention").has_value());
    CHECK(llada.get<bool>("multi_query_attention", true) == true);
    CHECK(llada.get<int>("no_such_key", 7) == 7);
    CHECK(llada.get<int>("d_model", 7) == 64);
    CHECK(llada.get_in<int>("no_such_key", 1, 8, 3) == 3);
    CHECK(llada.section("auto_map").get<std::string>("AutoConfig") == "configuration_llada.LLaDAConfig");
    const auto keys = llada.keys();
    CHECK(std::find(keys.begin(), keys.end(), "vocab_size") != keys.end());

    const auto dream = json_config::load(models + "/dream_tiny/config.json");
    CHECK(dream.get<int>("hidden_size") == 64);
    CHECK(dream.get<int>("num_key_value_heads") == 2);
    CHECK(dream.get<double>("rms_norm_eps") == 1e-6);
    CHECK_FALSE(dream.get_optional<double>("rope_scaling").has_value());
    CHECK(dream.get<std::int64_t>("mask_token_id") == 94);
}

TEST_CASE("a missing required key names the file, the key and the expected type") {
    const auto llada = json_config::load(models + "/llada_tiny_f32/config.json");
    check_throws<config_error>([&] { (void)llada.get<int>("hidden_size"); },
                               {"llada_tiny_f32/config.json", "missing key \"hidden_size\", expected an integer"});
    check_throws<config_error>([&] { (void)llada.get_in<double>("missing", 0.0, 1.0); }, {"missing key \"missing\", expected a number"});
    check_throws<config_error>([&] { (void)llada.section("rope_scaling"); }, {"missing key \"rope_scaling\", expected an object"});
}

TEST_CASE("a wrong JSON type names what was found") {
    const auto c = cfg(R"({"s": "64", "f": 64.5, "g": 64.0, "b": true, "i": 1, "n": null, "a": [1, "two"], "o": {}})");
    check_throws<config_error>([&] { (void)c.get<int>("s"); }, {"config.json: key \"s\" is a string \"64\", expected an integer"});
    check_throws<config_error>([&] { (void)c.get<int>("f"); }, {"key \"f\" is a floating-point number 64.5, expected an integer"});
    check_throws<config_error>([&] { (void)c.get<int>("b"); }, {"key \"b\" is a boolean true, expected an integer"});
    check_throws<config_error>([&] { (void)c.get<bool>("i"); }, {"key \"i\" is an integer 1, expected a boolean"});
    check_throws<config_error>([&] { (void)c.get<double>("s"); }, {"key \"s\" is a string \"64\", expected a number"});
    check_throws<config_error>([&] { (void)c.get<std::string>("i"); }, {"expected a string"});
    check_throws<config_error>([&] { (void)c.get<int>("n"); }, {"key \"n\" is null, expected an integer"});
    check_throws<config_error>([&] { (void)c.get<std::string>("o"); }, {"key \"o\" is an object with 0 key(s), expected a string"});
    check_throws<config_error>([&] { (void)c.get<std::vector<int>>("a"); },
                               {"key \"a[1]\" is a string \"two\", expected an integer"});
    check_throws<config_error>([&] { (void)c.get<std::vector<int>>("i"); },
                               {"key \"i\" is an integer 1, expected an array of elements each an integer"});
    check_throws<config_error>([&] { (void)c.section("i"); }, {"key \"i\" is an integer 1, expected an object"});
    // A default does not hide a present value of the wrong type.
    check_throws<config_error>([&] { (void)c.get<int>("s", 3); }, {"key \"s\" is a string"});
}

TEST_CASE("out-of-range values name the value and the range") {
    const auto c = cfg(R"({"big": 300, "neg": -1, "huge": 1e39, "u": 18446744073709551615, "heads": 0, "p": 1.5,
                           "rope_scaling": {"type": "linear", "factor": -2.0}})");
    check_throws<config_error>([&] { (void)c.get<std::int8_t>("big"); },
                               {"key \"big\" = 300 is out of range, expected an integer in [-128, 127]"});
    check_throws<config_error>([&] { (void)c.get<unsigned>("neg"); },
                               {"key \"neg\" = -1 is out of range, expected an integer in [0, 4294967295]"});
    check_throws<config_error>([&] { (void)c.get<std::int64_t>("u"); }, {"= 18446744073709551615 is out of range"});
    CHECK(c.get<std::uint64_t>("u") == 18446744073709551615ull);
    check_throws<config_error>([&] { (void)c.get<float>("huge"); }, {"key \"huge\" = 1e+39 is out of range, expected a number in ["});
    CHECK(c.get<double>("huge") == 1e39);
    check_throws<config_error>([&] { (void)c.get_in<int>("heads", 1, 1024); },
                               {"key \"heads\" = 0 is out of range, expected an integer in [1, 1024]"});
    check_throws<config_error>([&] { (void)c.get_in<double>("p", 0.0, 1.0); },
                               {"key \"p\" = 1.5 is out of range, expected a number in [0.0, 1.0]"});
    check_throws<config_error>([&] { (void)c.get_in<double>("p", 0.0, 1.0, 0.5); }, {"= 1.5 is out of range"});
    // Sections name the full key path.
    const auto rope = c.section("rope_scaling");
    CHECK(rope.get<std::string>("type") == "linear");
    check_throws<config_error>([&] { (void)rope.get_in<double>("factor", 1.0, 64.0); },
                               {"config.json: key \"rope_scaling.factor\" = -2.0 is out of range"});
    check_throws<config_error>([&] { (void)rope.get<int>("missing"); }, {"missing key \"rope_scaling.missing\""});
}

TEST_CASE("files that are not a JSON object are format errors; unreadable files io errors") {
    check_throws<format_error>([] { (void)cfg("{\"a\": 1,}"); }, {"config.json: malformed JSON", "line 1"});
    check_throws<format_error>([] { (void)cfg("[1, 2]"); }, {"config.json: top-level JSON value is an array of 2 element(s), expected an object"});
    check_throws<format_error>([] { (void)cfg(R"({"d_model": 64, "d_model": 128})"); }, {"duplicate key \"d_model\""});
    check_throws<format_error>([] { (void)cfg("{\"a\": NaN}"); }, {"malformed JSON"});  // Python's json.dump can write it
    check_throws<format_error>([] { (void)cfg(std::string_view("{}\0{\"a\": 1}", 11)); }, {"NUL byte at offset 2"});
    check_throws<format_error>([] { (void)cfg(std::string(100, '[') + std::string(100, ']')); }, {"nested deeper than 64 levels"});
    check_throws<io_error>([] { (void)json_config::load("/nonexistent/config.json"); },
                           {"cannot open '/nonexistent/config.json'", "No such file"});
    test::scratch_dir dir;
    check_throws<io_error>([&] { (void)json_config::load(dir.path()); }, {"not a regular file"});
    test::write_text(dir / "config.json", "{\"x\": 1.5e3}");
    const auto c = json_config::load(dir / "config.json");
    CHECK(c.get<double>("x") == 1500.0);
    CHECK(c.source().ends_with("config.json"));
}

TEST_CASE("an integral floating-point number is accepted where an integer is expected") {
    // Hub configs write "mlp_ratio": 4.0 where 4 is meant (JSON does not tell them apart).
    const auto c = cfg(R"({"r": 4.0, "neg": -3.0, "z": -0.0, "big": 300.0, "e": 1e3, "f": 4.5, "tiny": 1e-300,
                           "huge": 1e19, "top": 9223372036854775807.0, "v": [1, 2.0, 3]})");
    CHECK(c.get<int>("r") == 4);
    CHECK(c.get<std::size_t>("r") == 4u);
    CHECK(c.get<int>("neg") == -3);
    CHECK(c.get<int>("z") == 0);
    CHECK(c.get<int>("e") == 1000);
    CHECK(c.get<std::vector<int>>("v") == std::vector<int>{1, 2, 3});
    CHECK(c.get<std::uint64_t>("huge") == 10000000000000000000ull);
    check_throws<config_error>([&] { (void)c.get<int>("f"); }, {"key \"f\" is a floating-point number 4.5, expected an integer"});
    check_throws<config_error>([&] { (void)c.get<int>("tiny"); }, {"key \"tiny\" is a floating-point number"});
    check_throws<config_error>([&] { (void)c.get<std::int8_t>("big"); }, {"key \"big\" = 300.0 is out of range, expected an integer in [-128, 127]"});
    check_throws<config_error>([&] { (void)c.get<unsigned>("neg"); }, {"key \"neg\" = -3.0 is out of range"});
    check_throws<config_error>([&] { (void)c.get<std::int64_t>("huge"); }, {"key \"huge\" = 1e+19 is out of range"});
    // 9223372036854775807.0 is 2^63 as a double: one past int64's maximum.
    check_throws<config_error>([&] { (void)c.get<std::int64_t>("top"); }, {"is out of range"});
    CHECK(c.get<std::uint64_t>("top") == 9223372036854775808ull);
}
