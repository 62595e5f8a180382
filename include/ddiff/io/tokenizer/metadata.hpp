// Checkpoint metadata around a tokenizer: tokenizer_config.json (special tokens, add_bos_token,
// chat_template, added_tokens_decoder), generation_config.json (eos_token_id, an int or a list),
// config.json (bos/eos/pad/mask token ids), and chat_template.jinja / chat_template.json.
#pragma once

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ddiff/core/error.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/tokenizer/added_tokens.hpp"

namespace ddiff::io {

struct named_chat_template {
    std::string name;      // "default", "tool_use", ...
    std::string source;    // the template text
};

struct tokenizer_metadata {
    // Special token strings of tokenizer_config.json (bos_token, ...), when given.
    std::optional<std::string> bos_token, eos_token, pad_token, unk_token, mask_token;
    // Their ids. Order: config.json's *_token_id, then generation_config.json's, then the
    // tokenizer_config.json token looked up in the vocabulary; when two sources disagree the first
    // wins and `conflicts` says so (a front end may print it).
    std::optional<token_id> bos_id, eos_id, pad_id, unk_id, mask_id;
    // The ids that end generation: generation_config.json eos_token_id (int or list), else
    // config.json eos_token_id (int or list), else eos_id.
    std::vector<token_id> eos_ids;
    std::optional<bool> add_bos_token, add_eos_token;  // tokenizer_config.json
    // The default chat template (tokenizer_config.json chat_template, a string, or the entry named
    // "default" of a list of named templates; else chat_template.jinja; else chat_template.json).
    std::optional<std::string> chat_template;
    std::vector<named_chat_template> chat_templates;  // every named template, when a list was given
    // added_tokens_decoder of tokenizer_config.json: id -> token.
    std::vector<std::pair<token_id, tok::added_token>> added_tokens_decoder;
    std::vector<std::string> files;      // the files read
    std::vector<std::string> conflicts;  // "config.json mask_token_id 5 vs tokenizer_config.json mask_token 7"
};

namespace detail {

inline nlohmann::json read_json_object(const std::filesystem::path& file) {
    const std::string text = io::detail::read_text_file(file);
    nlohmann::json j = io::detail::parse_json_strict(text, file.string());
    if (!j.is_object())
        ddiff::detail::fail<format_error>(file.string(), ": top-level JSON value is ", io::detail::describe(j),
                                          ", expected an object");
    return j;
}

// A special token of tokenizer_config.json: a string, {"content": "..."} (an AddedToken), or null.
inline std::optional<std::string> special_token_string(const nlohmann::json& cfg, const char* key, const std::string& file) {
    const auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
        const auto c = it->find("content");
        if (c != it->end() && c->is_string()) return c->get<std::string>();
    }
    ddiff::detail::fail<format_error>(file, ": ", key, " is ", io::detail::describe(*it),
                                      ", expected a string, {\"content\": ...} or null");
}

// An id or list of ids (eos_token_id: 2 or [1, 106]); nullopt when absent or null.
inline std::optional<std::vector<token_id>> id_list(const nlohmann::json& cfg, const char* key, const std::string& file) {
    const auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return std::nullopt;
    const auto one = [&](const nlohmann::json& v) -> token_id {
        double d = 0;
        if (const auto u = io::detail::as_u64(v); u && *u <= 0x7FFFFFFF) return static_cast<token_id>(*u);
        if (v.is_number_float() && (d = v.get<double>()) >= 0 && d <= 2147483647.0 && d == static_cast<double>(static_cast<long long>(d)))
            return static_cast<token_id>(d);
        ddiff::detail::fail<config_error>(file, ": ", key, " holds ", io::detail::describe(v),
                                          ", expected a token id in [0, 2^31)");
    };
    std::vector<token_id> out;
    if (it->is_array()) {
        for (const auto& v : *it) out.push_back(one(v));
    } else {
        out.push_back(one(*it));
    }
    return out;
}

}  // namespace detail

// Reads the metadata files of `dir` (each optional). `find_id` maps a token string to its id and
// `vocab_size` bounds the ids (config_error for an id outside it).
inline tokenizer_metadata read_tokenizer_metadata(const std::filesystem::path& dir,
                                                  const std::function<std::optional<token_id>(std::string_view)>& find_id,
                                                  std::size_t vocab_size) {
    namespace fs = std::filesystem;
    tokenizer_metadata md;
    struct id_source {
        std::optional<token_id> id;
        std::string from;
    };
    id_source bos, eos, pad, unk, mask;
    const auto check_id = [&](token_id id, const std::string& file, std::string_view key) {
        if (id < 0 || static_cast<std::size_t>(id) >= vocab_size)
            ddiff::detail::fail<config_error>(file, ": ", key, " = ", id, " is outside the vocabulary, expected an id in [0, ",
                                              vocab_size, ")");
    };
    const auto set = [&](id_source& s, token_id id, const std::string& from) {
        if (s.id && *s.id != id)
            md.conflicts.push_back(s.from + " = " + std::to_string(*s.id) + " (used) vs " + from + " = " + std::to_string(id));
        if (!s.id) s = {id, from};
    };
    std::optional<std::vector<token_id>> gen_eos, cfg_eos;

    for (const char* name : {"config.json", "generation_config.json"}) {
        const fs::path f = dir / name;
        if (!fs::exists(f)) continue;
        const auto j = detail::read_json_object(f);
        md.files.push_back(f.string());
        const auto single = [&](id_source& s, const char* key) {
            if (const auto v = detail::id_list(j, key, f.string())) {
                if (v->size() != 1)
                    ddiff::detail::fail<config_error>(f.string(), ": ", key, " holds ", v->size(), " ids, expected one");
                check_id(v->front(), f.string(), key);
                set(s, v->front(), f.string() + " " + key);
            }
        };
        single(bos, "bos_token_id");
        single(pad, "pad_token_id");
        single(mask, "mask_token_id");
        if (auto v = detail::id_list(j, "eos_token_id", f.string())) {
            for (token_id id : *v) check_id(id, f.string(), "eos_token_id");
            (std::string(name) == "config.json" ? cfg_eos : gen_eos) = std::move(v);
        }
    }

    const fs::path tc = dir / "tokenizer_config.json";
    if (fs::exists(tc)) {
        const auto j = detail::read_json_object(tc);
        const std::string file = tc.string();
        md.files.push_back(file);
        md.bos_token = detail::special_token_string(j, "bos_token", file);
        md.eos_token = detail::special_token_string(j, "eos_token", file);
        md.pad_token = detail::special_token_string(j, "pad_token", file);
        md.unk_token = detail::special_token_string(j, "unk_token", file);
        md.mask_token = detail::special_token_string(j, "mask_token", file);
        for (const char* key : {"add_bos_token", "add_eos_token"}) {
            const auto it = j.find(key);
            if (it == j.end() || it->is_null()) continue;
            if (!it->is_boolean())
                ddiff::detail::fail<format_error>(file, ": ", key, " is ", io::detail::describe(*it), ", expected a boolean");
            (std::string(key) == "add_bos_token" ? md.add_bos_token : md.add_eos_token) = it->get<bool>();
        }
        if (const auto it = j.find("chat_template"); it != j.end() && !it->is_null()) {
            if (it->is_string()) {
                md.chat_template = it->get<std::string>();
            } else if (it->is_array()) {
                for (const auto& e : *it) {
                    if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["name"].is_string() ||
                        !e["template"].is_string())
                        ddiff::detail::fail<format_error>(file, ": chat_template list entry is ", io::detail::describe(e),
                                                          ", expected {\"name\": string, \"template\": string}");
                    md.chat_templates.push_back({e["name"].get<std::string>(), e["template"].get<std::string>()});
                    if (md.chat_templates.back().name == "default") md.chat_template = md.chat_templates.back().source;
                }
            } else {
                ddiff::detail::fail<format_error>(file, ": chat_template is ", io::detail::describe(*it),
                                                  ", expected a string or a list of named templates");
            }
        }
        if (const auto it = j.find("added_tokens_decoder"); it != j.end() && !it->is_null()) {
            if (!it->is_object())
                ddiff::detail::fail<format_error>(file, ": added_tokens_decoder is ", io::detail::describe(*it), ", expected an object");
            for (const auto& entry : it->items()) {
                const std::string& k = entry.key();
                const nlohmann::json& v = entry.value();  // (a lambda below reads it: no structured binding)
                token_id id = -1;
                try {
                    std::size_t used = 0;
                    const long long x = std::stoll(k, &used);
                    if (used == k.size() && x >= 0 && x <= 0x7FFFFFFF) id = static_cast<token_id>(x);
                } catch (const std::exception&) {
                }
                if (id < 0 || !v.is_object() || !v.contains("content") || !v["content"].is_string())
                    ddiff::detail::fail<format_error>(file, ": added_tokens_decoder entry ", io::detail::quote_str(k),
                                                      " is not an id with {\"content\": ...}, expected id -> AddedToken");
                tok::added_token t;
                t.content = v["content"].get<std::string>();
                const auto flag = [&](const char* name, bool fallback) {
                    const auto f = v.find(name);
                    return f != v.end() && f->is_boolean() ? f->get<bool>() : fallback;
                };
                t.special = flag("special", false);
                t.single_word = flag("single_word", false);
                t.lstrip = flag("lstrip", false);
                t.rstrip = flag("rstrip", false);
                t.normalized = flag("normalized", !t.special);
                md.added_tokens_decoder.emplace_back(id, std::move(t));
            }
        }
    }
    if (!md.chat_template) {
        if (const fs::path f = dir / "chat_template.jinja"; fs::exists(f)) {
            md.chat_template = io::detail::read_text_file(f);
            md.files.push_back(f.string());
        } else if (const fs::path g = dir / "chat_template.json"; fs::exists(g)) {
            const auto j = detail::read_json_object(g);
            const auto it = j.find("chat_template");
            if (it == j.end() || !it->is_string())
                ddiff::detail::fail<format_error>(g.string(), ": expected {\"chat_template\": string}");
            md.chat_template = it->get<std::string>();
            md.files.push_back(g.string());
        }
    }

    const auto by_token = [&](id_source& s, const std::optional<std::string>& t, const char* key) {
        if (!t) return;
        const auto id = find_id(*t);
        if (!id)
            ddiff::detail::fail<config_error>(tc.string(), ": ", key, " ", io::detail::quote_str(*t),
                                              " is not in the tokenizer's vocabulary, expected a known token");
        set(s, *id, tc.string() + " " + key);
    };
    by_token(bos, md.bos_token, "bos_token");
    by_token(pad, md.pad_token, "pad_token");
    by_token(unk, md.unk_token, "unk_token");
    by_token(mask, md.mask_token, "mask_token");
    // eos: the tokenizer's eos token is one id; generation's stop set may hold several.
    if (md.eos_token) by_token(eos, md.eos_token, "eos_token");
    md.bos_id = bos.id;
    md.pad_id = pad.id;
    md.unk_id = unk.id;
    md.mask_id = mask.id;
    md.eos_id = eos.id;
    if (!md.eos_id && cfg_eos && cfg_eos->size() == 1) md.eos_id = cfg_eos->front();
    if (gen_eos) md.eos_ids = *gen_eos;
    else if (cfg_eos) md.eos_ids = *cfg_eos;
    else if (md.eos_id) md.eos_ids = {*md.eos_id};
    return md;
}

}  // namespace ddiff::io
