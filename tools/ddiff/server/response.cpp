// ddiff serve: answers and choice texts (response.hpp).
#include "response.hpp"

#include <algorithm>

#include <ddiff/core/error.hpp>

namespace ddiff::serve {

using json = nlohmann::json;

namespace {

// The generated positions that make the answer: up to the first EOS (excluded) or mask.
std::span<const token_id> answer_ids(const model_facts& model, std::span<const token_id> region, bool& eos) {
    const auto& e = model.info.eos_ids;
    eos = false;
    std::size_t k = 0;
    for (; k < region.size(); ++k) {
        if (region[k] == model.info.mask) break;
        if (std::find(e.begin(), e.end(), region[k]) != e.end()) {
            eos = true;
            break;
        }
    }
    return region.first(k);
}

std::string decode(const model_facts& model, std::span<const token_id> ids) {
    if (!model.codec) {
        std::string s;
        for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
        return s;
    }
    return model.codec->decode(ids, model.info.mask, false, /*skip_special=*/true);
}

// The first stop string in `text`: its offset, or npos.
std::size_t first_stop(const std::vector<std::string>& stop, const std::string& text) {
    std::size_t at = std::string::npos;
    for (const auto& s : stop) at = std::min(at, text.find(s));
    return at;
}

// How many trailing bytes of `text` may still change: a partial UTF-8 character, a U+FFFD a
// byte-level decoder writes for one, or the start of a stop string.
std::size_t unsettled_tail(const std::string& text, const std::vector<std::string>& stop) {
    std::size_t hold = 0;
    // A trailing character whose lead byte announces more bytes than are there.
    for (std::size_t back = 1; back <= std::min<std::size_t>(4, text.size()); ++back) {
        const auto c = static_cast<unsigned char>(text[text.size() - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte
        const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (need > back) hold = back;
        break;
    }
    static const std::string replacement = "\xEF\xBF\xBD";
    if (hold == 0 && text.size() >= 3 && text.compare(text.size() - 3, 3, replacement) == 0) hold = 3;
    for (const auto& s : stop)
        for (std::size_t len = std::min(s.size() - 1, text.size()); len > hold; --len)
            if (text.compare(text.size() - len, len, s, 0, len) == 0) {
                hold = len;
                break;
            }
    return hold;
}

}  // namespace

choice_text text_of(const model_facts& model, const parsed_request& r, std::span<const token_id> region) {
    bool eos = false;
    const auto ids = answer_ids(model, region, eos);
    choice_text c{.text = decode(model, ids), .finish_reason = eos ? "stop" : "length", .completion_tokens = ids.size()};
    if (const std::size_t at = first_stop(r.stop, c.text); at != std::string::npos) {
        c.text.resize(at);
        c.finish_reason = "stop";
    }
    return c;
}

std::string text_stream::advance(std::span<const token_id> region, bool& settled) {
    settled = false;
    if (!req_->prefix_final || diverged_) return {};
    std::size_t committed = 0;  // positions committed from the left
    while (committed < region.size() && region[committed] != model_->info.mask) ++committed;
    if (committed == final_positions_) return {};
    final_positions_ = committed;
    bool eos = false;
    const auto ids = answer_ids(*model_, region.first(committed), eos);
    std::string text = decode(*model_, ids);
    std::size_t keep = text.size();
    if (const std::size_t at = first_stop(req_->stop, text); at != std::string::npos) {
        keep = at;
        settled = true;
    } else if (eos) {
        settled = true;
    } else if (committed < region.size()) {  // all committed: the text is final as it is
        keep -= unsettled_tail(text, req_->stop);
    }
    if (text.compare(0, emitted_.size(), emitted_) != 0) {
        // The decoder's text of a longer prefix does not extend the shorter one's (a tokenizer
        // whose decoding is not prefix-stable): wait for the end.
        diverged_ = true;
        return {};
    }
    if (keep <= emitted_.size()) return {};
    std::string delta = text.substr(emitted_.size(), keep - emitted_.size());
    emitted_ += delta;
    return delta;
}

std::string text_stream::finish(const choice_text& final) {
    if (final.text.compare(0, emitted_.size(), emitted_) != 0) return {};  // cannot happen for a prefix-stable decoder
    std::string rest = final.text.substr(emitted_.size());
    emitted_ = final.text;
    return rest;
}

std::vector<std::string> token_texts(const model_facts& model) {
    std::vector<std::string> t(model.info.vocab);
    for (std::size_t v = 0; v < t.size(); ++v) {
        const token_id id = static_cast<token_id>(v);
        if (!model.codec) {
            t[v] = std::to_string(v);
            continue;
        }
        try {  // the mask id (and an id a codec cannot show) as the empty string
            t[v] = model.codec->decode(std::span<const token_id>(&id, 1), model.info.mask, false, false);
        } catch (const ddiff::error&) {
        }
    }
    return t;
}

json usage(std::size_t prompt_tokens, std::size_t completion_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
}

json ddiff_object(const parsed_request& r, const job& j) {
    std::size_t nfe = 0, steps = 0;
    json choices = json::array();
    for (std::size_t i = 0; i < j.choices.size(); ++i) {
        const auto& c = j.choices[i];
        nfe = std::max(nfe, c.nfe);
        steps = std::max(steps, c.steps);
        json x = {{"index", i}, {"nfe", c.nfe}, {"steps", c.steps}, {"seed", r.seed + i}, {"stopped_early", c.settled}};
        if (r.return_tokens) x["tokens"] = c.region;
        choices.push_back(std::move(x));
    }
    return {{"nfe", nfe},
            {"steps", steps},
            {"seed", r.seed},
            {"queue_seconds", j.queue_seconds},
            {"decode_seconds", j.decode_seconds},
            {"batch_rows", j.batch_rows},
            {"choices", std::move(choices)}};
}

json completion_body(const model_facts& model, const parsed_request& r, const job& j, const answer_meta& meta,
                     std::size_t& completion_tokens) {
    const bool chat = r.kind == endpoint::chat;
    json choices = json::array();
    completion_tokens = 0;
    for (std::size_t i = 0; i < j.choices.size(); ++i) {
        const auto c = text_of(model, r, j.choices[i].region);
        completion_tokens += c.completion_tokens;
        if (chat)
            choices.push_back({{"index", i},
                               {"message", {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}}},
                               {"logprobs", nullptr},
                               {"finish_reason", c.finish_reason}});
        else
            choices.push_back({{"index", i},
                               {"text", r.echo ? r.prompt_text + c.text : c.text},
                               {"logprobs", nullptr},
                               {"finish_reason", c.finish_reason}});
    }
    return {{"id", meta.id},
            {"object", chat ? "chat.completion" : "text_completion"},
            {"created", meta.created},
            {"model", model.id},
            {"system_fingerprint", nullptr},
            {"choices", std::move(choices)},
            {"usage", usage(r.prompt_tokens, completion_tokens)},
            {"ddiff", ddiff_object(r, j)}};
}

json chunk(const model_facts& model, const parsed_request& r, const answer_meta& meta, std::size_t index,
           const std::string& delta, const char* finish_reason, bool role) {
    const bool chat = r.kind == endpoint::chat;
    json c = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", finish_reason ? json(finish_reason) : json(nullptr)}};
    if (chat) {
        json d = json::object();
        if (role) d["role"] = "assistant";
        if (role || !delta.empty()) d["content"] = delta;
        c["delta"] = std::move(d);
    } else {
        c["text"] = delta;
    }
    return {{"id", meta.id},
            {"object", chat ? "chat.completion.chunk" : "text_completion"},
            {"created", meta.created},
            {"model", model.id},
            {"system_fingerprint", nullptr},
            {"choices", json::array({std::move(c)})}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse(const json& data, const char* event) {
    std::string s;
    if (event) s += std::string("event: ") + event + "\n";
    return s + "data: " + dump(data) + "\n\n";
}

}  // namespace ddiff::serve
