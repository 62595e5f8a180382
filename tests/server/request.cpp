// ddiff serve's request parser and answer text without HTTP: the diffusion extensions are the
// runtime's decode_options fields with the CLI's names, ranges and messages; requests that may
// share a batch get the same key; the suffix makes an infill canvas; a streamed text holds back
// what may still become a stop string; paths never reach a client.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "server/request.hpp"
#include "server/response.hpp"

#include "cli_fields.hpp"

namespace ddiff::cli {
runtime::session open_session(const runtime::model_options& o);
}

using namespace ddiff;
using json = nlohmann::json;

namespace {

struct shipped {
    runtime::session s = cli::open_session({.model = DDIFF_SHIPPED_MODEL, .threads = 1});
    serve::model_facts facts{.info = s.info(), .id = "kjv-char", .codec = s.codec(), .scrub = {DDIFF_SHIPPED_MODEL}};
};
shipped& shipped_model() {
    static shipped m;
    return m;
}

serve::parsed_request parse(const json& body, serve::endpoint kind = serve::endpoint::completions) {
    return serve::parse_request(kind, body.dump(), shipped_model().facts, serve::limits{}, 12345);
}
serve::api_error error_of(const json& body, serve::endpoint kind = serve::endpoint::completions) {
    try {
        parse(body, kind);
    } catch (const serve::api_error& e) {
        return e;
    }
    serve::api_error none;
    none.status = 0;
    return none;
}

}  // namespace

TEST_CASE("request: the extensions fill decode_options as the CLI's flags do") {
    const json body = {{"prompt", "In the beginning"}, {"max_tokens", 32}, {"steps", 16}, {"block_length", 8},
                       {"sampler", "threshold"}, {"threshold", 0.75}, {"remask", "maskgit"}, {"temperature", 0.5},
                       {"top_p", 0.9}, {"top_k", 7}, {"cache", "prefix"}, {"seed", 99}, {"suppress_eos", true}};
    const auto r = parse(body);
    // The same settings through the CLI's flag parser (cli_fields.hpp: parse_field per field).
    runtime::decode_options want;
    const std::map<std::string, std::string> flags = {
        {"length", "32"}, {"steps", "16"}, {"block_length", "8"}, {"sampler", "threshold"}, {"threshold", "0.75"},
        {"remask", "maskgit"}, {"temperature", "0.5"}, {"top_p", "0.9"}, {"top_k", "7"}, {"cache", "prefix"},
        {"seed", "99"}, {"suppress_eos", ""}};
    cli::visit_fields(want, [&](const runtime::field_info& f, cli::field_ref ref) {
        if (const auto it = flags.find(std::string(f.name)); it != flags.end()) cli::parse_into(f, it->second, ref);
    });
    runtime::decode_request wr;
    wr.options = want;
    wr.prompt = r.decode.prompt;
    runtime::validate(shipped_model().facts.info, wr);  // maskgit -> maskgit_gumbel, the EOS ids filled in
    auto got = r.decode.options;
    cli::visit_fields(got, [&](const runtime::field_info& f, cli::field_ref ref) {
        cli::visit_fields(wr.options, [&](const runtime::field_info& g, cli::field_ref wref) {
            if (f.name == g.name) {
                INFO(f.name);
                CHECK(cli::text_of(ref) == cli::text_of(wref));
            }
        });
    });
    CHECK(r.decode.options.remask == "maskgit_gumbel");
    CHECK(r.decode.options.eos_ids == std::vector<token_id>{64});
    CHECK(r.decode.prompt.size() == 16);
    CHECK(r.decode.seeds == std::vector<std::uint64_t>{99});
    CHECK(r.region_begin == 16);
    CHECK(r.region_length == 32);
    CHECK(r.prefix_final);
}

TEST_CASE("request: batch keys join requests that differ in the seed only") {
    const json a = {{"prompt", "In the beginning"}, {"max_tokens", 16}, {"steps", 16}, {"seed", 1}};
    json b = a;
    b["seed"] = 2;
    b["n"] = 3;
    json c = a;
    c["steps"] = 8;
    json d = a;
    d["prompt"] = "And God";
    CHECK(!parse(a).batch_key.empty());
    CHECK(parse(a).batch_key == parse(b).batch_key);
    CHECK(parse(a).batch_key != parse(c).batch_key);
    CHECK(parse(a).batch_key != parse(d).batch_key);  // another prompt length
    CHECK(parse(b).decode.seeds == std::vector<std::uint64_t>{2, 3, 4});
    // An adaptive step rule over several blocks decodes alone (its blocks end when its slowest
    // row does); over one block it may share.
    json t = a;
    t["sampler"] = "threshold";
    t["block_length"] = 8;
    CHECK(parse(t).batch_key.empty());
    t["block_length"] = 0;
    CHECK(!parse(t).batch_key.empty());
    // Without a seed, the server's random one.
    json nos = a;
    nos.erase("seed");
    CHECK(parse(nos).seed == 12345);
}

TEST_CASE("request: suffix makes an infill canvas; limits and layout errors") {
    const auto r = parse({{"prompt", "In the b"}, {"suffix", "ing God"}, {"max_tokens", 4}, {"steps", 4}});
    REQUIRE(r.decode.canvas);
    CHECK(r.decode.canvas->size() == 8 + 4 + 7);
    for (std::size_t i = 8; i < 12; ++i) CHECK((*r.decode.canvas)[i] == shipped_model().facts.info.mask);
    CHECK((*r.decode.canvas)[12] != shipped_model().facts.info.mask);
    CHECK(r.region_begin == 8);
    CHECK(r.region_length == 4);

    auto e = error_of({{"prompt", "In"}, {"max_tokens", 2000}});
    CHECK(e.status == 400);
    CHECK(e.param == "max_tokens");
    CHECK(e.message == "max_tokens = '2000', expected at most 1024 (this server's --max-tokens)");
    // The model's own maximum (the shipped LLaDA's max_sequence_length) before the server's.
    e = error_of({{"prompt", "In"}, {"max_tokens", 1024}});
    CHECK(e.status == 400);
    CHECK(e.param == "prompt");
    CHECK(e.code == "context_length_exceeded");
    CHECK(e.message == "this request needs 1026 positions (2 in the prompt, 1024 generated), expected at most 1024 "
                       "(the context length)");
    e = error_of({{"prompt", "In"}, {"max_tokens", 1024}, {"n", 9}});
    CHECK(e.param == "n");
    e = error_of({{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_completion_tokens", 0}},
                 serve::endpoint::chat);
    CHECK(e.param == "max_completion_tokens");
    CHECK(e.message == "max_completion_tokens = '0', expected an integer in [1, 1048576]");
    e = error_of({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, serve::endpoint::chat);
    CHECK(e.status == 422);
    CHECK(e.param == "messages");
    e = error_of({{"prompt", {63}}});  // the mask id
    CHECK(e.param == "prompt");
    CHECK(e.message.find("holds the mask token") != std::string::npos);
    e = error_of({{"prompt", {"a", "b"}}});
    CHECK(e.status == 422);
    // Chat completions: the shipped model's template writes each turn on a line.
    const auto c = parse({{"messages", {{{"role", "user"}, {"content", "And God said"}}}}}, serve::endpoint::chat);
    CHECK(c.prompt_text == "And God said\n");
    CHECK(c.decode.prompt.size() == 13);
}

TEST_CASE("answers: a streamed text is final only as far as the committed prefix, minus a possible stop string") {
    auto& m = shipped_model();
    auto r = parse({{"prompt", "In"}, {"max_tokens", 12}, {"steps", 12}, {"stop", {"God said"}}});
    const token_id mask = m.facts.info.mask;
    const auto ids = m.s.codec()->encode("And God said", false);
    REQUIRE(ids.size() == 12);
    serve::text_stream ts(m.facts, r);
    std::vector<token_id> region(12, mask);
    bool settled = false;
    std::string streamed;
    for (std::size_t k = 0; k < 12; ++k) {  // left to right, one position per step
        region[k] = ids[k];
        streamed += ts.advance(region, settled);
        if (k < 10) {  // "And God sai": "God sai" may still become the stop string
            CHECK(!settled);
            CHECK(streamed == std::string("And God said").substr(0, std::min<std::size_t>(k + 1, 4)));
        }
    }
    CHECK(settled);
    CHECK(streamed == "And ");
    const auto final = serve::text_of(m.facts, r, region);
    CHECK(final.text == "And ");
    CHECK(final.finish_reason == "stop");
    CHECK(ts.finish(final).empty());
    // A committed EOS ends the text there; positions after it do not count.
    std::vector<token_id> eos = {ids[0], ids[1], 64, ids[3]};
    r.region_length = 4;
    const auto t = serve::text_of(m.facts, r, eos);
    CHECK(t.text == "An");
    CHECK(t.finish_reason == "stop");
    CHECK(t.completion_tokens == 2);
    // Out of order: nothing is final while the first position is masked.
    serve::text_stream ts2(m.facts, r);
    std::vector<token_id> gap = {mask, ids[1], ids[2], ids[3]};
    CHECK(ts2.advance(gap, settled).empty());
}

TEST_CASE("request: paths of the model never reach a client") {
    const std::string msg = "cannot read " + std::string(DDIFF_SHIPPED_MODEL) + "/model.safetensors";
    CHECK(serve::scrub(msg, shipped_model().facts) == "cannot read kjv-char/model.safetensors");
    const auto schema = serve::options_schema(serve::limits{}, shipped_model().facts);
    CHECK(schema.dump().find(DDIFF_SHIPPED_MODEL) == std::string::npos);
    bool has_steps = false;
    for (const auto& f : schema["fields"]) has_steps = has_steps || f["name"] == "steps";
    CHECK(has_steps);
}
