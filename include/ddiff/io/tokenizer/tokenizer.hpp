// ddiff::io::tokenizer: text <-> token ids for real checkpoints. A Hugging Face tokenizer.json
// (BPE model with its normalizer, pre-tokenizer, added tokens, post-processor and decoder,
// exactly as the `tokenizers` library runs them), a character vocab.json (the shipped model), or
// a BPE built from in-memory parts (e.g. a GGUF file's tokenizer.ggml.* metadata); plus the
// checkpoint metadata around it (tokenizer_config.json, generation_config.json, config.json).
//
//   auto tok = ddiff::io::tokenizer::load_dir("path/to/checkpoint");
//   std::vector<ddiff::token_id> ids = tok.encode("Hello world");      // with BOS etc. as the file asks
//   std::string text = tok.decode(ids, /*skip_special_tokens=*/true);
//
// Thread safety: a tokenizer is immutable after loading; encode and decode may run concurrently.
// Copies share the loaded data.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/mapped_file.hpp"
#include "ddiff/io/tokenizer/added_tokens.hpp"
#include "ddiff/io/tokenizer/bpe.hpp"
#include "ddiff/io/tokenizer/decoders.hpp"
#include "ddiff/io/tokenizer/json_fields.hpp"
#include "ddiff/io/tokenizer/metadata.hpp"
#include "ddiff/io/tokenizer/normalizers.hpp"
#include "ddiff/io/tokenizer/post_processors.hpp"
#include "ddiff/io/tokenizer/pre_tokenizers.hpp"
#include "ddiff/io/tokenizer/tokenizer_json.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io {

// A BPE tokenizer from in-memory parts: what a GGUF file's tokenizer.ggml.* metadata holds. Two
// styles, the two HF produces for these models:
//   byte_level     GPT-2 / LLaMA-3 / Qwen2 (tokenizer.ggml.model = "gpt2"): a pre-tokenizer regex
//                  (pre_regex; empty = GPT-2's), ByteLevel bytes-to-characters, the ByteLevel decoder.
//   sentencepiece  LLaMA-2 / Gemma style BPE with byte fallback (HF's LlamaConverter, legacy):
//                  spaces become U+2581, a U+2581 is prepended when add_space_prefix, <0xXX> byte
//                  tokens for characters outside the vocabulary, unknown characters fused into
//                  unk; decoder Replace(U+2581 -> ' '), ByteFallback, Fuse, Strip(' ', 1, 0).
// Token types follow GGUF (llama.cpp llama_token_type): 1 normal, 2 unknown, 3 control (a
// special added token), 4 user defined (an added token, not special), 5 unused, 6 byte.
struct bpe_spec {
    enum class style { byte_level, sentencepiece };
    style kind = style::byte_level;
    std::vector<std::string> tokens;                          // id -> token
    std::vector<std::pair<std::string, std::string>> merges;  // rank order
    std::vector<std::int32_t> token_types;                    // empty, or one per token
    std::string pre_regex;                                    // byte_level: Split regex (Isolated)
    bool add_space_prefix = true;                             // sentencepiece
    std::optional<token_id> bos, eos, unk;
    bool add_bos = false, add_eos = false;  // post-processor: BOS / EOS around each encode
};

// llama.cpp's pre-tokenizer regex for a GGUF tokenizer.ggml.pre name (the few families whose
// tokenizer.json regex is known here: "gpt2", "llama-bpe" / "llama3", "qwen2"); config_error for
// other names.
inline std::string pre_tokenizer_regex_for(std::string_view pre) {
    if (pre == "gpt2" || pre == "default") return "";
    if (pre == "llama-bpe" || pre == "llama3")
        return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    if (pre == "qwen2")
        return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    ddiff::detail::fail<config_error>("unsupported tokenizer pre-tokenizer name ", io::detail::quote_str(pre),
                                      ", expected one of: gpt2, default, llama-bpe, llama3, qwen2");
}

class tokenizer {
public:
    // ---- loading ----------------------------------------------------------------------------

    // A checkpoint directory: tokenizer.json if present, else a character-level vocab.json, plus
    // the metadata files. io_error when the directory has neither; config_error for vocab.json
    // with merges.txt but no tokenizer.json (a BPE vocabulary must come with its tokenizer.json).
    static tokenizer load_dir(const std::filesystem::path& dir) {
        auto t = find_in_dir(dir);
        if (!t)
            ddiff::detail::fail<io_error>(dir.string(), ": no tokenizer.json or vocab.json, expected a tokenizer in "
                                                        "the checkpoint directory");
        return std::move(*t);
    }
    // The same, nullopt when the directory has no tokenizer.json nor vocab.json.
    static std::optional<tokenizer> find_in_dir(const std::filesystem::path& dir) {
        namespace fs = std::filesystem;
        tokenizer t;
        if (fs::exists(dir / "tokenizer.json")) {
            t = from_json_file(dir / "tokenizer.json");
        } else if (fs::exists(dir / "vocab.json")) {
            if (fs::exists(dir / "merges.txt"))
                ddiff::detail::fail<config_error>(dir.string(), ": vocab.json and merges.txt without tokenizer.json are "
                                                                "not supported, expected the checkpoint's tokenizer.json");
            t = from_char_vocab_file(dir / "vocab.json");
        } else {
            return std::nullopt;
        }
        t.load_metadata(dir);
        return t;
    }

    static tokenizer from_json_file(const std::filesystem::path& file) {
        const mapped_file f(file);  // parsed in place: no copy of an 11 MB file
        const auto bytes = f.bytes();
        return from_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), file.string());
    }

    // tokenizer.json text; `source` names it in errors.
    static tokenizer from_json(std::string_view text, std::string source = "tokenizer.json") {
        auto parts = tok::parse_tokenizer_json(text, source);
        auto im = std::make_shared<impl>();
        im->source = source;
        const nlohmann::json& root = parts.root;
        using namespace tok::json_fields;
        const where top{source, ""};
        if (const auto* v = find(root, "version"); v && !(v->is_string() && v->get<std::string>() == "1.0"))
            bad(top.at("version"), *v, "\"1.0\"");
        for (const char* key : {"truncation", "padding"})
            if (const auto* f = find(root, key); f && !f->is_null())
                ddiff::detail::fail<config_error>("unsupported ", key, " in ", source, " (", describe_short(*f),
                                                  "), expected null: ddiff encodes without truncating or padding");
        if (const auto* n = find(root, "normalizer"); n && !n->is_null())
            im->normalizer = tok::normalizer::from_json(*n, top.at("normalizer"));
        if (const auto* p = find(root, "pre_tokenizer"); p && !p->is_null())
            im->pre = tok::pre_tokenizer::from_json(*p, top.at("pre_tokenizer"));
        if (const auto* p = find(root, "post_processor"); p && !p->is_null())
            im->post = tok::post_processor::from_json(*p, top.at("post_processor"));
        if (const auto* d = find(root, "decoder"); d && !d->is_null()) im->dec = tok::decoder::from_json(*d, top.at("decoder"));

        const auto* model = find(root, "model");
        if (!model) missing(top.at("model"), "a model object");
        im->bpe = read_bpe(*model, parts, top.at("model"));

        std::vector<tok::added_token> added;
        if (const auto* a = find(root, "added_tokens"); a && !a->is_null()) {
            if (!a->is_array()) bad(top.at("added_tokens"), *a, "an array");
            for (std::size_t i = 0; i < a->size(); ++i) added.push_back(read_added((*a)[i], top.at("added_tokens").index(i)));
        }
        im->added_list = added;
        im->rebuild_added();
        tokenizer t;
        t.im_ = std::move(im);
        t.check_post_processor_ids("post_processor");
        return t;
    }

    // A character vocabulary {"token": id} (the shipped model's vocab.json): every single-character
    // entry is a token, every longer one a special added token (matched in the text, skipped by
    // decode with skip_special_tokens). Decoding concatenates.
    static tokenizer from_char_vocab_file(const std::filesystem::path& file) {
        return from_char_vocab(io::detail::read_text_file(file), file.string());
    }
    static tokenizer from_char_vocab(std::string_view text, std::string source = "vocab.json") {
        const auto j = io::detail::parse_json_strict(text, source);
        if (!j.is_object())
            ddiff::detail::fail<format_error>(source, ": top-level JSON value is ", io::detail::describe(j),
                                              ", expected {\"token\": id, ...}");
        tok::vocabulary chars;
        std::vector<std::pair<token_id, std::string>> specials;
        tok::vocabulary all;  // every id once
        for (const auto& [t, v] : j.items()) {
            const auto id = io::detail::as_u64(v);
            if (!id || *id > 0x7FFFFFFF)
                ddiff::detail::fail<format_error>(source, ": token ", io::detail::quote_str(t), " has id ",
                                                  io::detail::describe(v), ", expected an integer in [0, 2^31)");
            if (!tok::is_valid_utf8(t))
                ddiff::detail::fail<format_error>(source, ": token ", io::detail::quote_str(t), " is not valid UTF-8");
            if (t.empty()) ddiff::detail::fail<format_error>(source, ": an empty token, expected non-empty tokens");
            tok::bpe_model::add_token(all, t, static_cast<token_id>(*id), source, "vocabulary");
            if (tok::char_count(t) == 1) chars.insert(t, static_cast<token_id>(*id));
            else specials.emplace_back(static_cast<token_id>(*id), t);
        }
        if (chars.size() == 0)
            ddiff::detail::fail<format_error>(source, ": no single-character tokens, expected a character vocabulary");
        auto im = std::make_shared<impl>();
        im->source = std::move(source);
        im->chars = tok::char_model(std::move(chars));
        im->char_level = true;
        for (auto& [id, t] : specials) {
            tok::added_token a;
            a.content = t;
            a.special = true;
            a.normalized = false;
            im->added_list.push_back(a);
            im->fixed_ids.emplace_back(t, id);
        }
        im->rebuild_added();
        tokenizer r;
        r.im_ = std::move(im);
        return r;
    }

    // From in-memory BPE parts (see bpe_spec); `source` names them in errors.
    static tokenizer from_bpe(const bpe_spec& s, std::string source = "<bpe parts>") {
        auto im = std::make_shared<impl>();
        im->source = source;
        const bool typed = !s.token_types.empty();
        if (typed && s.token_types.size() != s.tokens.size())
            ddiff::detail::fail<format_error>(source, ": ", s.token_types.size(), " token types for ", s.tokens.size(),
                                              " tokens, expected one per token");
        tok::vocabulary v;
        std::vector<tok::added_token> added;
        for (std::size_t i = 0; i < s.tokens.size(); ++i) {
            if (i > 0x7FFFFFFF) ddiff::detail::fail<format_error>(source, ": more than 2^31 tokens");
            tok::bpe_model::add_token(v, s.tokens[i], static_cast<token_id>(i), source, "tokens");
            const int type = typed ? s.token_types[i] : 1;
            if (type == 3 || type == 4) {
                tok::added_token a;
                a.content = s.tokens[i];
                a.special = type == 3;
                a.normalized = false;
                added.push_back(a);
            }
        }
        tok::bpe_options opt;
        tok::decoder dec;
        if (s.kind == bpe_spec::style::byte_level) {
            tok::pre_tokenizer bl;
            bl.k = tok::pre_tokenizer::kind::byte_level;
            bl.add_prefix_space = false;
            if (s.pre_regex.empty()) {
                bl.use_regex = true;
                im->pre = bl;
            } else {
                bl.use_regex = false;
                tok::pre_tokenizer split;
                split.k = tok::pre_tokenizer::kind::split;
                split.pat = tok::pattern::regex(s.pre_regex, source + ": pre-tokenizer regex");
                split.behavior = tok::split_behavior::isolated;
                tok::pre_tokenizer seq;
                seq.k = tok::pre_tokenizer::kind::sequence;
                seq.children = {split, bl};
                im->pre = seq;
            }
            dec.k = tok::decoder::kind::byte_level;
        } else {
            opt.byte_fallback = true;
            opt.fuse_unk = true;
            if (s.unk) {
                if (*s.unk < 0 || static_cast<std::size_t>(*s.unk) >= s.tokens.size())
                    ddiff::detail::fail<format_error>(source, ": unk id ", *s.unk, " is outside the vocabulary");
                opt.unk_token = s.tokens[static_cast<std::size_t>(*s.unk)];
            }
            tok::normalizer seq;
            if (s.add_space_prefix) {
                tok::normalizer pre;
                pre.k = tok::normalizer::kind::prepend;
                pre.text = "\xE2\x96\x81";
                seq.children.push_back(pre);
            }
            tok::normalizer rep;
            rep.k = tok::normalizer::kind::replace;
            rep.pat = tok::pattern::literal(" ");
            rep.text = "\xE2\x96\x81";
            seq.children.push_back(rep);
            im->normalizer = seq;
            tok::decoder r, bf, fu, st;
            r.k = tok::decoder::kind::replace;
            r.pat = tok::pattern::literal("\xE2\x96\x81");
            r.text = " ";
            bf.k = tok::decoder::kind::byte_fallback;
            fu.k = tok::decoder::kind::fuse;
            dec.children = {r, bf, fu};
            if (s.add_space_prefix) {
                st.k = tok::decoder::kind::strip;
                st.ch = U' ';
                st.start = 1;
                st.stop = 0;
                dec.children.push_back(st);
            }
        }
        im->dec = dec;
        if (s.add_bos || s.add_eos) {
            tok::post_processor tp;
            tp.k = tok::post_processor::kind::template_processing;
            const auto special = [&](std::optional<token_id> id, const char* what) {
                if (!id || *id < 0 || static_cast<std::size_t>(*id) >= s.tokens.size())
                    ddiff::detail::fail<format_error>(source, ": add_", what, " without a valid ", what, " id");
                tok::post_processor::template_piece p;
                p.ids = {*id};
                return p;
            };
            if (s.add_bos) tp.single.push_back(special(s.bos, "bos"));
            tp.single.push_back({true, {}});
            if (s.add_eos) tp.single.push_back(special(s.eos, "eos"));
            im->post = tp;
        }
        std::vector<std::pair<std::string_view, std::string_view>> merges(s.merges.begin(), s.merges.end());
        im->bpe = tok::bpe_model::build(std::move(v), merges, opt, source);
        im->added_list = std::move(added);
        im->rebuild_added();
        tokenizer t;
        t.im_ = std::move(im);
        t.check_post_processor_ids("bos / eos");
        return t;
    }

    // ---- use ----------------------------------------------------------------------------------

    // HF Tokenizer::encode(text, add_special_tokens).get_ids(). Invalid UTF-8 is first repaired
    // as a UTF-8 decoder with replacement does (each maximal ill-formed subpart -> U+FFFD), which
    // is what HF receives from Python or Node for such bytes. invalid_argument for a character a
    // character-level vocabulary does not have, or a BPE whose unk_token is missing.
    std::vector<token_id> encode(std::string_view text, bool add_special_tokens = true) const {
        const impl& m = *im_;
        std::string repaired;
        if (!tok::is_valid_utf8(text)) {
            repaired = tok::utf8_lossy(text);
            text = repaired;
        }
        std::vector<token_id> ids;
        ids.reserve(text.size() / 3 + 4);
        thread_local std::vector<tok::added_split> outer, inner;
        thread_local std::string norm;
        thread_local tok::piece_list pl, scratch;
        tok::word_cache* cache = nullptr;
        std::unique_lock<std::mutex> lock(m.cache->mutex, std::try_to_lock);
        if (lock.owns_lock()) cache = m.cache.get();
        m.added.find_matches(text, m.added.raw_matcher(), outer);
        for (const auto& s1 : outer) {
            if (s1.id) {
                ids.push_back(*s1.id);
                continue;
            }
            norm.assign(text.substr(s1.begin, s1.end - s1.begin));
            if (m.normalizer) m.normalizer->apply(norm);
            m.added.find_matches(norm, m.added.normalized_matcher(), inner);
            for (const auto& s2 : inner) {
                if (s2.id) {
                    ids.push_back(*s2.id);
                    continue;
                }
                pl.clear();
                pl.text.assign(norm, s2.begin, s2.end - s2.begin);
                pl.pieces.push_back({0, static_cast<std::uint32_t>(pl.text.size()), s1.begin == 0 && s2.begin == 0});
                if (m.pre) m.pre->apply(pl, scratch);
                for (const auto& p : pl.pieces) {
                    if (m.char_level) m.chars.tokenize(pl.view(p), ids, s1.begin + s2.begin + p.begin);
                    else m.bpe.tokenize(pl.view(p), ids, cache);
                }
            }
        }
        if (m.post) m.post->apply(ids, add_special_tokens);
        return ids;
    }

    // HF Tokenizer::decode(ids, skip_special_tokens): each id's token string (an added token's
    // content, else the model's), special ones dropped when asked, through the decoder (or joined
    // with " " when the file has none, as HF does; a character vocabulary concatenates).
    // invalid_argument for an id with no token (HF silently drops it).
    std::string decode(std::span<const token_id> ids, bool skip_special_tokens = false) const {
        const impl& m = *im_;
        std::vector<std::string> tokens;
        tokens.reserve(ids.size());
        for (const token_id id : ids) {
            const std::string_view t = token_string(id);
            if (skip_special_tokens && m.added.is_special_content(t)) continue;
            tokens.emplace_back(t);
        }
        if (m.dec) {
            m.dec->decode_chain(tokens);
        } else if (!m.char_level) {
            std::string out;
            for (std::size_t i = 0; i < tokens.size(); ++i) {
                if (i) out += ' ';
                out += tokens[i];
            }
            return out;
        }
        std::string out;
        for (const auto& t : tokens) out += t;
        return out;
    }

    // decode() of the runs between occurrences of `mask`, each mask shown as mask_text (a canvas
    // with masked positions: --trace).
    std::string render(std::span<const token_id> ids, token_id mask, std::string_view mask_text,
                       bool skip_special_tokens = false) const {
        std::string out;
        std::size_t run = 0;
        for (std::size_t i = 0; i <= ids.size(); ++i) {
            if (i == ids.size() || ids[i] == mask) {
                out += decode(ids.subspan(run, i - run), skip_special_tokens);
                if (i < ids.size()) out += mask_text;
                run = i + 1;
            }
        }
        return out;
    }

    // The vocabulary string of one id (HF id_to_token: "Ġthe", "<0x0A>", "<|im_end|>").
    std::string piece(token_id id) const { return std::string(token_string(id)); }
    std::optional<token_id> token_to_id(std::string_view token) const {
        if (const auto a = im_->added.find(token)) return a;
        return im_->model_vocab().find(token);
    }
    // 1 + the largest id of the model and the added tokens: the ids encode can return are below it.
    std::size_t vocab_size() const noexcept { return im_->id_limit; }
    bool is_special(token_id id) const {
        const auto* a = im_->added.token(id);
        return a && im_->added.is_special_content(a->content);
    }
    bool is_character_level() const noexcept { return im_->char_level; }
    const tokenizer_metadata& metadata() const noexcept { return im_->meta; }
    const std::string& source() const noexcept { return im_->source; }

private:
    struct impl {
        std::string source;
        bool char_level = false;
        tok::bpe_model bpe;
        tok::char_model chars;
        std::optional<tok::normalizer> normalizer;
        std::optional<tok::pre_tokenizer> pre;
        std::optional<tok::post_processor> post;
        std::optional<tok::decoder> dec;
        std::vector<tok::added_token> added_list;
        std::vector<std::pair<std::string, token_id>> fixed_ids;  // char vocab: content -> its id
        tok::added_vocabulary added;
        std::size_t id_limit = 0;
        tokenizer_metadata meta;
        std::shared_ptr<tok::word_cache> cache = std::make_shared<tok::word_cache>();

        const tok::vocabulary& model_vocab() const noexcept { return char_level ? chars.vocab() : bpe.vocab(); }

        void rebuild_added() {
            const auto& mv = model_vocab();
            std::vector<std::pair<std::string, token_id>> fixed = fixed_ids;
            auto find = [&](const std::string& c) -> std::optional<token_id> {
                for (const auto& [t, id] : fixed)
                    if (t == c) return id;
                return mv.find(c);
            };
            auto norm = [&](const std::string& c) {
                std::string s = c;
                if (normalizer) normalizer->apply(s);
                return s;
            };
            added = tok::added_vocabulary();
            added.add_tokens(added_list, find, mv.size(), norm);
            id_limit = mv.id_limit();
            for (const auto& [id, t] : added.by_id()) id_limit = std::max(id_limit, static_cast<std::size_t>(id) + 1);
        }
    };

    // HF adds a post-processor's ids without looking at the vocabulary; ddiff refuses a file whose
    // post-processor would produce an id with no token.
    void check_post_processor_ids(std::string_view where) const {
        if (!im_->post) return;
        std::vector<token_id> ids;
        im_->post->collect_ids(ids);
        for (token_id id : ids) {
            const bool known = im_->added.token(id) || im_->model_vocab().has_id(id);
            if (!known)
                ddiff::detail::fail<format_error>(im_->source, ": ", where, " adds id ", id,
                                                  ", which has no token, expected an id of the vocabulary");
        }
    }

    std::string_view token_string(token_id id) const {
        if (const auto* a = im_->added.token(id)) return a->content;
        const auto& v = im_->model_vocab();
        if (!v.has_id(id))
            ddiff::detail::fail<invalid_argument>("tokenizer: id ", id, " has no token, expected an id of the vocabulary (below ",
                                                  vocab_size(), ")");
        return v.token(id);
    }

    static std::string describe_short(const nlohmann::json& j) { return io::detail::describe(j); }

    static tok::added_token read_added(const nlohmann::json& j, const tok::json_fields::where& w) {
        using namespace tok::json_fields;
        require_object(j, w);
        tok::added_token t;
        t.content = get_string(j, "content", w);
        (void)get_uint(j, "id", w, 0x7FFFFFFF);  // HF recomputes ids (added_vocabulary.rs add_tokens)
        t.single_word = opt_bool(j, "single_word", w, false);
        t.lstrip = opt_bool(j, "lstrip", w, false);
        t.rstrip = opt_bool(j, "rstrip", w, false);
        t.special = opt_bool(j, "special", w, false);
        t.normalized = opt_bool(j, "normalized", w, !t.special);
        return t;
    }

    static tok::bpe_model read_bpe(const nlohmann::json& model, tok::tokenizer_json_parts& parts,
                                   const tok::json_fields::where& w) {
        using namespace tok::json_fields;
        require_object(model, w);
        const auto* type = find(model, "type");
        if (type && !type->is_string()) bad(w.at("type"), *type, "a string");
        const std::string t = type ? type->get<std::string>() : "";
        if (t != "BPE") {
            if (t.empty() && !parts.has_merges)
                ddiff::detail::fail<config_error>("unsupported model without \"type\" and merges in ", w.source,
                                                  ", expected a BPE model");
            if (!t.empty()) unsupported(w, "model", t, "BPE");
        }
        if (!parts.has_vocab) {
            if (const auto* v = find(model, "vocab")) bad(w.at("vocab"), *v, "an object {token: id}");
            missing(w.at("vocab"), "an object {token: id}");
        }
        if (!parts.has_merges) {
            if (const auto* m = find(model, "merges")) bad(w.at("merges"), *m, "an array of merges");
            missing(w.at("merges"), "an array of merges");
        }
        if (const auto* d = find(model, "dropout"); d && !d->is_null()) {
            if (!d->is_number() || d->get<double>() != 0.0)
                ddiff::detail::fail<config_error>("unsupported BPE dropout ", d->dump(), " in ", w.source,
                                                  ", expected null or 0 (dropout makes encoding random)");
        }
        tok::bpe_options opt;
        opt.unk_token = opt_string(model, "unk_token", w);
        opt.continuing_subword_prefix = opt_string(model, "continuing_subword_prefix", w);
        opt.end_of_word_suffix = opt_string(model, "end_of_word_suffix", w);
        opt.fuse_unk = opt_bool(model, "fuse_unk", w, false);
        opt.byte_fallback = opt_bool(model, "byte_fallback", w, false);
        opt.ignore_merges = opt_bool(model, "ignore_merges", w, false);
        return tok::bpe_model::build(parts.vocab, parts.merges, std::move(opt), w.source);
    }

    void load_metadata(const std::filesystem::path& dir) {
        impl& m = *std::const_pointer_cast<impl>(im_);
        auto md = read_tokenizer_metadata(
            dir, [&](std::string_view t) { return token_to_id(t); }, vocab_size());
        // transformers adds the tokens of added_tokens_decoder the tokenizer does not have yet.
        bool changed = false;
        for (const auto& [id, t] : md.added_tokens_decoder) {
            if (token_to_id(t.content)) continue;
            m.added_list.push_back(t);
            if (m.char_level) m.fixed_ids.emplace_back(t.content, id);
            changed = true;
        }
        if (changed) {
            m.rebuild_added();
            for (const auto& [id, t] : md.added_tokens_decoder)
                if (token_to_id(t.content) != id)
                    ddiff::detail::fail<format_error>(dir.string(), "/tokenizer_config.json: added token ",
                                                      io::detail::quote_str(t.content), " is declared with id ", id,
                                                      " but the tokenizer gives it ", token_to_id(t.content).value_or(-1),
                                                      ", expected the ids to agree");
        }
        m.meta = std::move(md);
    }

    std::shared_ptr<const impl> im_;
};

}  // namespace ddiff::io
