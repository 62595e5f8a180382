// ddiff serve over plain HTTP (cpp-httplib's client) with the shipped model: every endpoint,
// answers equal to `ddiff generate` for the same seed and settings, SSE framing, the OpenAI
// error objects and their statuses, authentication, the queue bound, the timeout, a client's
// disconnect cancelling its row, and the shutdown on SIGTERM. Each test starts its own server
// on a free loopback port (tests/server/process.hpp).
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>

#include "process.hpp"

using namespace ddiff::test;
using namespace std::chrono_literals;

namespace {

const std::string prompt = "In the beginning";
constexpr std::size_t prompt_tokens = 16;  // the shipped model's tokenizer is character-level

json post_json(httplib::Client& c, const std::string& path, const json& body, int expect_status = 200) {
    const auto r = c.Post(path.c_str(), body.dump(), "application/json");
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == expect_status);
    CHECK(r->get_header_value("Content-Type") == "application/json");
    return json::parse(r->body);
}

// A POST whose body is streamed: the raw body as received.
struct streamed {
    int status = 0;
    std::string content_type, body;
};
streamed post_stream(httplib::Client& c, const std::string& path, const std::string& body,
                     std::function<bool(const std::string&)> keep_going = {}) {
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    streamed s;
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
        s.body.append(data, n);
        return keep_going ? keep_going(s.body) : true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    c.send(req, res, err);
    s.status = res.status;
    s.content_type = res.get_header_value("Content-Type");
    return s;
}

// The generated ids of a choice (ddiff.choices[i].tokens, with return_tokens).
std::vector<int> tokens_of(const json& answer, std::size_t i) {
    return answer.at("ddiff").at("choices").at(i).at("tokens").get<std::vector<int>>();
}

void check_error(const json& e, const std::string& param, const std::string& message_start) {
    INFO(e.dump());
    REQUIRE(e.contains("error"));
    const json& x = e["error"];
    CHECK(x.at("type").is_string());
    CHECK(x.at("message").get<std::string>().rfind(message_start, 0) == 0);
    if (param.empty()) CHECK(x.at("param").is_null());
    else CHECK(x.at("param") == param);
    CHECK(x.contains("code"));
}

}  // namespace

TEST_CASE("serve: /health, /v1/models, unknown paths and methods") {
    server_process srv;
    auto c = srv.client();
    auto h = c.Get("/health");
    REQUIRE(h);
    CHECK(h->status == 200);
    CHECK(json::parse(h->body)["status"] == "ok");

    auto m = c.Get("/v1/models");
    REQUIRE(m);
    CHECK(m->status == 200);
    const json models = json::parse(m->body);
    CHECK(models["object"] == "list");
    REQUIRE(models["data"].size() == 1);
    CHECK(models["data"][0]["id"] == "kjv-char");
    CHECK(models["data"][0]["object"] == "model");
    CHECK(models["data"][0]["ddiff"]["vocab"] == 66);
    CHECK(models["data"][0]["ddiff"]["chat_template"] == true);
    // No path of the model directory is shown.
    CHECK(m->body.find("/models/") == std::string::npos);

    auto one = c.Get("/v1/models/kjv-char");
    REQUIRE(one);
    CHECK(one->status == 200);
    auto missing = c.Get("/v1/models/gpt-4");
    REQUIRE(missing);
    CHECK(missing->status == 404);
    check_error(json::parse(missing->body), "model", "the model 'gpt-4' does not exist");

    auto nf = c.Get("/v1/nothing");
    REQUIRE(nf);
    CHECK(nf->status == 404);
    check_error(json::parse(nf->body), "", "no route for GET /v1/nothing");
    auto wrong = c.Get("/v1/completions");
    REQUIRE(wrong);
    CHECK(wrong->status == 405);
    CHECK(wrong->get_header_value("Allow") == "POST");
    check_error(json::parse(wrong->body), "", "method GET is not allowed on /v1/completions");

    auto page = c.Get("/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->get_header_value("Content-Type").rfind("text/html", 0) == 0);
    CHECK(page->body.find("stream_canvas") != std::string::npos);
    CHECK(page->body.find("http://") == std::string::npos);  // nothing fetched from elsewhere
    CHECK(page->body.find("https://") == std::string::npos);

    auto metrics = c.Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 200);
    CHECK(metrics->body.find("# TYPE ddiff_requests_total counter") != std::string::npos);
    CHECK(metrics->body.find("ddiff_step_seconds_bucket") != std::string::npos);
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: completions equal ddiff generate for the same seed and settings") {
    server_process srv;
    auto c = srv.client();
    struct setting {
        json body;
        std::vector<std::string> flags;
    };
    const std::vector<setting> settings = {
        {{{"max_tokens", 24}, {"steps", 24}, {"seed", 11}},
         {"--length", "24", "--steps", "24", "--seed", "11"}},
        {{{"max_tokens", 24}, {"steps", 12}, {"seed", 3}, {"block_length", 8}, {"temperature", 0.7}, {"remask", "random"},
          {"top_k", 20}},
         {"--length", "24", "--steps", "12", "--seed", "3", "--block-length", "8", "--temperature", "0.7", "--remask",
          "random", "--top-k", "20"}},
        {{{"max_tokens", 16}, {"steps", 16}, {"seed", 5}, {"sampler", "threshold"}, {"threshold", 0.5}, {"block_length", 8},
          {"cache", "dual"}},
         {"--length", "16", "--steps", "16", "--seed", "5", "--sampler", "threshold", "--threshold", "0.5",
          "--block-length", "8", "--cache", "dual"}},
    };
    for (const auto& s : settings) {
        json body = s.body;
        body["prompt"] = prompt;
        body["model"] = "kjv-char";
        body["return_tokens"] = true;
        body["n"] = 2;
        INFO(body.dump());
        const json a = post_json(c, "/v1/completions", body);
        CHECK(a["object"] == "text_completion");
        CHECK(a["model"] == "kjv-char");
        CHECK(a["id"].get<std::string>().rfind("cmpl-", 0) == 0);
        REQUIRE(a["choices"].size() == 2);
        auto flags = s.flags;
        flags.insert(flags.end(), {"--prompt", prompt, "--num-samples", "2"});
        const auto ids = cli_ids(flags);
        const std::string text = cli_text(flags);
        std::vector<std::string> lines;
        for (std::size_t i = 0, j; i < text.size(); i = j + 1) {
            j = text.find('\n', i);
            lines.push_back(text.substr(i, j - i));
        }
        REQUIRE(ids.size() == 2);
        for (std::size_t i = 0; i < 2; ++i) {
            const std::vector<int> region(ids[i].begin() + prompt_tokens, ids[i].end());
            const auto got = tokens_of(a, i);
            const auto eos = std::find(region.begin(), region.end(), 64);  // the shipped model's EOS
            // The server stops a row once an EOS is committed in its final prefix: the ids up to
            // the EOS are the CLI's, and the text ends there.
            const std::size_t k = std::size_t(eos - region.begin());
            REQUIRE(got.size() == region.size());
            CHECK(std::vector<int>(got.begin(), got.begin() + std::ptrdiff_t(k)) ==
                  std::vector<int>(region.begin(), region.begin() + std::ptrdiff_t(k)));
            CHECK(a["choices"][i]["index"] == i);
            CHECK(a["ddiff"]["choices"][i]["seed"] == body["seed"].get<int>() + int(i));
            if (eos == region.end()) {
                // The CLI prints the prompt and the sample (a newline inside it as \n).
                std::string expect = lines.at(i).substr(prompt.size());
                for (std::size_t p = expect.find("\\n"); p != std::string::npos; p = expect.find("\\n", p + 1))
                    expect.replace(p, 2, "\n");
                CHECK(a["choices"][i]["text"] == expect);
                CHECK(a["choices"][i]["finish_reason"] == "length");
                CHECK(a["usage"]["completion_tokens"].get<int>() >= int(region.size()));
            } else {
                CHECK(a["choices"][i]["finish_reason"] == "stop");
            }
        }
        CHECK(a["usage"]["prompt_tokens"] == prompt_tokens);
        CHECK(a["usage"]["total_tokens"] == a["usage"]["prompt_tokens"].get<int>() + a["usage"]["completion_tokens"].get<int>());
        CHECK(a["ddiff"]["nfe"].get<int>() >= 1);
        CHECK(a["ddiff"]["steps"].get<int>() >= 1);
    }
    // The default settings too: the first rows of the CLI's default decode.
    const json d = post_json(c, "/v1/completions", {{"prompt", prompt}, {"seed", 0}, {"return_tokens", true}});
    const auto ids = cli_ids({"--prompt", prompt});
    const auto got = tokens_of(d, 0);
    REQUIRE(ids.size() == 1);
    CHECK(d["ddiff"]["steps"] == 64);
    CHECK(d["usage"]["prompt_tokens"] == 16);
    REQUIRE(got.size() == 64);
    const std::vector<int> region(ids[0].begin() + prompt_tokens, ids[0].end());
    const std::ptrdiff_t k = std::find(region.begin(), region.end(), 64) - region.begin();
    CHECK(k > 0);
    CHECK(std::vector<int>(got.begin(), got.begin() + k) == std::vector<int>(region.begin(), region.begin() + k));
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: chat completions render the model's chat template as ddiff generate --chat does") {
    server_process srv;
    auto c = srv.client();
    const json body = {{"model", "kjv-char"},
                       {"messages", {{{"role", "system"}, {"content", "In the beginning"}},
                                     {{"role", "user"}, {"content", "And God said"}}}},
                       {"max_tokens", 24},
                       {"steps", 24},
                       {"seed", 9},
                       {"return_tokens", true}};
    const json a = post_json(c, "/v1/chat/completions", body);
    CHECK(a["object"] == "chat.completion");
    CHECK(a["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
    CHECK(a["choices"][0]["message"]["role"] == "assistant");
    const std::vector<std::string> flags = {"--chat", "--system", "In the beginning", "--prompt", "And God said",
                                            "--length", "24", "--steps", "24", "--seed", "9"};
    const auto ids = cli_ids(flags);
    // The template writes each turn's content on a line: 16 + 1 + 12 + 1 positions of prompt.
    CHECK(a["usage"]["prompt_tokens"] == 30);
    REQUIRE(ids.size() == 1);
    const std::vector<int> region(ids[0].begin() + 30, ids[0].end());
    const auto got = tokens_of(a, 0);
    const auto eos = std::find(region.begin(), region.end(), 64);
    const std::ptrdiff_t k = eos - region.begin();
    CHECK(std::vector<int>(got.begin(), got.begin() + k) == std::vector<int>(region.begin(), region.begin() + k));
    if (eos == region.end()) {
        std::string reply = cli_text(flags);
        reply.pop_back();  // the CLI's newline
        CHECK(a["choices"][0]["message"]["content"] == reply);
    }
    // A model without a chat template (the oracle) refuses chat with 422.
    CHECK(srv.stop() == 0);
    server_process markov({"--model", "markov"});
    auto m = markov.client();
    check_error(post_json(m, "/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}}, 422),
                "messages", "model 'markov' has no chat template");
}

TEST_CASE("serve: streaming is Server-Sent Events in OpenAI's chunk format, ending with [DONE]") {
    server_process srv;
    auto c = srv.client();
    const json body = {{"prompt", prompt}, {"max_tokens", 32}, {"steps", 32}, {"block_length", 8}, {"seed", 21}};
    const json whole = post_json(c, "/v1/completions", body);

    json sbody = body;
    sbody["stream"] = true;
    sbody["stream_options"] = {{"include_usage", true}};
    const auto s = post_stream(c, "/v1/completions", sbody.dump());
    CHECK(s.status == 200);
    CHECK(s.content_type.rfind("text/event-stream", 0) == 0);
    bool ok = false;
    const auto events = parse_sse(s.body, ok);
    CHECK(ok);
    REQUIRE(events.size() >= 3);
    CHECK(events.back().data == "[DONE]");
    std::string text;
    std::size_t text_chunks = 0;
    json usage, finish;
    std::string id;
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
        const json e = json::parse(events[i].data);
        CHECK(e["object"] == "text_completion");
        if (id.empty()) id = e["id"];
        CHECK(e["id"] == id);  // one id for every chunk
        if (e.contains("usage")) {
            usage = e["usage"];
            CHECK(e["choices"].empty());
            continue;
        }
        REQUIRE(e["choices"].size() == 1);
        const json& ch = e["choices"][0];
        text += ch["text"].get<std::string>();
        if (!ch["text"].get<std::string>().empty()) ++text_chunks;
        if (!ch["finish_reason"].is_null()) finish = e;
    }
    CHECK(text == whole["choices"][0]["text"]);
    // Block by block: text arrives in several chunks before the end.
    CHECK(text_chunks >= 2);
    REQUIRE(finish.is_object());
    CHECK(finish["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]);
    CHECK(finish["ddiff"]["nfe"].get<int>() >= 1);
    REQUIRE(usage.is_object());
    CHECK(usage == whole["usage"]);

    // Chat: the first chunk gives the role, then content deltas.
    const json chat = {{"messages", {{{"role", "user"}, {"content", "And God said"}}}}, {"max_tokens", 16},
                       {"steps", 16}, {"seed", 2}, {"stream", true}};
    const auto cs = post_stream(c, "/v1/chat/completions", chat.dump());
    const auto cev = parse_sse(cs.body, ok);
    CHECK(ok);
    REQUIRE(cev.size() >= 3);
    const json first = json::parse(cev[0].data);
    CHECK(first["object"] == "chat.completion.chunk");
    CHECK(first["choices"][0]["delta"]["role"] == "assistant");
    CHECK(cev.back().data == "[DONE]");
    std::string reply;
    for (std::size_t i = 0; i + 1 < cev.size(); ++i) {
        const json e = json::parse(cev[i].data);
        if (e["choices"][0]["delta"].contains("content")) reply += e["choices"][0]["delta"]["content"].get<std::string>();
    }
    json nonstream = chat;
    nonstream.erase("stream");
    CHECK(reply == post_json(c, "/v1/chat/completions", nonstream)["choices"][0]["message"]["content"]);

    // The canvas stream: one event per step, the masked positions (null) shrinking to none.
    json canvas = body;
    canvas["stream"] = true;
    canvas["stream_canvas"] = true;
    canvas["return_tokens"] = true;
    const auto cv = post_stream(c, "/v1/completions", canvas.dump());
    const auto vev = parse_sse(cv.body, ok);
    CHECK(ok);
    std::vector<std::size_t> masked;
    std::vector<int> steps;
    std::string last_cells;
    for (const auto& e : vev) {
        if (e.event != "canvas") continue;
        const json x = json::parse(e.data);
        CHECK(x["object"] == "ddiff.canvas");
        std::size_t m = 0;
        last_cells.clear();
        for (const auto& t : x["tokens"]) {
            if (t.is_null()) ++m;
            else last_cells += t.get<std::string>();
        }
        CHECK(x["tokens"].size() == 32);
        masked.push_back(m);
        steps.push_back(x["step"]);
        CHECK(x["nfe"].get<int>() == int(steps.size()));
    }
    REQUIRE(masked.size() >= 4);
    CHECK(masked.front() < 32);
    CHECK(std::is_sorted(masked.rbegin(), masked.rend()));  // never more masks than before
    CHECK(steps == [&] {
        std::vector<int> v(steps.size());
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = int(i);
        return v;
    }());
    if (masked.back() == 0 && whole["choices"][0]["finish_reason"] == "length")
        CHECK(last_cells == whole["choices"][0]["text"]);
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: bad requests get OpenAI's error object with the status and the param") {
    server_process srv({"--max-tokens", "256", "--max-body", "4096"});
    auto c = srv.client();
    struct bad_case {
        std::string body;
        int status;
        std::string param, message;
    };
    const std::vector<bad_case> cases = {
        {"", 400, "", "the request body is empty"},
        {"{not json", 400, "", "the request body is not valid JSON"},
        {"[1,2]", 400, "", "the request body is a JSON array, expected an object"},
        {R"({"max_tokens": 8})", 400, "prompt", "prompt is required"},
        {R"({"prompt": "In", "steps": 0})", 400, "steps", "steps = '0', expected an integer in [1, 1048576]"},
        {R"({"prompt": "In", "steps": 8.5})", 400, "steps", "steps = '8.5', expected an integer"},
        {R"({"prompt": "In", "max_tokens": "8"})", 400, "max_tokens", "max_tokens = '8', expected an integer"},
        {R"({"prompt": "In", "max_tokens": 300})", 400, "max_tokens",
         "max_tokens = '300', expected at most 256 (this server's --max-tokens)"},
        {R"({"prompt": "In", "temperature": -1})", 400, "temperature", "temperature = '-1', expected a number in [0, 1000000]"},
        {R"({"prompt": "In", "top_p": 0})", 400, "top_p", "top_p = '0', expected a number in (0, 1]"},
        {R"({"prompt": "In", "length": 8})", 400, "length", "unrecognized request argument supplied: length"},
        {R"({"prompt": "In", "frobnicate": 1})", 400, "frobnicate", "unrecognized request argument supplied: frobnicate"},
        {R"({"prompt": "In", "model": "gpt-4"})", 404, "model", "the model 'gpt-4' does not exist"},
        {R"({"prompt": "In", "logprobs": 3})", 422, "logprobs", "logprobs is not supported"},
        {R"({"prompt": "In", "max_tokens": 16, "block_length": 7})", 400, "block_length",
         "block_length = '7', expected a divisor of 16"},
        {R"({"prompt": "In", "max_tokens": 16, "steps": 7, "block_length": 8})", 400, "steps",
         "steps = '7', expected a multiple of the 2 blocks"},
        {R"({"prompt": "In", "cache": "prefix", "cfg_scale": 1})", 400, "cache", "cache = 'prefix' with cfg_scale = 1"},
        {R"({"prompt": "In", "n": 0})", 400, "n", "n = '0', expected an integer in [1, 8]"},
        {R"({"prompt": "In", "stop": [1]})", 400, "stop", "stop = '1', expected a non-empty string"},
        {R"({"prompt": "In", "stream_canvas": true})", 400, "stream_canvas", "stream_canvas needs stream: true"},
        {R"({"prompt": [1, 2, 999]})", 400, "prompt", "prompt item = '999', expected a token id in [0, 66)"},
        {R"({"prompt": "caf\u00e9"})", 400, "prompt", "the model's tokenizer cannot encode the prompt"},
        {R"({"prompt": "In", "eos_ids": [70]})", 400, "eos_ids", "eos_ids item = '70', expected a token id in [0, 66)"},
        {R"({"prompt": "In", "seed": -1})", 400, "seed", "seed = '-1', expected an integer"},
        {std::string(R"({"prompt": ")") + std::string(5000, 'a') + "\"}", 413, "", "the request body is larger than"},
        {std::string(40, '[') + std::string(40, ']'), 400, "", "the request body nests deeper than 32 levels"},
    };
    for (const auto& k : cases) {
        INFO(k.body.substr(0, 80));
        const auto r = c.Post("/v1/completions", k.body, "application/json");
        REQUIRE(r);
        CHECK(r->status == k.status);
        check_error(json::parse(r->body), k.param, k.message);
    }
    // The extension names, ranges and messages are the CLI's own: the same bad value gives the
    // same text as `ddiff generate --sampler nope` (without the flag's dashes).
    const auto cli = run({DDIFF_PROGRAM, "generate", "--sampler", "nope"}, true);
    CHECK(cli.code == 2);
    const std::string cli_message = cli.out.substr(cli.out.find("--sampler = ") + 2);
    const json e = post_json(c, "/v1/completions", {{"prompt", "In"}, {"sampler", "nope"}}, 400);
    CHECK(e["error"]["param"] == "sampler");
    CHECK(e["error"]["message"].get<std::string>() + "\n" == cli_message);
    const json r2 = post_json(c, "/v1/chat/completions", {{"messages", json::array()}}, 400);
    check_error(r2, "messages", "messages = '[]', expected a non-empty array");
    // The server is still there and answers.
    CHECK(post_json(c, "/v1/completions", {{"prompt", "In"}, {"max_tokens", 4}, {"steps", 4}})["choices"].size() == 1);
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: --api-key asks for Authorization: Bearer on /v1 and /metrics") {
    server_process srv({"--api-key", "s3cret-key"});
    auto c = srv.client();
    const std::string body = R"({"prompt": "In", "max_tokens": 4, "steps": 4})";
    auto none = c.Post("/v1/completions", body, "application/json");
    REQUIRE(none);
    CHECK(none->status == 401);
    check_error(json::parse(none->body), "", "no API key");
    auto wrong = c.Post("/v1/completions", httplib::Headers{{"Authorization", "Bearer s3cret-kez"}}, body, "application/json");
    REQUIRE(wrong);
    CHECK(wrong->status == 401);
    CHECK(json::parse(wrong->body)["error"]["code"] == "invalid_api_key");
    auto prefix = c.Post("/v1/completions", httplib::Headers{{"Authorization", "Bearer s3cret"}}, body, "application/json");
    REQUIRE(prefix);
    CHECK(prefix->status == 401);
    auto models = c.Get("/v1/models");
    REQUIRE(models);
    CHECK(models->status == 401);
    auto metrics = c.Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 401);
    auto health = c.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    c.set_bearer_token_auth("s3cret-key");
    auto ok = c.Post("/v1/completions", body, "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: a full queue answers 503 with Retry-After; a disconnect cancels the row") {
    server_process srv({"--max-queue", "1", "--max-batch", "1"});
    auto c = srv.client();
    // A long request occupies the model; its client leaves after the first streamed events.
    const json long_body = {{"prompt", prompt}, {"max_tokens", 512}, {"steps", 512}, {"stream", true}, {"stream_canvas", true}};
    std::atomic<bool> leave{false};
    auto first = std::async(std::launch::async, [&] {
        auto c1 = srv.client();
        return post_stream(c1, "/v1/completions", long_body.dump(), [&](const std::string&) { return !leave.load(); });
    });
    auto wait_for = [&](const char* what, double value) {
        for (int i = 0; i < 6000 && metric(c, what) != value; ++i) std::this_thread::sleep_for(10ms);
        return metric(c, what) == value;
    };
    REQUIRE(wait_for("ddiff_running_rows", 1));
    // A second one waits in the queue (its client gives up after 1 s: a disconnect while queued).
    auto second = std::async(std::launch::async, [&] {
        auto c2 = srv.client(1.0);
        return c2.Post("/v1/completions", R"({"prompt": "In", "max_tokens": 8, "steps": 8})", "application/json");
    });
    REQUIRE(wait_for("ddiff_queue_depth", 1));
    // A third is refused.
    const auto full = c.Post("/v1/completions", R"({"prompt": "In", "max_tokens": 8, "steps": 8})", "application/json");
    REQUIRE(full);
    CHECK(full->status == 503);
    CHECK(std::stoi(full->get_header_value("Retry-After")) >= 1);
    check_error(json::parse(full->body), "", "the server's queue is full");
    CHECK(json::parse(full->body)["error"]["code"] == "queue_full");
    CHECK(metric(c, "ddiff_queue_rejected_total") == 1);

    const auto r2 = second.get();  // the client timed out and closed its connection
    CHECK(!r2);
    CHECK(wait_for("ddiff_queue_depth", 0));
    // The first client leaves: its row stops at the next step, long before its 512 steps.
    leave = true;
    const auto r1 = first.get();
    CHECK(r1.status == 200);
    CHECK(wait_for("ddiff_running_rows", 0));
    CHECK(metric(c, "ddiff_rows_cancelled_total{reason=\"disconnect\"}") == 2);
    CHECK(metric(c, "ddiff_model_calls_total") < 512);
    // The model is free again.
    CHECK(post_json(c, "/v1/completions", {{"prompt", "In"}, {"max_tokens", 4}, {"steps", 4}})["choices"].size() == 1);
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: a request past --timeout ends with an error; its row stops") {
    server_process srv({"--timeout", "0.5"});
    auto c = srv.client();
    const auto t0 = std::chrono::steady_clock::now();
    const json e = post_json(c, "/v1/completions", {{"prompt", prompt}, {"max_tokens", 1000}, {"steps", 1000}}, 504);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    check_error(e, "", "the request took longer than this server's --timeout");
    CHECK(e["error"]["code"] == "timeout");
    CHECK(secs < 30);
    CHECK(metric(c, "ddiff_rows_cancelled_total{reason=\"timeout\"}") == 1);
    CHECK(metric(c, "ddiff_model_calls_total") < 1000);
    // A streamed request past its time gets the error as its last event, then [DONE].
    const auto s = post_stream(c, "/v1/completions",
                               json{{"prompt", prompt}, {"max_tokens", 1000}, {"steps", 1000}, {"stream", true}}.dump());
    bool ok = false;
    const auto ev = parse_sse(s.body, ok);
    CHECK(ok);
    REQUIRE(ev.size() >= 2);
    CHECK(ev.back().data == "[DONE]");
    CHECK(json::parse(ev[ev.size() - 2].data)["error"]["code"] == "timeout");
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: SIGTERM lets the running request finish, refuses new ones and exits 0") {
    server_process srv;
    auto c = srv.client();
    const json body = {{"prompt", prompt}, {"max_tokens", 128}, {"steps", 128}, {"seed", 4}, {"return_tokens", true}};
    auto running = std::async(std::launch::async, [&] {
        auto c1 = srv.client();
        return c1.Post("/v1/completions", body.dump(), "application/json");
    });
    for (int i = 0; i < 6000 && metric(c, "ddiff_running_rows") != 1; ++i) std::this_thread::sleep_for(5ms);
    REQUIRE(metric(c, "ddiff_running_rows") == 1);
    kill(srv.pid(), SIGTERM);
    // New requests are refused while the running one finishes.
    bool refused = false;
    for (int i = 0; i < 200 && !refused; ++i) {
        const auto r = c.Post("/v1/completions", R"({"prompt": "In", "max_tokens": 4, "steps": 4})", "application/json");
        refused = !r || r->status == 503;
        if (!refused) std::this_thread::sleep_for(5ms);
    }
    CHECK(refused);
    const auto r = running.get();
    REQUIRE(r);
    CHECK(r->status == 200);
    const json a = json::parse(r->body);
    REQUIRE(a.contains("choices"));
    // Finished, not cut short: all its steps, or stopped once an EOS made its text final.
    CHECK((a["ddiff"]["steps"] == 128 || a["choices"][0]["finish_reason"] == "stop"));
    CHECK(srv.stop(0) == 0);            // signal 0: only waits for the exit
}
