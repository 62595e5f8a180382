// ddiff tokenize / detokenize / inspect: a checkpoint's tokenizer from the command line (ids and
// pieces, as Hugging Face tokenizers gives them), and what a model's files say.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "commands.hpp"

namespace ddiff::cli {
namespace {

std::unique_ptr<runtime::text_codec> codec_of(const std::string& spec, const char* who) {
    runtime::model_options mo;
    mo.model = spec;
    auto c = open_codec(mo);
    if (!c) throw usage_error(std::string("ddiff ") + who + ": " + spec + " has no tokenizer (tokenizer.json or vocab.json)");
    return c;
}

struct tokenize_args {
    std::string model, text, file;
    bool ids_only = false, no_special = false;
    template <class V>
    void for_each_field(V&& v) {
        v(runtime::field_info{"model", "SPEC", "a checkpoint directory, a .gguf file or markov"}, model);
        v(runtime::field_info{"text", "TEXT", "the text to tokenize"}, text);
        v(runtime::field_info{"file", "FILE", "tokenize this file instead"}, file);
        v(runtime::field_info{"ids_only", "", "print the ids only, comma-separated"}, ids_only);
        v(runtime::field_info{"no_special", "", "no special tokens from the post-processor (BOS/EOS)"}, no_special);
    }
};

class tokenize_command final : public command {
public:
    tokenize_command() { a_.model = default_model(); }
    const char* name() const override { return "tokenize"; }
    const char* summary() const override {
        return "Token ids of a text under a checkpoint's tokenizer, one `id<TAB>piece` line per token (pieces as\n"
               "the vocabulary writes them, e.g. \"Ġthe\").";
    }
    void fields(const field_visitor& v) override { visit_fields(a_, v); }
    int run(const given_flags& given) override {
        if (given.count("text") == given.count("file")) throw usage_error("ddiff tokenize: give one of --text and --file");
        std::string text = a_.text;
        if (given.count("file")) {
            std::ifstream in(a_.file, std::ios::binary);
            if (!in) throw ddiff::io_error("ddiff tokenize: cannot open '" + a_.file + "' for reading");
            text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        const auto c = codec_of(a_.model, "tokenize");
        const auto ids = c->encode(text, !a_.no_special);
        if (a_.ids_only) {
            for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? "," : "") << ids[i];
            std::cout << '\n';
        } else {
            for (token_id id : ids) std::cout << id << '\t' << c->piece(id) << '\n';
        }
        std::fprintf(stderr, "ddiff tokenize: %zu tokens, %zu bytes\n", ids.size(), text.size());
        return 0;
    }

private:
    tokenize_args a_;
};

struct detokenize_args {
    std::string model;
    std::vector<token_id> ids;
    bool skip_special = false;
    template <class V>
    void for_each_field(V&& v) {
        v(runtime::field_info{"model", "SPEC", "a checkpoint directory, a .gguf file or markov"}, model);
        v(runtime::field_info{"ids", "IDS", "comma-separated token ids"}, ids);
        v(runtime::field_info{"skip_special", "", "leave special tokens out"}, skip_special);
    }
};

class detokenize_command final : public command {
public:
    detokenize_command() { a_.model = default_model(); }
    const char* name() const override { return "detokenize"; }
    const char* summary() const override { return "The text of token ids under a checkpoint's tokenizer (its decoder)."; }
    void fields(const field_visitor& v) override { visit_fields(a_, v); }
    int run(const given_flags& given) override {
        if (!given.count("ids")) throw usage_error("ddiff detokenize: give --ids");
        const auto c = codec_of(a_.model, "detokenize");
        std::cout << c->decode(a_.ids, -1, false, a_.skip_special) << '\n';
        return 0;
    }

private:
    detokenize_args a_;
};

struct inspect_args {
    std::string model;
    template <class V>
    void for_each_field(V&& v) {
        v(runtime::field_info{"model", "SPEC", "a checkpoint directory or a .gguf file"}, model);
    }
};

class inspect_command final : public command {
public:
    inspect_command() { a_.model = default_model(); }
    const char* name() const override { return "inspect"; }
    const char* summary() const override {
        return "What a model's files say, without loading the weights: architecture, hyperparameters, tensor\n"
               "types and sizes, tokenizer.";
    }
    void fields(const field_visitor& v) override { visit_fields(a_, v); }
    int run(const given_flags&) override {
        std::cout << describe_model(a_.model);
        return 0;
    }

private:
    inspect_args a_;
};

}  // namespace

std::unique_ptr<command> make_tokenize() { return std::make_unique<tokenize_command>(); }
std::unique_ptr<command> make_detokenize() { return std::make_unique<detokenize_command>(); }
std::unique_ptr<command> make_inspect() { return std::make_unique<inspect_command>(); }

}  // namespace ddiff::cli
