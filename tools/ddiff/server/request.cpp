// ddiff serve: OpenAI request bodies to decode requests (request.hpp).
#include "request.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include <ddiff/core/error.hpp>
#include <ddiff/runtime/json_fields.hpp>

#include "../cli_fields.hpp"

namespace ddiff::serve {

using json = nlohmann::json;

json error_body(const api_error& e) {
    return {{"error",
             {{"message", e.message},
              {"type", e.type},
              {"param", e.param.empty() ? json(nullptr) : json(e.param)},
              {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

std::string scrub(std::string message, const model_facts& model) {
    for (const auto& s : model.scrub) {
        if (s.empty()) continue;
        for (std::size_t i = message.find(s); i != std::string::npos; i = message.find(s, i + model.id.size()))
            message.replace(i, s.size(), model.id);
    }
    return message;
}

namespace {

api_error bad(std::string param, std::string message, int status = 400, std::string code = {}) {
    api_error e;
    e.status = status;
    e.param = std::move(param);
    e.message = std::move(message);
    e.code = std::move(code);
    return e;
}
api_error unsupported(const std::string& param, const std::string& what) {
    return bad(param, what + " is not supported by ddiff serve", 422, "unsupported_parameter");
}

// The body's nesting depth, counted without parsing (strings skipped), so a deeply nested body is
// refused before the parser and the destructor of a json value recurse on it.
constexpr int max_depth = 32;
bool too_deep(std::string_view s) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : s) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

// The standard keys of each endpoint (OpenAI's), and the ones accepted and ignored.
const std::set<std::string, std::less<>> completions_keys = {
    "model",  "prompt",   "suffix",     "max_tokens", "n",        "stream",           "stream_options",
    "stop",   "seed",     "echo",       "logprobs",   "best_of",  "presence_penalty", "frequency_penalty",
    "logit_bias", "user", "stream_canvas", "return_tokens"};
const std::set<std::string, std::less<>> chat_keys = {
    "model",       "messages",    "max_tokens",    "max_completion_tokens", "n",        "stream",
    "stream_options", "stop",     "seed",          "logprobs",              "top_logprobs", "presence_penalty",
    "frequency_penalty", "logit_bias", "user",     "tools",                 "tool_choice", "functions",
    "function_call", "response_format", "parallel_tool_calls", "store",     "metadata", "service_tier",
    "modalities",  "stream_canvas", "return_tokens"};

// decode_options fields the body may not name: the standard keys stand for them.
bool extension_field(std::string_view name) { return name != "length" && name != "seed"; }

std::set<std::string, std::less<>> extension_names() {
    std::set<std::string, std::less<>> s;
    runtime::decode_options o;
    o.for_each_field([&](const runtime::field_info& f, auto&) {
        if (extension_field(f.name)) s.emplace(f.name);
    });
    return s;
}

const json* get(const json& body, std::string_view key) {
    const auto it = body.find(std::string(key));
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& body, std::string_view key, bool fallback) {
    const json* j = get(body, key);
    if (!j) return fallback;
    if (!j->is_boolean())
        throw bad(std::string(key), std::string(key) + " = '" + runtime::detail::json_text(*j) + "', expected true or false");
    return j->get<bool>();
}

// A number that only a neutral value may take (features ddiff does not implement).
void neutral_number(const json& body, const std::string& key, double neutral) {
    const json* j = get(body, key);
    if (!j) return;
    if (!j->is_number())
        throw bad(key, key + " = '" + runtime::detail::json_text(*j) + "', expected a number");
    if (j->get<double>() != neutral) throw unsupported(key, key + " other than " + runtime::detail::format_number(neutral));
}

// An option_error as the client's error, with the runtime's field names mapped to the body's keys.
api_error from_option_error(const runtime::option_error& e, const parsed_request& r, const std::string& max_tokens_key,
                            const model_facts& model) {
    std::string field = e.field();
    const std::string input = r.kind == endpoint::chat ? "messages" : "prompt";
    if (field == "length") field = max_tokens_key;
    else if (field == "prompt_ids" || field == "prompt_ids item") field = input;
    else if (field == "infill" || field == "infill item") field = r.kind == endpoint::chat ? input : "suffix";
    std::string value = e.value();
    if (value.size() > 64) {  // cut on a UTF-8 character boundary
        std::size_t cut = 61;
        while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
        value = value.substr(0, cut) + "...";
    }
    std::string param = field;
    if (const auto sp = param.find(' '); sp != std::string::npos) param.resize(sp);  // "eos_ids item" -> eos_ids
    return bad(param, scrub(field + " = '" + value + "', expected " + e.expected(), model));
}

std::vector<token_id> encode(const model_facts& model, const std::string& text, bool special, const std::string& param) {
    if (!model.codec)
        throw bad(param, "model '" + model.id + "' has no tokenizer: give the prompt as an array of token ids", 422,
                  "no_tokenizer");
    try {
        return model.codec->encode(text, special);
    } catch (const ddiff::error& e) {
        throw bad(param, scrub(std::string("the model's tokenizer cannot encode the ") + param + ": " + e.what(), model));
    }
}

bool all_integers(const json& a) {
    return std::all_of(a.begin(), a.end(), [](const json& x) { return runtime::detail::json_is_integer(x); });
}

std::vector<token_id> token_ids(const json& a, const std::string& param, const model_facts& model) {
    std::vector<token_id> ids;
    const runtime::field_info f{.name = "prompt_ids"};
    try {
        runtime::read_field(f, a, ids);
        runtime::check_ids(f, ids, model.info.vocab);
    } catch (const runtime::option_error& e) {
        throw bad(param, param + " item = '" + e.value() + "', expected " + e.expected());
    }
    return ids;
}

// The prompt of a completion: a string, an array of token ids, or an array of one of either.
void read_prompt(const json& body, parsed_request& r, const model_facts& model) {
    const json* p = get(body, "prompt");
    if (!p) throw bad("prompt", "prompt is required (a string or an array of token ids)");
    const json* one = p;
    if (p->is_array() && !p->empty() && !all_integers(*p)) {
        if (p->size() > 1)
            throw bad("prompt", "one prompt per request (an array of " + std::to_string(p->size()) +
                                    " prompts): send several requests, or n for several choices of one", 422,
                      "unsupported_parameter");
        one = &(*p)[0];
    }
    if (one->is_string()) {
        r.prompt_text = one->get<std::string>();
        r.decode.prompt = encode(model, r.prompt_text, true, "prompt");
    } else if (one->is_array() && all_integers(*one)) {
        r.decode.prompt = token_ids(*one, "prompt", model);
        if (model.codec) r.prompt_text = model.codec->decode(r.decode.prompt, model.info.mask, false);
    } else {
        throw bad("prompt", "prompt = '" + runtime::detail::json_text(*p) +
                                "', expected a string or an array of token ids");
    }
}

// The messages of a chat completion, rendered with the model's chat template.
void read_messages(const json& body, parsed_request& r, const model_facts& model) {
    const json* m = get(body, "messages");
    if (!m) throw bad("messages", "messages is required (an array of {role, content})");
    if (!m->is_array() || m->empty())
        throw bad("messages", "messages = '" + runtime::detail::json_text(*m) + "', expected a non-empty array of {role, content}");
    std::vector<runtime::chat_turn> turns;
    for (std::size_t i = 0; i < m->size(); ++i) {
        const json& msg = (*m)[i];
        const std::string at = "messages[" + std::to_string(i) + "]";
        if (!msg.is_object()) throw bad("messages", at + " = '" + runtime::detail::json_text(msg) + "', expected an object {role, content}");
        for (const auto& [k, v] : msg.items())
            if (k != "role" && k != "content" && k != "name") {
                if (k == "tool_calls" || k == "tool_call_id" || k == "function_call" || k == "audio" || k == "refusal") {
                    if (!v.is_null()) throw unsupported("messages", at + "." + k);
                } else {
                    throw bad("messages", at + ": unknown key '" + runtime::detail::json_text(json(k)) + "'");
                }
            }
        const json* role = get(msg, "role");
        if (!role || !role->is_string() || role->get<std::string>().empty())
            throw bad("messages", at + ".role: expected a non-empty string (system, user, assistant, ...)");
        runtime::chat_turn t{role->get<std::string>(), {}};
        const json* content = get(msg, "content");
        if (!content) {
        } else if (content->is_string()) {
            t.content = content->get<std::string>();
        } else if (content->is_array()) {
            for (std::size_t k = 0; k < content->size(); ++k) {
                const json& part = (*content)[k];
                const json* type = part.is_object() ? get(part, "type") : nullptr;
                if (!type || !type->is_string())
                    throw bad("messages", at + ".content[" + std::to_string(k) + "]: expected {\"type\": \"text\", \"text\": ...}");
                if (type->get<std::string>() != "text")
                    throw unsupported("messages", at + ".content[" + std::to_string(k) + "] of type '" +
                                                      runtime::detail::json_text(*type) + "'");
                const json* text = get(part, "text");
                if (!text || !text->is_string())
                    throw bad("messages", at + ".content[" + std::to_string(k) + "].text: expected a string");
                t.content += text->get<std::string>();
            }
        } else {
            throw bad("messages", at + ".content = '" + runtime::detail::json_text(*content) +
                                      "', expected a string or an array of text parts");
        }
        turns.push_back(std::move(t));
    }
    if (!model.codec || !model.codec->has_chat_template())
        throw bad("messages",
                  "model '" + model.id + "' has no chat template (tokenizer_config.json chat_template): use /v1/completions",
                  422, "no_chat_template");
    std::string rendered;
    try {
        rendered = model.codec->chat(turns, /*add_generation_prompt=*/true);
    } catch (const ddiff::error& e) {
        throw bad("messages", scrub(std::string("the chat template refused the messages: ") + e.what(), model));
    }
    // As transformers' apply_chat_template(tokenize=True) and ddiff generate --chat: the template
    // writes the special tokens, so the text is encoded without the post-processor's.
    r.prompt_text = rendered;
    r.decode.prompt = encode(model, rendered, false, "messages");
}

void read_stop(const json& body, parsed_request& r, const limits& lim) {
    const json* s = get(body, "stop");
    if (!s) return;
    auto add = [&](const json& x) {
        if (!x.is_string() || x.get<std::string>().empty())
            throw bad("stop", "stop = '" + runtime::detail::json_text(x) + "', expected a non-empty string");
        r.stop.push_back(x.get<std::string>());
    };
    if (s->is_string()) {
        add(*s);
    } else if (s->is_array()) {
        if (s->size() > lim.max_stop)
            throw bad("stop", "stop has " + std::to_string(s->size()) + " strings, expected at most " +
                                  std::to_string(lim.max_stop));
        for (const auto& x : *s) add(x);
    } else {
        throw bad("stop", "stop = '" + runtime::detail::json_text(*s) + "', expected a string or an array of strings");
    }
}

template <class T>
T read_number(const json& body, const runtime::field_info& f, T fallback) {
    const json* j = get(body, f.name);
    if (!j) return fallback;
    T v{};
    try {
        runtime::read_field(f, *j, v);
    } catch (const runtime::option_error& e) {
        throw bad(std::string(f.name), e.what());
    }
    return v;
}

}  // namespace

parsed_request parse_request(endpoint kind, std::string_view text, const model_facts& model, const limits& lim,
                             std::uint64_t random_seed) {
    parsed_request r;
    r.kind = kind;
    const bool chat = kind == endpoint::chat;
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
        throw bad("", "the request body is empty, expected a JSON object");
    if (too_deep(text)) throw bad("", "the request body nests deeper than " + std::to_string(max_depth) + " levels");
    json body;
    try {
        body = json::parse(text);
    } catch (const json::exception& e) {
        throw bad("", std::string("the request body is not valid JSON: ") + e.what());
    }
    if (!body.is_object()) throw bad("", "the request body is a JSON " + std::string(body.type_name()) + ", expected an object");

    // Every key is known: a standard one of the endpoint or a diffusion extension.
    static const auto extensions = extension_names();
    const auto& standard = chat ? chat_keys : completions_keys;
    for (const auto& [key, value] : body.items()) {
        (void)value;
        if (!standard.count(key) && !extensions.count(key)) {
            const std::string shown = runtime::detail::json_text(json(key));
            throw bad(shown, "unrecognized request argument supplied: " + shown +
                                 (key == "length" ? " (the number of generated tokens is max_tokens)" : ""));
        }
    }

    if (const json* m = get(body, "model")) {
        if (!m->is_string()) throw bad("model", "model = '" + runtime::detail::json_text(*m) + "', expected a string");
        if (m->get<std::string>() != model.id)
            throw bad("model", "the model '" + runtime::detail::json_text(*m) + "' does not exist (this server serves '" +
                                   model.id + "')", 404, "model_not_found");
    }

    // Standard parameters ddiff does not implement are refused unless neutral.
    neutral_number(body, "presence_penalty", 0.0);
    neutral_number(body, "frequency_penalty", 0.0);
    if (const json* lb = get(body, "logit_bias"))
        if (!lb->is_object() || !lb->empty()) throw unsupported("logit_bias", "logit_bias");
    if (const json* lp = get(body, "logprobs"))
        if (!(lp->is_boolean() && !lp->get<bool>()) && !(runtime::detail::json_is_integer(*lp) && lp->get<std::int64_t>() == 0))
            throw unsupported("logprobs", "logprobs");
    if (get(body, "top_logprobs")) throw unsupported("top_logprobs", "top_logprobs");
    if (const json* b = get(body, "best_of"))
        if (!runtime::detail::json_is_integer(*b) || b->get<std::int64_t>() != 1) throw unsupported("best_of", "best_of other than 1");
    for (const char* k : {"tools", "functions", "function_call"})
        if (const json* t = get(body, k))
            if (!(t->is_array() && t->empty())) throw unsupported(k, k);
    if (const json* t = get(body, "tool_choice"))
        if (!(t->is_string() && t->get<std::string>() == "none")) throw unsupported("tool_choice", "tool_choice other than \"none\"");
    if (const json* f = get(body, "response_format")) {
        const json* type = f->is_object() ? get(*f, "type") : nullptr;
        if (!type || *type != "text") throw unsupported("response_format", "response_format other than {\"type\": \"text\"}");
    }
    if (const json* mod = get(body, "modalities"))
        if (*mod != json::array({"text"})) throw unsupported("modalities", "modalities other than [\"text\"]");
    if (const json* u = get(body, "user"))
        if (!u->is_string()) throw bad("user", "user = '" + runtime::detail::json_text(*u) + "', expected a string");

    // How the answer is written.
    r.stream = get_bool(body, "stream", false);
    if (const json* so = get(body, "stream_options")) {
        if (!r.stream) throw bad("stream_options", "stream_options is only allowed with stream: true");
        if (!so->is_object()) throw bad("stream_options", "stream_options = '" + runtime::detail::json_text(*so) + "', expected an object");
        for (const auto& [k, v] : so->items()) {
            (void)v;
            if (k != "include_usage")
                throw bad("stream_options", "stream_options: unknown key '" + runtime::detail::json_text(json(k)) + "'");
        }
        r.include_usage = get_bool(*so, "include_usage", false);
    }
    r.stream_canvas = get_bool(body, "stream_canvas", false);
    if (r.stream_canvas && !r.stream) throw bad("stream_canvas", "stream_canvas needs stream: true");
    r.return_tokens = get_bool(body, "return_tokens", false);
    r.echo = !chat && get_bool(body, "echo", false);
    for (const char* k : {"store", "parallel_tool_calls"}) (void)get_bool(body, k, false);
    read_stop(body, r, lim);

    // How many choices, from which seed.
    r.n = read_number<std::size_t>(body, runtime::field_info{"n", "N", "choices", 1.0, double(lim.max_n)}, 1);
    runtime::decode_options& o = r.decode.options;
    {
        runtime::field_info seed_field{};
        o.for_each_field([&](const runtime::field_info& f, auto&) {
            if (f.name == "seed") seed_field = f;
        });
        r.seed = read_number<std::uint64_t>(body, seed_field, random_seed % std::uint64_t(seed_field.hi));
        if (static_cast<double>(r.seed) + static_cast<double>(r.n - 1) > seed_field.hi)
            throw bad("seed", "seed = " + std::to_string(r.seed) + " with n = " + std::to_string(r.n) +
                                  ": choice i uses seed + i, expected seed + n - 1 <= " +
                                  runtime::detail::format_number(seed_field.hi));
        o.seed = r.seed;
    }

    // The diffusion extensions: decode_options' fields by name, checked as the CLI checks its flags.
    std::string max_tokens_key = "max_tokens";
    try {
        runtime::read_fields(body, o, [](std::string_view name) { return extension_field(name); });
        runtime::field_info length_field{};
        o.for_each_field([&](const runtime::field_info& f, auto&) {
            if (f.name == "length") length_field = f;
        });
        if (chat && get(body, "max_completion_tokens")) max_tokens_key = "max_completion_tokens";
        length_field.name = max_tokens_key;
        if (const json* mt = get(body, max_tokens_key)) runtime::read_field(length_field, *mt, o.length);
    } catch (const runtime::option_error& e) {
        throw from_option_error(e, r, max_tokens_key, model);
    }
    if (o.length > lim.max_tokens)
        throw bad(max_tokens_key, max_tokens_key + " = '" + std::to_string(o.length) + "', expected at most " +
                                      std::to_string(lim.max_tokens) + " (this server's --max-tokens)");
    if (o.steps > lim.max_steps)
        throw bad("steps", "steps = '" + std::to_string(o.steps) + "', expected at most " + std::to_string(lim.max_steps) +
                               " (this server's --max-steps)");
    if (o.max_steps_per_block > lim.max_steps)
        throw bad("max_steps_per_block", "max_steps_per_block = '" + std::to_string(o.max_steps_per_block) +
                                             "', expected at most " + std::to_string(lim.max_steps) +
                                             " (this server's --max-steps)");

    // The input: a prompt (and, for a completion, an optional suffix: the text between is infilled).
    if (chat) read_messages(body, r, model);
    else read_prompt(body, r, model);
    const std::string input = chat ? "messages" : "prompt";
    const auto holds_mask = [&](const std::vector<token_id>& ids) {
        return model.info.mask >= 0 && std::find(ids.begin(), ids.end(), model.info.mask) != ids.end();
    };
    if (holds_mask(r.decode.prompt))
        throw bad(input, "the " + input + " holds the mask token (id " + std::to_string(model.info.mask) +
                             "), which marks positions to generate" + (chat ? "" : ": use suffix to infill"));
    r.prompt_tokens = r.decode.prompt.size();
    r.region_begin = r.prompt_tokens;
    r.region_length = o.length;
    std::size_t suffix_tokens = 0;
    if (!chat) {
        if (const json* s = get(body, "suffix")) {
            if (!s->is_string()) throw bad("suffix", "suffix = '" + runtime::detail::json_text(*s) + "', expected a string");
            if (model.info.noise == noise_kind::uniform)
                throw unsupported("suffix", "suffix (infilling) with a uniform-noise model");
            const auto ids = encode(model, s->get<std::string>(), false, "suffix");
            if (holds_mask(ids)) throw bad("suffix", "the suffix holds the mask token");
            suffix_tokens = ids.size();
            std::vector<token_id> canvas = r.decode.prompt;
            canvas.insert(canvas.end(), o.length, model.info.mask);
            canvas.insert(canvas.end(), ids.begin(), ids.end());
            r.decode.canvas = std::move(canvas);
        }
    }
    const std::size_t total = r.prompt_tokens + o.length + suffix_tokens;
    const std::size_t context =
        model.info.max_length ? std::min(lim.max_context, model.info.max_length) : lim.max_context;
    if (total > context)
        throw bad(input, "this request needs " + std::to_string(total) + " positions (" + std::to_string(r.prompt_tokens) +
                             " in the " + input + ", " + std::to_string(o.length) + " generated" +
                             (suffix_tokens ? ", " + std::to_string(suffix_tokens) + " in the suffix" : std::string()) +
                             "), expected at most " + std::to_string(context) + " (the context length)",
                  400, "context_length_exceeded");

    for (std::size_t i = 0; i < r.n; ++i) r.decode.seeds.push_back(r.seed + i);
    try {
        runtime::validate(model.info, r.decode);
    } catch (const runtime::option_error& e) {
        throw from_option_error(e, r, max_tokens_key, model);
    }

    // The decoder's plan checks (decoder.hpp validate), made here so that a request is refused
    // before it is queued: blocks tile the decoded region (the generated positions, or the whole
    // canvas when infilling), and a fixed plan spreads its steps evenly over them.
    const bool uniform = model.info.noise == noise_kind::uniform;
    bool adaptive = false, remasks = false;
    if (uniform) {
        const auto s = runtime::any_uniform_sampler::make(o.sampler, o.params);
        adaptive = s.adaptive(), remasks = s.remasks();
    } else {
        const auto s = runtime::any_absorbing_sampler::make(o.sampler, o.params);
        adaptive = s.adaptive(), remasks = s.remasks();
    }
    const std::size_t region = r.decode.canvas ? r.decode.canvas->size() : o.length;
    const std::size_t block = o.block_length == 0 ? region : o.block_length;
    if (region % block != 0)
        throw bad("block_length", "block_length = '" + std::to_string(o.block_length) + "', expected a divisor of " +
                                      std::to_string(region) +
                                      (r.decode.canvas ? " (the whole canvas: prompt, generated positions and suffix)"
                                                       : " (the generated positions)"));
    const std::size_t blocks = region / block;
    if (!adaptive && o.steps % blocks != 0)
        throw bad("steps", "steps = '" + std::to_string(o.steps) + "', expected a multiple of the " + std::to_string(blocks) +
                               " blocks");
    if (o.cache_mode() != kv_cache_mode::none && o.cfg_scale > 0.0)
        throw bad("cache", "cache = '" + o.cache + "' with cfg_scale = " + runtime::detail::format_number(o.cfg_scale) +
                               ", expected cache = none (CFG is not cached) or cfg_scale = 0");
    r.prefix_final = !uniform && !remasks;

    // Requests whose rows may share a batch: one key per decode plan and input layout. An
    // adaptive rule over several blocks is decoded alone: a batch's block lasts as long as its
    // slowest row, which moves the global step (and so the random draws) of the others.
    if (!adaptive || blocks == 1) {
        std::string key = std::string(r.decode.canvas ? "infill" : "generate") + ";input=" +
                          std::to_string(r.decode.canvas ? r.decode.canvas->size() : r.prompt_tokens) +
                          ";prompt=" + std::to_string(r.prompt_tokens) + ";";
        runtime::decode_options copy = o;
        cli::visit_fields(copy, [&](const runtime::field_info& f, cli::field_ref ref) {
            if (f.name != "seed") key += std::string(f.name) + "=" + cli::text_of(ref) + ";";
        });
        r.batch_key = std::move(key);
    }
    return r;
}

json options_schema(const limits& lim, const model_facts& model) {
    json fields = json::array();
    runtime::decode_options o;
    o.for_each_field([&](const runtime::field_info& f, auto& value) {
        using T = std::remove_cvref_t<decltype(value)>;
        json x = {{"name", std::string(f.name)}, {"help", std::string(f.help)}};
        if (f.name == "length") x["name"] = "max_tokens";
        if constexpr (std::is_same_v<T, bool>) {
            x["type"] = "boolean";
            x["default"] = value;
        } else if constexpr (std::is_same_v<T, std::string>) {
            x["type"] = "string";
            x["default"] = value;
            x["choices"] = json::array();
            for (auto c : f.choices) x["choices"].push_back(std::string(c));
        } else if constexpr (std::is_same_v<T, std::vector<token_id>>) {
            x["type"] = "token_ids";
            x["default"] = nullptr;
        } else {
            x["type"] = std::is_integral_v<T> ? "integer" : "number";
            x["minimum"] = f.lo;
            x["maximum"] = f.hi;
            if (f.lo_open) x["exclusive_minimum"] = true;
            if constexpr (std::is_same_v<T, std::optional<double>>)
                x["default"] = value ? json(*value) : json(nullptr);
            else
                x["default"] = value;
        }
        fields.push_back(std::move(x));
    });
    return {{"model", model.id},
            {"chat_template", model.codec != nullptr && model.codec->has_chat_template()},
            {"fields", std::move(fields)},
            {"limits",
             {{"max_tokens", lim.max_tokens},
              {"max_steps", lim.max_steps},
              {"max_n", lim.max_n},
              {"max_context", model.info.max_length ? std::min(lim.max_context, model.info.max_length) : lim.max_context},
              {"max_stop", lim.max_stop}}},
            {"extensions", {"stream_canvas", "return_tokens"}}};
}

}  // namespace ddiff::serve
