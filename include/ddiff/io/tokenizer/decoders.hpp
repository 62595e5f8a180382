// Decoders of tokenizer.json (Hugging Face tokenizers src/decoders): token strings back to text.
// ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder and Sequence, each a
// transcription of its decode_chain; Decoder::decode joins the final chain with "". Invalid
// UTF-8 becomes U+FFFD exactly as HF does: ByteLevel through String::from_utf8_lossy (maximal
// subparts), ByteFallback one U+FFFD per byte of an invalid run.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ddiff/io/tokenizer/json_fields.hpp"
#include "ddiff/io/tokenizer/normalizers.hpp"
#include "ddiff/io/tokenizer/pre_tokenizers.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io::tok {

struct decoder {
    enum class kind { byte_level, metaspace, byte_fallback, fuse, strip, replace, bpe, sequence };
    kind k = kind::sequence;
    char32_t ch = 0;  // Metaspace replacement, Strip content
    std::string ch_utf8;
    prepend_scheme scheme = prepend_scheme::always;
    std::size_t start = 0, stop = 0;  // Strip
    pattern pat;                      // Replace
    std::string text;                 // Replace content, BPEDecoder suffix
    std::vector<decoder> children;

    void decode_chain(std::vector<std::string>& tokens) const {
        switch (k) {
            case kind::sequence:
                for (const auto& c : children) c.decode_chain(tokens);
                return;
            case kind::fuse: {
                std::string all;
                for (const auto& t : tokens) all += t;
                tokens.assign(1, std::move(all));
                return;
            }
            case kind::byte_level: byte_level_chain(tokens); return;
            case kind::metaspace: {
                for (std::size_t i = 0; i < tokens.size(); ++i) {
                    std::string out;
                    const std::string& t = tokens[i];
                    for (std::size_t p = 0; p < t.size();) {
                        if (t.compare(p, ch_utf8.size(), ch_utf8) == 0) {
                            if (!(i == 0 && scheme != prepend_scheme::never)) out += ' ';
                            p += ch_utf8.size();
                        } else {
                            out += t[p++];
                        }
                    }
                    tokens[i] = std::move(out);
                }
                return;
            }
            case kind::byte_fallback: byte_fallback_chain(tokens); return;
            case kind::strip:
                for (auto& t : tokens) strip_token(t);
                return;
            case kind::replace:
                for (auto& t : tokens) replace_all(t, pat, text);
                return;
            case kind::bpe:
                // bpe.rs: the suffix becomes " ", except in the last token where it is removed.
                for (std::size_t i = 0; i < tokens.size(); ++i) {
                    if (text.empty()) continue;
                    const std::string rep = i + 1 == tokens.size() ? "" : " ";
                    std::string out;
                    std::size_t p = 0;
                    while (true) {
                        const auto f = tokens[i].find(text, p);
                        if (f == std::string::npos) break;
                        out.append(tokens[i], p, f - p);
                        out += rep;
                        p = f + text.size();
                    }
                    out.append(tokens[i], p, std::string::npos);
                    tokens[i] = std::move(out);
                }
                return;
        }
    }

    static decoder from_json(const nlohmann::json& j, const json_fields::where& w) {
        using namespace json_fields;
        const std::string type = type_of(j, w, "decoder");
        decoder d;
        if (type == "ByteLevel") {
            d.k = kind::byte_level;
        } else if (type == "Metaspace") {
            d.k = kind::metaspace;
            d.ch = get_char(j, "replacement", w);
            d.ch_utf8 = utf8(d.ch);
            d.scheme = read_prepend_scheme(j, w);
        } else if (type == "ByteFallback") {
            d.k = kind::byte_fallback;
        } else if (type == "Fuse") {
            d.k = kind::fuse;
        } else if (type == "Strip") {
            d.k = kind::strip;
            d.ch = get_char(j, "content", w);
            d.start = get_uint(j, "start", w, 1u << 20);
            d.stop = get_uint(j, "stop", w, 1u << 20);
        } else if (type == "Replace") {
            d.k = kind::replace;
            d.pat = read_pattern(field(j, "pattern", w, "a pattern object"), w.at("pattern"));
            d.text = get_string(j, "content", w);
        } else if (type == "BPEDecoder") {
            d.k = kind::bpe;
            d.text = opt_string(j, "suffix", w).value_or("</w>");
        } else if (type == "Sequence") {
            d.k = kind::sequence;
            const auto& list = field(j, "decoders", w, "an array of decoders");
            if (!list.is_array()) bad(w.at("decoders"), list, "an array of decoders");
            for (std::size_t i = 0; i < list.size(); ++i) d.children.push_back(from_json(list[i], w.at("decoders").index(i)));
        } else {
            unsupported(w, "decoder", type, "ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence");
        }
        return d;
    }

private:
    // byte_level.rs Decoder: each token's characters mapped back to bytes (a token with a
    // character outside the byte alphabet keeps its UTF-8 bytes), then one lossy UTF-8 string.
    static void byte_level_chain(std::vector<std::string>& tokens) {
        const auto& table = detail::byte_level();
        std::string bytes;
        for (const auto& t : tokens) {
            const std::size_t mark = bytes.size();
            bool ok = true;
            for (std::size_t i = 0; i < t.size();) {
                const char32_t c = next_char(t, i);
                if (c >= table.to_byte.size() || table.to_byte[c] < 0) {
                    ok = false;
                    break;
                }
                bytes += static_cast<char>(table.to_byte[c]);
            }
            if (!ok) {
                bytes.resize(mark);
                bytes += t;
            }
        }
        tokens.assign(1, utf8_lossy(bytes));
    }

    // byte_fallback.rs: runs of <0xXX> tokens become their bytes if those are valid UTF-8, else one
    // U+FFFD per byte. Parsing follows u8::from_str_radix(&token[3..5], 16) (a '+' sign and
    // lowercase digits are accepted).
    static int byte_of(std::string_view t) {
        if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
        const auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        if (t[3] == '+') return hex(t[4]);  // "+F": one digit with an explicit sign
        const int hi = hex(t[3]), lo = hex(t[4]);
        if (hi < 0 || lo < 0) return -1;
        return hi * 16 + lo;
    }
    static void byte_fallback_chain(std::vector<std::string>& tokens) {
        std::vector<std::string> out;
        std::string run;
        const auto flush = [&] {
            if (run.empty()) return;
            if (is_valid_utf8(run)) {
                out.push_back(run);
            } else {
                for (std::size_t i = 0; i < run.size(); ++i) out.push_back(utf8(replacement_char));
            }
            run.clear();
        };
        for (auto& t : tokens) {
            const int b = byte_of(t);
            if (b >= 0) {
                run += static_cast<char>(b);
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens.swap(out);
    }

    // strip.rs: up to `start` leading and `stop` trailing `content` characters removed.
    void strip_token(std::string& t) const {
        std::vector<std::size_t> starts;  // byte offset of each character
        for (std::size_t i = 0; i < t.size(); i += utf8_len(static_cast<unsigned char>(t[i]))) starts.push_back(i);
        const std::size_t n = starts.size();
        const auto char_at = [&](std::size_t k) {
            std::size_t i = starts[k];
            return next_char(t, i);
        };
        std::size_t start_cut = 0;
        for (std::size_t i = 0; i < std::min(start, n); ++i) {
            if (char_at(i) != ch) break;
            start_cut = i + 1;
        }
        std::size_t stop_cut = n;
        for (std::size_t i = 0; i < std::min(stop, n); ++i) {
            const std::size_t index = n - i - 1;
            if (char_at(index) != ch) break;
            stop_cut = index;
        }
        if (start_cut >= stop_cut) {  // HF would panic on an inverted range; nothing remains
            t.clear();
            return;
        }
        const std::size_t b = starts[start_cut], e = stop_cut < n ? starts[stop_cut] : t.size();
        t = t.substr(b, e - b);
    }
};

}  // namespace ddiff::io::tok
