// ddiff serve: an OpenAI request body parsed and validated into a decode request, without the
// HTTP layer or the model (so a libFuzzer target can drive it: tests/fuzz/fuzz_server_request.cpp).
// Every error is an api_error: OpenAI's error object (message, type, param, code) and the HTTP
// status to send it with. The diffusion extensions are the runtime's decode_options fields,
// read by name (runtime/json_fields.hpp), so their names, ranges and messages are the CLI's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <ddiff/runtime/model.hpp>
#include <ddiff/runtime/session.hpp>

namespace ddiff::serve {

// An error as the client sees it: {"error": {"message", "type", "param", "code"}} with `status`.
struct api_error {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param;  // empty: null
    std::string code;   // empty: null
};
nlohmann::json error_body(const api_error& e);

// The server's limits on what one request may ask (command-line flags of ddiff serve).
struct limits {
    std::size_t max_tokens = 1024;   // max_tokens (generated positions per choice)
    std::uint32_t max_steps = 1024;  // steps
    std::size_t max_n = 8;           // n (choices = batch rows of one request)
    std::size_t max_context = 4096;  // prompt + generated positions (and the model's own maximum)
    std::size_t max_stop = 4;        // stop strings
};

// What the parser needs of the served model.
struct model_facts {
    runtime::model_info info;
    std::string id;                            // the model's name in the API (no path)
    const runtime::text_codec* codec = nullptr;  // null: token-id prompts only
    std::vector<std::string> scrub;            // strings (paths) never shown to a client
};

enum class endpoint { completions, chat };

// A request, parsed and validated: what the scheduler decodes and how the answer is written.
struct parsed_request {
    endpoint kind = endpoint::completions;
    runtime::decode_request decode;  // prompt (or canvas, with suffix), options, one seed per choice
    std::size_t n = 1;
    std::uint64_t seed = 0;           // choice i decodes with seed + i
    bool stream = false, stream_canvas = false, include_usage = false, echo = false, return_tokens = false;
    std::vector<std::string> stop;
    std::string prompt_text;          // the prompt as text (echo)
    std::size_t prompt_tokens = 0;    // positions before the generated region
    std::size_t region_begin = 0, region_length = 0;  // the generated positions of each row
    // Rows of requests with the same key are decoded together (the same decode options but
    // the seed, the same input length and layout); empty: decoded alone (an adaptive step
    // rule over several blocks: its steps depend on the other rows).
    std::string batch_key;
    // Whether a committed position keeps its token (absorbing noise, no re-masking): then the
    // text of the committed prefix is final and may be streamed before the end.
    bool prefix_final = true;
};

// Parses and validates a JSON body. `random_seed` is the seed used when the body gives none.
// Throws api_error only.
parsed_request parse_request(endpoint kind, std::string_view body, const model_facts& model, const limits& lim,
                             std::uint64_t random_seed);

// A message with every `scrub` string replaced by the model id.
std::string scrub(std::string message, const model_facts& model);

// The body of GET /ddiff/options: every extension field (name, type, help, range, choices,
// default) and the server's limits.
nlohmann::json options_schema(const limits& lim, const model_facts& model);

}  // namespace ddiff::serve
