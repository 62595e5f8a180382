// Post-processors of tokenizer.json (Hugging Face tokenizers src/processors): what
// add_special_tokens adds around one encoded sequence. TemplateProcessing (template.rs
// apply_template), RobertaProcessing and BertProcessing (<cls> A <sep>), ByteLevel (offsets
// only: ids unchanged) and Sequence.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ddiff/core/types.hpp"
#include "ddiff/io/tokenizer/json_fields.hpp"

namespace ddiff::io::tok {

struct post_processor {
    enum class kind { byte_level, template_processing, cls_sep, sequence };
    struct template_piece {
        bool is_sequence = false;          // Sequence A, else a special token
        std::vector<token_id> ids;         // the special token's ids
    };
    kind k = kind::sequence;
    std::vector<template_piece> single;    // TemplateProcessing
    token_id cls = -1, sep = -1;           // Roberta / Bert
    std::vector<post_processor> children;

    // The ids of one sequence after post-processing (HF TokenizerImpl::post_process, one input).
    void apply(std::vector<token_id>& ids, bool add_special_tokens) const {
        switch (k) {
            case kind::byte_level: return;
            case kind::sequence:
                for (const auto& c : children) c.apply(ids, add_special_tokens);
                return;
            case kind::cls_sep:
                if (!add_special_tokens) return;
                ids.insert(ids.begin(), cls);
                ids.push_back(sep);
                return;
            case kind::template_processing: {
                std::vector<token_id> out;
                out.reserve(ids.size() + 4);
                for (const auto& p : single) {
                    if (p.is_sequence) out.insert(out.end(), ids.begin(), ids.end());
                    else if (add_special_tokens) out.insert(out.end(), p.ids.begin(), p.ids.end());
                }
                ids.swap(out);
                return;
            }
        }
    }

    // Every id this processor can add (checked against the vocabulary once it is built).
    void collect_ids(std::vector<token_id>& out) const {
        if (k == kind::cls_sep) {
            out.push_back(cls);
            out.push_back(sep);
        }
        for (const auto& p : single) out.insert(out.end(), p.ids.begin(), p.ids.end());
        for (const auto& c : children) c.collect_ids(out);
    }

    static post_processor from_json(const nlohmann::json& j, const json_fields::where& w) {
        using namespace json_fields;
        const std::string type = type_of(j, w, "post_processor");
        post_processor p;
        if (type == "ByteLevel") {
            p.k = kind::byte_level;
        } else if (type == "TemplateProcessing") {
            p.k = kind::template_processing;
            read_template(j, w, p);
        } else if (type == "RobertaProcessing" || type == "BertProcessing") {
            p.k = kind::cls_sep;
            p.sep = read_pair(j, "sep", w);
            p.cls = read_pair(j, "cls", w);
        } else if (type == "Sequence") {
            p.k = kind::sequence;
            const auto& list = field(j, "processors", w, "an array of post-processors");
            if (!list.is_array()) bad(w.at("processors"), list, "an array of post-processors");
            for (std::size_t i = 0; i < list.size(); ++i) p.children.push_back(from_json(list[i], w.at("processors").index(i)));
        } else {
            unsupported(w, "post_processor", type, "ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence");
        }
        return p;
    }

private:
    // ["</s>", 2]
    static token_id read_pair(const nlohmann::json& j, std::string_view key, const json_fields::where& w) {
        using namespace json_fields;
        const auto& f = field(j, key, w, "a [token, id] pair");
        if (!f.is_array() || f.size() != 2 || !f[0].is_string()) bad(w.at(key), f, "a [token, id] pair");
        const auto id = io::detail::as_u64(f[1]);
        if (!id || *id > 0x7FFFFFFF) bad(w.at(key).index(1), f[1], "a token id in [0, 2^31)");
        return static_cast<token_id>(*id);
    }

    // template.rs: "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", ...}}],
    // "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}. Only the single template
    // is used (ddiff encodes one sequence).
    static void read_template(const nlohmann::json& j, const json_fields::where& w, post_processor& p) {
        using namespace json_fields;
        std::map<std::string, std::vector<token_id>> specials;
        if (const auto* st = find(j, "special_tokens"); st && !st->is_null()) {
            if (!st->is_object()) bad(w.at("special_tokens"), *st, "an object");
            for (const auto& [name, v] : st->items()) {
                const auto vw = w.at("special_tokens").at(name);
                require_object(v, vw);
                const auto& ids = field(v, "ids", vw, "an array of ids");
                if (!ids.is_array()) bad(vw.at("ids"), ids, "an array of ids");
                std::vector<token_id> out;
                for (std::size_t i = 0; i < ids.size(); ++i) {
                    const auto id = io::detail::as_u64(ids[i]);
                    if (!id || *id > 0x7FFFFFFF) bad(vw.at("ids").index(i), ids[i], "a token id in [0, 2^31)");
                    out.push_back(static_cast<token_id>(*id));
                }
                specials[name] = std::move(out);
            }
        }
        const auto& single = field(j, "single", w, "an array of template pieces");
        if (!single.is_array()) bad(w.at("single"), single, "an array of template pieces");
        for (std::size_t i = 0; i < single.size(); ++i) {
            const auto pw = w.at("single").index(i);
            const auto& e = single[i];
            if (!e.is_object() || e.size() != 1) bad(pw, e, "{\"Sequence\": ...} or {\"SpecialToken\": ...}");
            template_piece piece;
            if (const auto* s = find(e, "Sequence")) {
                require_object(*s, pw.at("Sequence"));
                const std::string id = get_string(*s, "id", pw.at("Sequence"));
                if (id != "A")
                    bad(pw.at("Sequence").at("id"), (*s)["id"], "\"A\" (the single-sequence template has only A)");
                piece.is_sequence = true;
            } else if (const auto* t = find(e, "SpecialToken")) {
                require_object(*t, pw.at("SpecialToken"));
                const std::string id = get_string(*t, "id", pw.at("SpecialToken"));
                const auto it = specials.find(id);
                if (it == specials.end())
                    ddiff::detail::fail<format_error>(w.source, ": ", pw.path, " names special token ",
                                                      io::detail::quote_str(id),
                                                      " which is not in special_tokens, expected one of them");
                piece.ids = it->second;
            } else {
                bad(pw, e, "{\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }
            p.single.push_back(std::move(piece));
        }
    }
};

}  // namespace ddiff::io::tok
