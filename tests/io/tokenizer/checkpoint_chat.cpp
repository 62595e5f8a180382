// End to end at the library level, on the committed tiny LLaDA and Dream checkpoints with a real
// byte-level BPE tokenizer (tools/tokenizer/make_tiny_bpe_checkpoints.py): the directory loads,
// the mask and EOS ids come from its config files, and the chat prompt ddiff renders from the
// checkpoint's own template and encodes equals the ids Python jinja2 + Hugging Face tokenizers
// produced (chat_prompt_golden.json). This is what `ddiff generate --chat` does before decoding.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ddiff/io/tokenizer/chat_template.hpp"
#include "ddiff/io/tokenizer/tokenizer.hpp"
#include "tokenizer_test_util.hpp"

using namespace ddiff;

namespace {
void check_checkpoint(const std::string& name, const std::string& mask_token, const std::vector<std::string>& eos_tokens) {
    const auto dir = std::filesystem::path(DDIFF_TEST_DATA) / "models" / name;
    const auto tok = io::tokenizer::load_dir(dir);
    const auto& md = tok.metadata();
    REQUIRE(md.chat_template.has_value());
    CHECK(md.mask_id == tok.token_to_id(mask_token));
    std::vector<token_id> eos;
    for (const auto& t : eos_tokens) eos.push_back(*tok.token_to_id(t));
    CHECK(md.eos_ids == eos);

    const auto golden = test::read_json(dir / "chat_prompt_golden.json");
    std::vector<io::chat_message> messages;
    for (const auto& m : golden.at("messages")) messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    io::chat_render_options opt;
    opt.bos_token = md.bos_token;
    opt.eos_token = md.eos_token;
    opt.pad_token = md.pad_token;
    const io::chat_template t(*md.chat_template, name + "/tokenizer_config.json chat_template");
    const std::string prompt = t.render(messages, golden.at("add_generation_prompt").get<bool>(), opt);
    CHECK(prompt == golden.at("rendered").get<std::string>());
    const auto ids = tok.encode(prompt, /*add_special_tokens=*/false);
    CHECK(ids == golden.at("ids").get<std::vector<token_id>>());
    CHECK(tok.decode(ids) == prompt);
    for (token_id id : ids) CHECK(static_cast<std::size_t>(id) < tok.vocab_size());
}
}  // namespace

TEST_CASE("tiny LLaDA checkpoint with a BPE tokenizer: chat prompt ids equal HF's") {
    check_checkpoint("llada_tiny_bpe", "<|mdm_mask|>", {"<|endoftext|>", "<|eot_id|>"});
}
TEST_CASE("tiny Dream checkpoint with a BPE tokenizer: chat prompt ids equal HF's") {
    check_checkpoint("dream_tiny_bpe", "<|mask|>", {"<|im_end|>", "<|endoftext|>"});
}
