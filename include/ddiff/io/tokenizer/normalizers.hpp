// Normalizers of tokenizer.json (Hugging Face tokenizers src/normalizers): NFC, NFD, NFKC, NFKD,
// Lowercase, Strip, Prepend, Replace and Sequence. Each rewrites a string; offsets are not
// tracked (ddiff needs ids and text, not alignments).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ddiff/io/tokenizer/json_fields.hpp"
#include "ddiff/io/tokenizer/regex.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io::tok {

// A Split / Replace pattern: {"String": s} or {"Regex": r}.
inline pattern read_pattern(const nlohmann::json& j, const json_fields::where& w) {
    using namespace json_fields;
    if (!j.is_object() || j.size() != 1) bad(w, j, "an object {\"String\": ...} or {\"Regex\": ...}");
    if (const auto* s = find(j, "String")) {
        if (!s->is_string()) bad(w.at("String"), *s, "a string");
        return pattern::literal(s->get<std::string>());
    }
    if (const auto* r = find(j, "Regex")) {
        if (!r->is_string()) bad(w.at("Regex"), *r, "a string");
        return pattern::regex(r->get<std::string>(), std::string(w.source) + ": " + w.path);
    }
    bad(w, j, "an object {\"String\": ...} or {\"Regex\": ...}");
}

// Every match of p in s replaced by content (HF NormalizedString::replace, onig's match
// iteration, empty matches included).
inline void replace_all(std::string& s, const pattern& p, std::string_view content) {
    thread_local std::vector<match_range> m;
    p.find_matches(s, m);
    if (m.empty()) return;
    std::string out;
    out.reserve(s.size());
    std::size_t last = 0;
    for (const auto& r : m) {
        out.append(s, last, r.begin - last);
        out.append(content);
        last = r.end;
    }
    out.append(s, last, std::string::npos);
    s.swap(out);
}

struct normalizer {
    enum class kind { nfc, nfd, nfkc, nfkd, lowercase, strip, prepend, replace, sequence };
    kind k = kind::sequence;
    bool strip_left = false, strip_right = false;
    std::string text;  // Prepend: the prefix; Replace: the content
    pattern pat;       // Replace
    std::vector<normalizer> children;

    void apply(std::string& s) const {
        switch (k) {
            case kind::nfc: normalize(s, normal_form::nfc); break;
            case kind::nfd: normalize(s, normal_form::nfd); break;
            case kind::nfkc: normalize(s, normal_form::nfkc); break;
            case kind::nfkd: normalize(s, normal_form::nfkd); break;
            case kind::lowercase: lowercase(s); break;
            case kind::strip: strip(s); break;
            case kind::prepend:
                if (!s.empty()) s.insert(0, text);
                break;
            case kind::replace: replace_all(s, pat, text); break;
            case kind::sequence:
                for (const auto& c : children) c.apply(s);
                break;
        }
    }

    static normalizer from_json(const nlohmann::json& j, const json_fields::where& w) {
        using namespace json_fields;
        const std::string type = type_of(j, w, "normalizer");
        normalizer n;
        if (type == "NFC") n.k = kind::nfc;
        else if (type == "NFD") n.k = kind::nfd;
        else if (type == "NFKC") n.k = kind::nfkc;
        else if (type == "NFKD") n.k = kind::nfkd;
        else if (type == "Lowercase") n.k = kind::lowercase;
        else if (type == "Strip") {
            n.k = kind::strip;
            n.strip_left = get_bool(j, "strip_left", w);
            n.strip_right = get_bool(j, "strip_right", w);
        } else if (type == "Prepend") {
            n.k = kind::prepend;
            n.text = get_string(j, "prepend", w);
        } else if (type == "Replace") {
            n.k = kind::replace;
            n.pat = read_pattern(field(j, "pattern", w, "a pattern object"), w.at("pattern"));
            n.text = get_string(j, "content", w);
        } else if (type == "Sequence") {
            n.k = kind::sequence;
            const auto& list = field(j, "normalizers", w, "an array of normalizers");
            if (!list.is_array()) bad(w.at("normalizers"), list, "an array of normalizers");
            for (std::size_t i = 0; i < list.size(); ++i) n.children.push_back(from_json(list[i], w.at("normalizers").index(i)));
        } else {
            unsupported(w, "normalizer", type, "NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace, Sequence");
        }
        return n;
    }

private:
    // HF NormalizedString::lrstrip: leading / trailing characters with the White_Space property.
    void strip(std::string& s) const {
        std::size_t b = 0, e = s.size();
        if (strip_left) {
            while (b < e) {
                std::size_t k = b;
                if (!is_whitespace(next_char(s, k))) break;
                b = k;
            }
        }
        if (strip_right) {
            while (e > b) {
                std::size_t i = e - 1;
                while (i > b && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
                std::size_t k = i;
                if (!is_whitespace(next_char(s, k))) break;
                e = i;
            }
        }
        s = s.substr(b, e - b);
    }
};

}  // namespace ddiff::io::tok
