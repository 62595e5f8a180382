// ddiff serve: an OpenAI-compatible HTTP server for a diffusion LM, with a live canvas page at /
// (tools/ddiff/server/; docs/server.md).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "server/server.hpp"

namespace ddiff::cli {
namespace {

struct serve_args {
    std::string host = "127.0.0.1";
    std::size_t port = 8080;
    std::string api_key;
    std::size_t max_queue = 64, max_batch = 8;
    double timeout = 60.0;
    std::size_t max_tokens = 1024;
    std::uint32_t max_steps = 1024;
    std::size_t max_n = 8, max_context = 4096, max_body = 1 << 20;

    template <class V>
    void for_each_field(V&& v) {
        v(runtime::field_info{"host", "ADDR", "address to listen on (loopback by default; 0.0.0.0 for every interface)"},
          host);
        v(runtime::field_info{"port", "N", "TCP port (0: any free port, printed at start)", 0.0, 65535.0}, port);
        v(runtime::field_info{"api_key", "KEY", "require 'Authorization: Bearer KEY' on /v1/* and /metrics (default: "
                                                "$DDIFF_API_KEY if set, else no authentication)"},
          api_key);
        v(runtime::field_info{"max_queue", "N", "requests that may wait for the model; more get 503 with Retry-After",
                              1.0, 4096.0},
          max_queue);
        v(runtime::field_info{"max_batch", "N", "rows (choices) of compatible requests decoded together", 1.0, 256.0},
          max_batch);
        v(runtime::field_info{"timeout", "S", "seconds a request may take from arrival to answer (0: no limit)", 0.0, 1e6},
          timeout);
        v(runtime::field_info{"max_tokens", "N", "largest max_tokens a request may ask", 1.0, 1 << 20}, max_tokens);
        v(runtime::field_info{"max_steps", "N", "largest steps a request may ask", 1.0, 1 << 20}, max_steps);
        v(runtime::field_info{"max_n", "N", "largest n (choices) a request may ask", 1.0, 256.0}, max_n);
        v(runtime::field_info{"max_context", "N", "most positions (prompt + generated) of a request, besides the "
                                                  "model's own maximum",
                              1.0, 1 << 24},
          max_context);
        v(runtime::field_info{"max_body", "BYTES", "largest request body (larger: 413)", 1024.0, 1 << 30}, max_body);
    }
};

// The model's name in the API: its directory or file name, never its path.
std::string model_id(const std::string& spec) {
    if (spec == "markov" || spec.rfind("markov:", 0) == 0) return "markov";
    std::filesystem::path p = std::filesystem::path(spec).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    std::string id = p.filename().string();
    if (p.extension() == ".gguf") id = p.stem().string();
    return id.empty() ? "model" : id;
}

class serve_command final : public command {
public:
    serve_command() { model_.model = default_model(); }
    const char* name() const override { return "serve"; }
    const char* summary() const override {
        return "Serve a model over HTTP with OpenAI's API (/v1/completions, /v1/chat/completions, streaming) and a\n"
               "page at / that shows the canvas as the decoder reveals it. Decoder settings are request fields\n"
               "named as ddiff generate's flags (steps, sampler, block_length, ...; docs/server.md).";
    }
    void fields(const field_visitor& v) override {
        visit_fields(model_, v);
        visit_fields(args_, v);
    }
    int run(const given_flags& given) override {
        model_.validate();
        if (!given.count("api-key"))
            if (const char* k = std::getenv("DDIFF_API_KEY")) args_.api_key = k;
        auto s = open_session(model_);
        serve::model_facts facts{.info = s.info(), .id = model_id(model_.model), .codec = s.codec()};
        facts.scrub.push_back(model_.model);
        std::error_code ec;
        const auto abs = std::filesystem::absolute(model_.model, ec);
        if (!ec) facts.scrub.push_back(abs.string());
        const auto canon = std::filesystem::canonical(model_.model, ec);
        if (!ec) facts.scrub.push_back(canon.string());
        std::sort(facts.scrub.begin(), facts.scrub.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
        serve::server_options o;
        o.host = args_.host;
        o.port = static_cast<int>(args_.port);
        o.api_key = args_.api_key;
        o.timeout = args_.timeout;
        o.max_body = args_.max_body;
        o.lim.max_tokens = args_.max_tokens;
        o.lim.max_steps = args_.max_steps;
        o.lim.max_n = args_.max_n;
        o.lim.max_context = args_.max_context;
        o.sched.max_queue = args_.max_queue;
        o.sched.max_batch = args_.max_batch;
        return serve::run_server(s, facts, o);
    }

private:
    runtime::model_options model_;
    serve_args args_;
};

}  // namespace

std::unique_ptr<command> make_serve() { return std::make_unique<serve_command>(); }

}  // namespace ddiff::cli
