// ddiff serve: the HTTP layer (server.hpp) on cpp-httplib 0.11 (Debian's libcpp-httplib).
#include "server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <random>
#include <thread>

#include <httplib.h>

#include <ddiff/runtime/json_fields.hpp>

#include "page.hpp"
#include "response.hpp"
#include "socket.hpp"

namespace ddiff::serve {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// The write end of the self-pipe SIGINT / SIGTERM are reported through.
int signal_pipe = -1;
extern "C" void on_signal(int) {
    if (signal_pipe >= 0) {
        const char c = 's';
        [[maybe_unused]] const auto n = write(signal_pipe, &c, 1);
    }
}

// Equal strings, in a time that depends on the length of `key` only.
bool constant_time_equal(std::string_view given, std::string_view key) {
    unsigned char diff = given.size() == key.size() ? 0 : 1;
    for (std::size_t i = 0; i < key.size(); ++i)
        diff |= static_cast<unsigned char>((i < given.size() ? given[i] : 0) ^ key[i]);
    return diff == 0;
}

void send(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const api_error& e) { send(res, e.status, error_body(e)); }

api_error error_of(int status, std::string message, std::string type, std::string code) {
    return api_error{status, std::move(message), std::move(type), "", std::move(code)};
}

// The routes: path -> allowed method and whether the API key is asked for.
struct route_info {
    const char* path;
    const char* method;
    bool auth;
};
constexpr route_info routes[] = {
    {"/", "GET", false},
    {"/health", "GET", false},
    {"/ddiff/options", "GET", false},
    {"/metrics", "GET", true},
    {"/v1/models", "GET", true},
    {"/v1/completions", "POST", true},
    {"/v1/chat/completions", "POST", true},
};
const route_info* find_route(const std::string& path) {
    for (const auto& r : routes)
        if (path == r.path) return &r;
    static constexpr route_info model{"/v1/models/{id}", "GET", true};
    if (path.rfind("/v1/models/", 0) == 0) return &model;
    return nullptr;
}

class server;

// A streamed answer: its provider writes what the scheduler reported since the last call.
struct stream_state {
    server* srv;
    std::shared_ptr<job> j;
    answer_meta meta;
    std::vector<text_stream> texts;
    clock_type::time_point arrived;
    bool started = false;
    bool pump(httplib::DataSink& sink);
    void release();
    std::string final_events();
};

class server {
public:
    server(runtime::session& s, const model_facts& m, const server_options& o)
        : model_(m), opt_(o), sched_(s, m, o.sched, metrics_), texts_(token_texts(m)), rng_(std::random_device{}()),
          started_(static_cast<long long>(std::time(nullptr))) {}

    int run();

    // Waits until the job is done (or, with `events`, has events), ending it while it waits in
    // the queue if its client left or its deadline passed.
    void wait(const std::shared_ptr<job>& j, bool events) {
        std::unique_lock l(j->m);
        for (;;) {
            if (j->st == job::state::done || (events && !j->events.empty())) return;
            j->cv.wait_for(l, 50ms);
            if (j->st != job::state::queued) continue;
            stop_reason r = stop_reason(j->stop.load());
            if (r == stop_reason::none && clock_type::now() >= j->deadline) r = stop_reason::timeout;
            if (r == stop_reason::none && peer_closed(j->fd)) r = stop_reason::disconnect;
            if (r == stop_reason::none) continue;
            l.unlock();
            if (sched_.withdraw(j, stopped_error(r)))
                for (std::size_t i = 0; i < j->req.n; ++i)
                    metrics_.cancelled(r == stop_reason::timeout ? "timeout" : r == stop_reason::shutdown ? "shutdown" : "disconnect");
            l.lock();
        }
    }
    void stop_and_wait(const std::shared_ptr<job>& j, stop_reason r) {
        int none = 0;
        j->stop.compare_exchange_strong(none, int(r));
        wait(j, false);
    }
    void request_done(const job& j, std::size_t completion_tokens) {
        metrics_.tokens(j.req.prompt_tokens, completion_tokens);
        metrics_.request_seconds(std::chrono::duration<double>(clock_type::now() - j.arrived).count());
    }
    void release() { --active_; }

    const model_facts& model() const { return model_; }
    const std::vector<std::string>& token_text() const { return texts_; }

private:
    void setup();
    bool authorized(const httplib::Request& req, httplib::Response& res) const;
    void completion(endpoint kind, const httplib::Request& req, httplib::Response& res);
    void signals(int pipe_read);
    std::string new_id(endpoint kind) {
        std::lock_guard l(rng_m_);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng_()));
        return std::string(kind == endpoint::chat ? "chatcmpl-" : "cmpl-") + buf;
    }
    std::uint64_t random_seed() {
        std::lock_guard l(rng_m_);
        return rng_();
    }

    const model_facts& model_;
    server_options opt_;
    metrics metrics_;
    scheduler sched_;
    std::vector<std::string> texts_;
    httplib::Server svr_;
    std::mutex rng_m_;
    std::mt19937_64 rng_;
    long long started_;
    std::atomic<int> active_{0};
    std::atomic<bool> shutting_down_{false};
};

bool server::authorized(const httplib::Request& req, httplib::Response& res) const {
    if (opt_.api_key.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    std::string given;
    if (h.size() > 7 && (h.compare(0, 7, "Bearer ") == 0 || h.compare(0, 7, "bearer ") == 0)) given = h.substr(7);
    if (!given.empty() && constant_time_equal(given, opt_.api_key)) return true;
    send_error(res, error_of(401,
                             h.empty() ? "no API key: send the header 'Authorization: Bearer KEY'"
                                       : "incorrect API key provided",
                             "invalid_request_error", "invalid_api_key"));
    res.set_header("WWW-Authenticate", "Bearer");
    return false;
}

void server::completion(endpoint kind, const httplib::Request& req, httplib::Response& res) {
    const auto arrived = clock_type::now();
    if (shutting_down_) {
        send_error(res, stopped_error(stop_reason::shutdown));
        return;
    }
    parsed_request pr;
    try {
        pr = parse_request(kind, req.body, model_, opt_.lim, random_seed());
    } catch (const api_error& e) {
        send_error(res, e);
        return;
    }
    const int fd = find_socket(req.remote_addr, req.remote_port, req.local_port);
    const auto deadline = opt_.timeout > 0
                              ? arrived + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(opt_.timeout))
                              : clock_type::time_point::max();
    auto j = std::make_shared<job>(std::move(pr), fd, deadline);
    switch (sched_.submit(j)) {
        case scheduler::admit::full:
            metrics_.rejected_full();
            send_error(res, error_of(503, "the server's queue is full (" + std::to_string(opt_.sched.max_queue) +
                                              " requests waiting): retry later",
                                     "server_error", "queue_full"));
            res.set_header("Retry-After", std::to_string(sched_.retry_after()));
            return;
        case scheduler::admit::closed:
            send_error(res, stopped_error(stop_reason::shutdown));
            return;
        case scheduler::admit::ok:
            break;
    }
    const answer_meta meta{new_id(kind), static_cast<long long>(std::time(nullptr))};
    if (!j->req.stream) {
        ++active_;
        wait(j, false);
        if (j->error) {
            send_error(res, *j->error);
        } else {
            std::size_t completion_tokens = 0;
            send(res, 200, completion_body(model_, j->req, *j, meta, completion_tokens));
            request_done(*j, completion_tokens);
        }
        --active_;
        return;
    }
    ++active_;
    auto st = std::make_shared<stream_state>();
    st->srv = this;
    st->j = j;
    st->meta = meta;
    st->arrived = arrived;
    for (std::size_t i = 0; i < j->req.n; ++i) st->texts.emplace_back(model_, j->req);
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream", [st](std::size_t, httplib::DataSink& sink) { return st->pump(sink); },
        [st](bool) { st->release(); });
}

std::string stream_state::final_events() {
    const parsed_request& r = j->req;
    const model_facts& m = srv->model();
    std::string out;
    if (j->error) {
        out += sse(error_body(*j->error));
    } else {
        std::size_t completion_tokens = 0;
        const json extra = ddiff_object(r, *j);
        for (std::size_t i = 0; i < j->choices.size(); ++i) {
            const auto c = text_of(m, r, j->choices[i].region);
            completion_tokens += c.completion_tokens;
            const std::string rest = texts[i].finish(c);
            if (!rest.empty()) out += sse(chunk(m, r, meta, i, rest, nullptr));
            json last = chunk(m, r, meta, i, "", c.finish_reason.c_str());
            last["ddiff"] = extra;
            out += sse(last);
        }
        if (r.include_usage) {
            json u = chunk(m, r, meta, 0, "", nullptr);
            u["choices"] = json::array();
            u["usage"] = usage(r.prompt_tokens, completion_tokens);
            u["ddiff"] = extra;
            out += sse(u);
        }
        srv->request_done(*j, completion_tokens);
    }
    out += "data: [DONE]\n\n";
    return out;
}

bool stream_state::pump(httplib::DataSink& sink) {
    const parsed_request& r = j->req;
    const model_facts& m = srv->model();
    std::string out;
    if (!started) {
        started = true;
        for (std::size_t i = 0; i < r.n; ++i) {
            if (r.kind == endpoint::chat) out += sse(chunk(m, r, meta, i, "", nullptr, /*role=*/true));
            else if (r.echo && !r.prompt_text.empty()) out += sse(chunk(m, r, meta, i, r.prompt_text, nullptr));
        }
    }
    if (out.empty()) {
        srv->wait(j, true);
        std::deque<step_copy> events;
        bool done = false;
        {
            std::lock_guard l(j->m);
            events.swap(j->events);
            done = j->st == job::state::done;
        }
        const auto& cells = srv->token_text();
        for (const auto& e : events) {
            if (r.stream_canvas) {
                json tokens = json::array();
                for (token_id v : e.region)
                    tokens.push_back(v == m.info.mask ? json(nullptr)
                                                      : json(static_cast<std::size_t>(v) < cells.size() ? cells[v] : "?"));
                out += sse({{"object", "ddiff.canvas"},
                            {"id", meta.id},
                            {"index", e.choice},
                            {"step", e.step},
                            {"nfe", e.nfe},
                            {"elapsed", e.elapsed},
                            {"tokens", std::move(tokens)},
                            {"committed", e.committed}},
                           "canvas");
            }
            bool settled = false;
            const std::string delta = texts[e.choice].advance(e.region, settled);
            if (!delta.empty()) out += sse(chunk(m, r, meta, e.choice, delta, nullptr));
            if (settled) j->settle[e.choice] = true;
        }
        if (done) {
            out += final_events();
            if (!sink.write(out.data(), out.size())) return false;
            sink.done();
            return true;
        }
    }
    if (!out.empty() && !sink.write(out.data(), out.size())) {
        srv->stop_and_wait(j, stop_reason::disconnect);
        return false;
    }
    return true;
}

void stream_state::release() {
    // The connection is about to close: the scheduler must be done with its socket.
    srv->stop_and_wait(j, stop_reason::disconnect);
    srv->release();
}

void server::setup() {
    const std::size_t threads = opt_.sched.max_queue + opt_.sched.max_batch + 16;
    svr_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    svr_.set_payload_max_length(opt_.max_body);
    svr_.set_keep_alive_max_count(1000);
    svr_.set_keep_alive_timeout(5);
    svr_.set_read_timeout(10);
    svr_.set_write_timeout(10);
    svr_.set_tcp_nodelay(true);

    svr_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        const route_info* r = find_route(req.path);
        metrics_.request(r ? r->path : "other", res.status);
    });
    // Statuses cpp-httplib sets itself (malformed request, body too large, ...) get an error body too.
    svr_.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const int s = res.status;
        if (s == 413)
            send_error(res, error_of(413, "the request body is larger than this server's --max-body (" +
                                              std::to_string(opt_.max_body) + " bytes)",
                                     "invalid_request_error", "request_too_large"));
        else if (s == 414)
            send_error(res, error_of(414, "the request URI is too long", "invalid_request_error", "uri_too_long"));
        else if (s >= 500)
            send_error(res, error_of(s, "internal error", "server_error", ""));
        else
            send_error(res, error_of(s, "malformed HTTP request", "invalid_request_error", ""));
        return httplib::Server::HandlerResponse::Handled;
    }));
    svr_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ddiff serve: internal error: %s\n", e.what());
        } catch (...) {
        }
        send_error(res, error_of(500, "internal error", "server_error", ""));
    });

    auto guarded = [this](auto handler) {
        return [this, handler](const httplib::Request& req, httplib::Response& res) {
            const route_info* r = find_route(req.path);
            if (r && r->auth && !authorized(req, res)) return;
            handler(req, res);
        };
    };
    svr_.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-store");
        res.set_content(page_html.data(), page_html.size(), "text/html; charset=utf-8");
    });
    svr_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
        if (shutting_down_) {
            send(res, 503, {{"status", "shutting_down"}});
            return;
        }
        send(res, 200, {{"status", "ok"}, {"model", model_.id}, {"queue_depth", sched_.queue_depth()},
                        {"running_rows", sched_.running_rows()}});
    });
    svr_.Get("/ddiff/options", [this](const httplib::Request&, httplib::Response& res) {
        send(res, 200, options_schema(opt_.lim, model_));
    });
    svr_.Get("/metrics", guarded([this](const httplib::Request&, httplib::Response& res) {
                 res.set_content(metrics_.render(sched_.queue_depth(), sched_.running_rows()),
                                 "text/plain; version=0.0.4");
             }));
    auto model_object = [this] {
        const auto& i = model_.info;
        return json{{"id", model_.id},
                    {"object", "model"},
                    {"created", started_},
                    {"owned_by", "ddiff"},
                    {"ddiff",
                     {{"kind", i.kind},
                      {"format", i.format},
                      {"noise", i.noise == noise_kind::uniform ? "uniform" : "absorbing"},
                      {"vocab", i.vocab},
                      {"mask_id", i.mask},
                      {"eos_ids", i.eos_ids},
                      {"max_length", i.max_length},
                      {"kv_cache", i.kv_cache},
                      {"tokenizer", model_.codec != nullptr},
                      {"chat_template", model_.codec && model_.codec->has_chat_template()}}}};
    };
    svr_.Get("/v1/models", guarded([model_object](const httplib::Request&, httplib::Response& res) {
                 send(res, 200, {{"object", "list"}, {"data", json::array({model_object()})}});
             }));
    svr_.Get(R"(/v1/models/(.+))", guarded([this, model_object](const httplib::Request& req, httplib::Response& res) {
                 if (req.matches[1] == model_.id) {
                     send(res, 200, model_object());
                     return;
                 }
                 api_error e = error_of(404, "the model '" + runtime::detail::json_text(json(req.matches[1].str())) +
                                                 "' does not exist",
                                        "invalid_request_error", "model_not_found");
                 e.param = "model";
                 send_error(res, e);
             }));
    svr_.Post("/v1/completions", guarded([this](const httplib::Request& req, httplib::Response& res) {
                  completion(endpoint::completions, req, res);
              }));
    svr_.Post("/v1/chat/completions", guarded([this](const httplib::Request& req, httplib::Response& res) {
                  completion(endpoint::chat, req, res);
              }));

    // Anything else: 405 for a known path, 404 otherwise (after the body was read, so the
    // connection stays usable).
    auto fallback = [](const httplib::Request& req, httplib::Response& res) {
        const route_info* r = find_route(req.path);
        if (!r) {
            send_error(res, error_of(404, "no route for " + runtime::detail::json_text(json(req.method)) + " " +
                                              runtime::detail::json_text(json(req.path)),
                                     "invalid_request_error", "not_found"));
            return;
        }
        const std::string allow = std::string(r->method) + (std::string(r->method) == "GET" ? ", HEAD" : "");
        if (req.method == "OPTIONS") {
            res.status = 204;
            res.set_header("Allow", allow);
            return;
        }
        send_error(res, error_of(405, "method " + req.method + " is not allowed on " + r->path + " (allowed: " + allow + ")",
                                 "invalid_request_error", "method_not_allowed"));
        res.set_header("Allow", allow);
    };
    svr_.Get(".*", fallback);
    svr_.Post(".*", fallback);
    svr_.Put(".*", fallback);
    svr_.Patch(".*", fallback);
    svr_.Delete(".*", fallback);
    svr_.Options(".*", fallback);
}

// SIGINT / SIGTERM: refuse new requests, end the queued ones, let the running batch finish and
// every answer be written, then stop listening. A second signal, or the --timeout (30 s without
// one) passing, cancels the running rows at their next step.
void server::signals(int pipe_read) {
    char c = 0;
    for (;;) {
        if (read(pipe_read, &c, 1) != 1) {
            if (errno == EINTR) continue;
            return;
        }
        if (c == 'q') return;
        break;
    }
    shutting_down_ = true;
    std::fprintf(stderr, "ddiff serve: shutting down (%zu queued, %zu rows running; signal again to cancel them)\n",
                 sched_.queue_depth(), sched_.running_rows());
    sched_.shutdown(false);
    const auto force = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                               std::chrono::duration<double>(opt_.timeout > 0 ? opt_.timeout : 30.0));
    bool cancelled = false;
    while (active_.load() > 0) {
        pollfd p{.fd = pipe_read, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 50) > 0 && read(pipe_read, &c, 1) == 1) {
            if (c == 'q') break;
            cancelled = true;
        }
        if (!cancelled && clock_type::now() >= force) cancelled = true;
        if (cancelled) sched_.shutdown(true);
    }
    svr_.stop();
}

int server::run() {
    setup();
    int port = opt_.port;
    if (port == 0) {
        port = svr_.bind_to_any_port(opt_.host);
        if (port <= 0) port = -1;
    } else if (!svr_.bind_to_port(opt_.host, port)) {
        port = -1;
    }
    if (port < 0) {
        std::fprintf(stderr, "ddiff serve: cannot listen on %s:%d (address in use, or not an address of this host)\n",
                     opt_.host.c_str(), opt_.port);
        return 1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        std::fprintf(stderr, "ddiff serve: cannot create a pipe\n");
        return 1;
    }
    signal_pipe = fds[1];
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::thread watcher([this, r = fds[0]] { signals(r); });

    std::printf("ddiff serve: listening on http://%s:%d (model %s, %zu-token vocabulary; queue %zu, batch %zu)\n",
                opt_.host.c_str(), port, model_.id.c_str(), model_.info.vocab, opt_.sched.max_queue,
                opt_.sched.max_batch);
    std::fflush(stdout);
    const bool ok = svr_.listen_after_bind();
    sched_.shutdown(true);
    sched_.join();
    const char q = 'q';
    [[maybe_unused]] const auto n = write(fds[1], &q, 1);
    watcher.join();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal_pipe = -1;
    close(fds[0]);
    close(fds[1]);
    std::fprintf(stderr, "ddiff serve: stopped\n");
    return ok || shutting_down_ ? 0 : 1;
}

}  // namespace

int run_server(runtime::session& session, const model_facts& model, const server_options& o) {
    std::signal(SIGPIPE, SIG_IGN);
    server s(session, model, o);
    return s.run();
}

}  // namespace ddiff::serve
