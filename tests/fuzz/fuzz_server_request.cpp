// libFuzzer target: arbitrary bytes as the body of POST /v1/completions and
// /v1/chat/completions (tools/ddiff/server/request.cpp: JSON to a validated decode request).
// The parser may throw only api_error, whose status is one the server sends; a request it
// accepts must be decodable as it stands (runtime::validate passes again, the layout fits the
// limits), and its answer text (response.cpp) is computed from an arbitrary canvas.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ddiff/core/error.hpp"
#include "server/request.hpp"
#include "server/response.hpp"

using namespace ddiff;

namespace {

// A character codec over a small alphabet (ids 0..36), mask 38, EOS 37, with a chat template
// that writes "role: content" lines; bytes outside the alphabet are an error, as for the
// shipped model's character vocabulary.
class fuzz_codec final : public runtime::text_codec {
public:
    static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz .,;:!?\n'-_";
    std::vector<token_id> encode(std::string_view text, bool) const override {
        std::vector<token_id> ids;
        for (char c : text) {
            const auto at = alphabet.find(c);
            if (at == std::string_view::npos) ddiff::detail::fail("fuzz codec: byte ", int(static_cast<unsigned char>(c)), " not in the alphabet");
            ids.push_back(static_cast<token_id>(at));
        }
        return ids;
    }
    std::string decode(std::span<const token_id> ids, token_id mask, bool show_masks, bool skip_special) const override {
        std::string s;
        for (token_id v : ids) {
            if (v == mask) {
                if (show_masks) s += '_';
            } else if (v == 37) {
                if (!skip_special) s += "<eos>";
            } else if (v >= 0 && std::size_t(v) < alphabet.size()) {
                s += alphabet[std::size_t(v)];
            } else {
                ddiff::detail::fail("fuzz codec: id ", v, " out of range");
            }
        }
        return s;
    }
    std::string piece(token_id id) const override { return decode(std::span<const token_id>(&id, 1), -1, false, false); }
    std::string describe() const override { return "fuzz codec"; }
    bool has_chat_template() const override { return true; }
    std::string chat(std::span<const runtime::chat_turn> turns, bool add_generation_prompt) const override {
        std::string s;
        for (const auto& t : turns) s += t.role + ": " + t.content + "\n";
        if (add_generation_prompt) s += "assistant: ";
        return s;
    }
};

const serve::model_facts& facts() {
    static const fuzz_codec codec;
    static const serve::model_facts f = [] {
        serve::model_facts m;
        m.info = {.kind = "llada", .source = "/secret/path/model", .format = "safetensors", .noise = noise_kind::absorbing,
                  .vocab = 39, .mask = 38, .eos_ids = {37}, .shift_logits = false, .time_conditioned = false,
                  .kv_cache = true, .max_length = 512};
        m.id = "fuzz-model";
        m.codec = &codec;
        m.scrub = {"/secret/path/model"};
        return m;
    }();
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // The first byte picks the endpoint; the rest is the body.
    const auto kind = data[0] & 1 ? serve::endpoint::chat : serve::endpoint::completions;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    serve::limits lim;
    lim.max_tokens = 256;
    lim.max_steps = 256;
    lim.max_n = 4;
    lim.max_context = 512;
    serve::parsed_request r;
    try {
        r = serve::parse_request(kind, body, facts(), lim, 7);
    } catch (const serve::api_error& e) {
        if (e.status != 400 && e.status != 404 && e.status != 422) __builtin_trap();
        // The model's path never shows; a request may echo its own text (an unknown key) back.
        if (e.message.empty() ||
            (e.message.find("/secret/path") != std::string::npos && body.find("/secret/path") == std::string_view::npos))
            __builtin_trap();
        return 0;
    }
    // Accepted: within the limits, and valid as it stands.
    const auto& o = r.decode.options;
    if (o.length > lim.max_tokens || o.steps > lim.max_steps || r.n < 1 || r.n > lim.max_n) __builtin_trap();
    if (r.decode.seeds.size() != r.n) __builtin_trap();
    const std::size_t total = r.decode.canvas ? r.decode.canvas->size() : r.decode.prompt.size() + o.length;
    if (total > lim.max_context || r.region_begin + r.region_length > total) __builtin_trap();
    runtime::decode_request again = r.decode;
    try {
        runtime::validate(facts().info, again);
    } catch (const ddiff::error&) {
        __builtin_trap();
    }
    // The answer text of a canvas made of the body's bytes.
    std::vector<token_id> region(r.region_length);
    for (std::size_t i = 0; i < region.size(); ++i) region[i] = static_cast<token_id>(data[i % size] % 39);
    const auto t = serve::text_of(facts(), r, region);
    serve::text_stream ts(facts(), r);
    bool settled = false;
    const std::string streamed = ts.advance(region, settled);
    if (t.text.compare(0, streamed.size(), streamed) != 0) __builtin_trap();  // streamed text is final
    return 0;
}
