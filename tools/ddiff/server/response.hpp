// ddiff serve: answers in OpenAI's formats (completion, chat completion, their stream chunks)
// and the text of a choice: the generated positions up to the first EOS, decoded without
// special tokens, cut at the first stop string. While a row decodes, its text is final as far
// as its positions are committed from the left (absorbing noise without re-masking): a
// text_stream hands out that final prefix as it grows, holding back a partial UTF-8 character
// and anything that may still become a stop string.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.hpp"
#include "scheduler.hpp"

namespace ddiff::serve {

struct choice_text {
    std::string text;
    std::string finish_reason;       // "stop" (EOS or a stop string) or "length"
    std::size_t completion_tokens = 0;  // generated positions before the first EOS (or a mask)
};

// The text of a choice from its generated positions (a cancelled row may still hold masks: its
// text ends at the first).
choice_text text_of(const model_facts& model, const parsed_request& r, std::span<const token_id> region);

class text_stream {
public:
    text_stream(const model_facts& model, const parsed_request& r) : model_(&model), req_(&r) {}
    // The positions after a step: the text newly final (may be empty); `settled` when the
    // answer is complete (an EOS or a stop string in the final prefix).
    std::string advance(std::span<const token_id> region, bool& settled);
    // The rest of the final text.
    std::string finish(const choice_text& final);

private:
    const model_facts* model_;
    const parsed_request* req_;
    std::string emitted_;
    std::size_t final_positions_ = 0;
    bool diverged_ = false;
};

// Display text of every token id (the canvas stream's cells).
std::vector<std::string> token_texts(const model_facts& model);

// Response bodies.
struct answer_meta {
    std::string id;
    long long created = 0;
};
nlohmann::json completion_body(const model_facts& model, const parsed_request& r, const job& j, const answer_meta& meta,
                               std::size_t& completion_tokens);
nlohmann::json chunk(const model_facts& model, const parsed_request& r, const answer_meta& meta, std::size_t index,
                     const std::string& delta, const char* finish_reason, bool role = false);
nlohmann::json usage(std::size_t prompt_tokens, std::size_t completion_tokens);
nlohmann::json ddiff_object(const parsed_request& r, const job& j);

// A JSON value as an SSE event (`event: NAME` when given), non-ASCII kept as UTF-8, invalid bytes replaced.
std::string sse(const nlohmann::json& data, const char* event = nullptr);
std::string dump(const nlohmann::json& j);

}  // namespace ddiff::serve
