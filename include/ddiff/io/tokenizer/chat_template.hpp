// Chat templates: the Jinja2 subset that Hugging Face checkpoints' chat_template strings use,
// rendering byte-identical to Python's jinja2 in the environment transformers builds for them
// (transformers utils/chat_template_utils.py: ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True, extensions=[loopcontrols]), a tojson filter that is json.dumps with
// ensure_ascii=False, and the raise_exception global).
//
//   ddiff::io::chat_template t(tokenizer.metadata().chat_template.value());
//   std::string prompt = t.render({{"system", "Be brief."}, {"user", "Hi"}}, /*add_generation_prompt=*/true,
//                                 {.bos_token = "<s>", .eos_token = "</s>"});
//
// Supported: {{ }}, {% %}, {# #} with whitespace control (-, +), trim_blocks / lstrip_blocks and
// jinja2's newline normalization; if / elif / else, for (one or two targets, an inline if filter,
// else, loop.index / index0 / revindex / revindex0 / first / last / length / previtem / nextitem),
// break / continue, set (name, namespace attribute, block set), generation blocks; expressions
// with literals (str, int, float, list, dict, tuple), and / or / not, comparisons, in / not in,
// + - * / // % ** ~, conditional expressions, attribute and item access, slicing with steps,
// calls; filters trim, tojson, length, count, upper, lower, capitalize, title, default (d), join,
// first, last, list, string, int, float, abs, replace, items, reverse, safe, selectattr,
// rejectattr, map (attribute=); tests defined, undefined, none, string, number, integer, float,
// boolean, true, false, mapping, iterable, sequence, callable, odd, even, divisibleby, eq /
// equalto / ==, ne, lt, le, gt, ge, in, lower, upper; globals namespace, range, dict,
// raise_exception; str methods strip / lstrip / rstrip / startswith / endswith / split / rsplit /
// replace / upper / lower / title / capitalize / find / count / join, dict methods items / keys /
// values / get. Anything else is a format_error naming the line and column (macros, includes,
// strftime_now, ...); raise_exception and runtime type errors are invalid_argument.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <unicode/ustring.h>

#include "ddiff/core/error.hpp"
#include "ddiff/io/json.hpp"
#include "ddiff/io/tokenizer/jinja_value.hpp"
#include "ddiff/io/tokenizer/unicode.hpp"

namespace ddiff::io {

struct chat_message {
    std::string role;
    std::string content;
};

// Special tokens and extra variables for render(): transformers passes the tokenizer's special
// tokens (bos_token, eos_token, ...) as template variables; `extra` adds any others (tools,
// enable_thinking, ...), an object whose keys become variables.
struct chat_render_options {
    std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

namespace jinja {

struct location {
    int line = 1, column = 1;
};

[[noreturn]] inline void syntax_error(std::string_view name, location at, std::string_view what) {
    ddiff::detail::fail<format_error>(name, ", line ", at.line, ", column ", at.column, ": ", what);
}

// ---- lexer ---------------------------------------------------------------------------------------

enum class tk { data, var_begin, var_end, block_begin, block_end, name, string, integer, floating, op, end };

struct token {
    tk type;
    std::string text;  // data, name, string value, operator, number text
    location at;
};

class lexer {
public:
    lexer(std::string_view source, std::string_view name) : name_(name) {
        // jinja2 Lexer.tokeniter: newlines (\r\n, \r, \n) become \n and one trailing newline is
        // dropped (keep_trailing_newline=False).
        for (std::size_t i = 0; i < source.size(); ++i) {
            if (source[i] == '\r') {
                src_ += '\n';
                if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
            } else {
                src_ += source[i];
            }
        }
        if (!src_.empty() && src_.back() == '\n') src_.pop_back();
        if (!tok::is_valid_utf8(src_)) ddiff::detail::fail<format_error>(name_, ": the template is not valid UTF-8");
    }

    std::vector<token> run() {
        std::vector<token> out;
        std::size_t pos = 0;
        bool line_starting = true;
        while (pos < src_.size()) {
            const std::size_t open = find_open(pos);
            if (open == std::string::npos) {
                push_data(out, src_.substr(pos), pos);
                break;
            }
            std::string text = src_.substr(pos, open - pos);
            const char kind = src_[open + 1];  // '{', '%' or '#'
            char sign = 0;
            if (open + 2 < src_.size() && (src_[open + 2] == '-' || src_[open + 2] == '+')) sign = src_[open + 2];
            if (sign == '-') {
                text = py_rstrip(text);
            } else if (sign != '+' && kind != '{') {  // lstrip_blocks (not for {{ }})
                const std::size_t l_pos = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
                if ((l_pos > 0 || line_starting) && l_pos < text.size() && all_space(std::string_view(text).substr(l_pos)))
                    text.resize(l_pos);
            }
            push_data(out, text, pos);
            std::size_t p = open + 2 + (sign ? 1 : 0);
            if (kind == '#') {
                const std::size_t close = src_.find("#}", p);
                if (close == std::string::npos) syntax_error(name_, where(open), "missing end of comment tag");
                std::size_t after = close + 2;
                if (close > p && src_[close - 1] == '-') {
                    after = skip_space(after);
                } else if (!(close > p && src_[close - 1] == '+') && after < src_.size() && src_[after] == '\n') {
                    ++after;  // trim_blocks
                }
                line_starting = after > 0 && src_[after - 1] == '\n';
                pos = after;
                continue;
            }
            const bool block = kind == '%';
            out.push_back({block ? tk::block_begin : tk::var_begin, "", where(open)});
            pos = lex_tag(out, p, block, line_starting);
        }
        out.push_back({tk::end, "", where(src_.size())});
        return out;
    }

private:
    location where(std::size_t pos) const {
        location l;
        for (std::size_t i = 0; i < pos && i < src_.size(); ++i) {
            if (src_[i] == '\n') {
                ++l.line;
                l.column = 1;
            } else if ((static_cast<unsigned char>(src_[i]) & 0xC0) != 0x80) {
                ++l.column;
            }
        }
        return l;
    }
    std::size_t find_open(std::size_t pos) const {
        while (true) {
            const std::size_t f = src_.find('{', pos);
            if (f == std::string::npos || f + 1 >= src_.size()) return std::string::npos;
            const char c = src_[f + 1];
            if (c == '{' || c == '%' || c == '#') return f;
            pos = f + 1;
        }
    }
    static bool all_space(std::string_view s) {
        std::size_t i = 0;
        while (i < s.size())
            if (!py_isspace(tok::next_char(s, i))) return false;
        return true;
    }
    static std::string py_rstrip(const std::string& s) {
        std::size_t e = s.size();
        while (e > 0) {
            std::size_t b = e - 1;
            while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
            std::size_t k = b;
            if (!py_isspace(tok::next_char(s, k))) break;
            e = b;
        }
        return s.substr(0, e);
    }
    std::size_t skip_space(std::size_t p) const {  // regex \s* (Unicode, as Python's re)
        while (p < src_.size()) {
            std::size_t k = p;
            if (!py_isspace(tok::next_char(src_, k))) break;
            p = k;
        }
        return p;
    }
    void push_data(std::vector<token>& out, std::string text, std::size_t pos) const {
        if (!text.empty()) out.push_back({tk::data, std::move(text), where(pos)});
    }

    // Tokens of one {{ }} or {% %} up to its end; returns the position after it.
    std::size_t lex_tag(std::vector<token>& out, std::size_t p, bool block, bool& line_starting) {
        std::vector<char> balance;
        while (true) {
            p = skip_space(p);
            if (p >= src_.size()) syntax_error(name_, where(p), block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
            if (balance.empty()) {
                const char* close = block ? "%}" : "}}";
                if (src_[p] == '-' && src_.compare(p + 1, 2, close) == 0) {
                    out.push_back({block ? tk::block_end : tk::var_end, "", where(p)});
                    const std::size_t after = skip_space(p + 3);
                    line_starting = src_[after - 1] == '\n';
                    return after;
                }
                if (block && src_[p] == '+' && src_.compare(p + 1, 2, close) == 0) {
                    out.push_back({tk::block_end, "", where(p)});
                    line_starting = false;
                    return p + 3;
                }
                if (src_.compare(p, 2, close) == 0) {
                    out.push_back({block ? tk::block_end : tk::var_end, "", where(p)});
                    std::size_t after = p + 2;
                    if (block && after < src_.size() && src_[after] == '\n') ++after;  // trim_blocks
                    line_starting = src_[after - 1] == '\n';
                    return after;
                }
            }
            const location at = where(p);
            const char c = src_[p];
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                std::size_t e = p;
                while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
                out.push_back({tk::name, src_.substr(p, e - p), at});
                p = e;
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                std::size_t e = p;
                while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
                bool is_float = false;
                if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
                    is_float = true;
                    ++e;
                    while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
                }
                if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
                    std::size_t f = e + 1;
                    if (f < src_.size() && (src_[f] == '+' || src_[f] == '-')) ++f;
                    if (f < src_.size() && std::isdigit(static_cast<unsigned char>(src_[f]))) {
                        is_float = true;
                        e = f;
                        while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) ++e;
                    }
                }
                std::string num;
                for (std::size_t k = p; k < e; ++k)
                    if (src_[k] != '_') num += src_[k];
                out.push_back({is_float ? tk::floating : tk::integer, num, at});
                p = e;
            } else if (c == '\'' || c == '"') {
                p = lex_string(out, p);
            } else {
                static constexpr std::string_view ops2[] = {"//", "**", "==", "!=", "<=", ">="};
                std::string op;
                for (auto o : ops2)
                    if (src_.compare(p, 2, o) == 0) op = o;
                if (op.empty()) {
                    if (std::string_view("+-*/%~<>=.,:|()[]{}").find(c) == std::string_view::npos)
                        syntax_error(name_, at, std::string("unexpected character '") + c + "'");
                    op = std::string(1, c);
                }
                if (op == "(" || op == "[" || op == "{") balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
                if (op == ")" || op == "]" || op == "}") {
                    if (balance.empty() || balance.back() != op[0]) syntax_error(name_, at, "unexpected '" + op + "'");
                    balance.pop_back();
                }
                out.push_back({tk::op, op, at});
                p += op.size();
            }
        }
    }

    // A string literal, decoded as jinja2 does (Python's unicode-escape).
    std::size_t lex_string(std::vector<token>& out, std::size_t p) {
        const location at = where(p);
        const char q = src_[p];
        std::size_t e = p + 1;
        while (e < src_.size() && src_[e] != q) e += src_[e] == '\\' ? 2 : 1;
        if (e >= src_.size()) syntax_error(name_, at, "unterminated string");
        const std::string_view raw(src_.data() + p + 1, e - p - 1);
        std::string v;
        for (std::size_t i = 0; i < raw.size();) {
            if (raw[i] != '\\' || i + 1 >= raw.size()) {
                v += raw[i++];
                continue;
            }
            const char x = raw[i + 1];
            i += 2;
            const auto hex = [&](std::size_t n) -> char32_t {
                if (i + n > raw.size()) syntax_error(name_, at, "truncated escape in a string");
                char32_t c = 0;
                for (std::size_t k = 0; k < n; ++k) {
                    const char h = raw[i + k];
                    if (!std::isxdigit(static_cast<unsigned char>(h))) syntax_error(name_, at, "invalid escape in a string");
                    c = c * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
                }
                i += n;
                return c;
            };
            switch (x) {
                case '\\': v += '\\'; break;
                case '\'': v += '\''; break;
                case '"': v += '"'; break;
                case 'n': v += '\n'; break;
                case 't': v += '\t'; break;
                case 'r': v += '\r'; break;
                case 'a': v += '\a'; break;
                case 'b': v += '\b'; break;
                case 'f': v += '\f'; break;
                case 'v': v += '\v'; break;
                case '\n': break;  // line continuation
                case 'x': tok::append_utf8(v, hex(2)); break;
                case 'u':
                case 'U': {
                    const char32_t c = hex(x == 'u' ? 4 : 8);
                    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) syntax_error(name_, at, "escape outside Unicode scalar values");
                    tok::append_utf8(v, c);
                    break;
                }
                default:
                    if (x >= '0' && x <= '7') {
                        char32_t c = static_cast<char32_t>(x - '0');
                        for (int k = 0; k < 2 && i < raw.size() && raw[i] >= '0' && raw[i] <= '7'; ++k) c = c * 8 + static_cast<char32_t>(raw[i++] - '0');
                        tok::append_utf8(v, c);
                    } else {
                        v += '\\';  // unknown escapes stay as written (Python)
                        v += x;
                    }
            }
        }
        out.push_back({tk::string, std::move(v), at});
        return e + 1;
    }

    std::string src_;
    std::string name_;
};

// ---- syntax tree ---------------------------------------------------------------------------------

struct expr;
using expr_ptr = std::shared_ptr<const expr>;

struct expr {
    enum class kind {
        constant, name, getattr, getitem, slice, call, filter, test, neg, pos, binary, compare, and_, or_, not_,
        cond, list, tuple, dict, concat
    };
    kind k;
    location at;
    value constant;                 // constant
    std::string name;               // name, getattr attribute, filter / test name, binary operator
    std::vector<expr_ptr> args;     // operands / call arguments / list items / dict keys and values
    std::vector<std::pair<std::string, expr_ptr>> kw;  // keyword arguments
    std::vector<std::string> ops;   // compare operators
    bool negated = false;           // test: "is not"
};

struct stmt;
using body = std::vector<std::shared_ptr<const stmt>>;

struct stmt {
    enum class kind { data, print, if_, for_, set, set_block, break_, continue_, scope_body };
    kind k;
    location at;
    std::string text;                                 // data
    expr_ptr e;                                       // print / set value / for iterable
    std::vector<std::pair<expr_ptr, body>> branches;  // if / elif
    body else_body;                                   // if / for
    body inner;                                       // for / set_block / generation
    std::vector<std::string> targets;                 // for targets; set: {name} or {namespace, attr}
    expr_ptr filter;                                  // for ... if cond
};

// ---- parser --------------------------------------------------------------------------------------

class parser {
public:
    parser(std::vector<token> toks, std::string_view name) : t_(std::move(toks)), name_(name) {}

    body parse_template() {
        auto b = parse_body({});
        if (cur().type != tk::end) fail_here("unexpected tag");
        return b;
    }

private:
    const token& cur() const { return t_[i_]; }
    const token& peek(std::size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
    [[noreturn]] void fail_here(std::string_view what) const {
        const auto& c = cur();
        std::string found = c.type == tk::end ? "end of template" : c.type == tk::block_end ? "'%}'" : c.type == tk::var_end ? "'}}'" : "'" + c.text + "'";
        syntax_error(name_, c.at, std::string(what) + " (found " + found + ")");
    }
    bool is_op(std::string_view o) const { return cur().type == tk::op && cur().text == o; }
    bool is_name(std::string_view n) const { return cur().type == tk::name && cur().text == n; }
    void expect_op(std::string_view o) {
        if (!is_op(o)) fail_here("expected '" + std::string(o) + "'");
        ++i_;
    }
    std::string expect_name() {
        if (cur().type != tk::name) fail_here("expected a name");
        return t_[i_++].text;
    }
    void expect_block_end() {
        if (cur().type != tk::block_end) fail_here("expected '%}'");
        ++i_;
    }

    // Statements until a block tag whose name is in `stops` (left unconsumed: cursor on its name).
    body parse_body(const std::vector<std::string_view>& stops) {
        body b;
        while (true) {
            const token& c = cur();
            if (c.type == tk::end) {
                if (!stops.empty()) fail_here("unexpected end of template, expected {% " + std::string(stops.back()) + " %}");
                return b;
            }
            if (c.type == tk::data) {
                auto s = std::make_shared<stmt>();
                s->k = stmt::kind::data;
                s->at = c.at;
                s->text = c.text;
                b.push_back(s);
                ++i_;
                continue;
            }
            if (c.type == tk::var_begin) {
                ++i_;
                auto s = std::make_shared<stmt>();
                s->k = stmt::kind::print;
                s->at = c.at;
                s->e = parse_tuple_or_expr();
                if (cur().type != tk::var_end) fail_here("expected '}}'");
                ++i_;
                b.push_back(s);
                continue;
            }
            if (c.type != tk::block_begin) fail_here("unexpected token");
            const token& n = peek();
            if (n.type != tk::name) {
                ++i_;
                fail_here("expected a tag name");
            }
            for (auto s : stops)
                if (n.text == s) {
                    ++i_;  // leave the cursor on the name
                    return b;
                }
            ++i_;
            b.push_back(parse_statement());
        }
    }

    std::shared_ptr<stmt> parse_statement() {
        const depth_guard guard(*this);
        const token tag = t_[i_++];
        auto s = std::make_shared<stmt>();
        s->at = tag.at;
        const std::string& n = tag.text;
        if (n == "if") {
            s->k = stmt::kind::if_;
            auto cond = parse_tuple_or_expr();
            expect_block_end();
            while (true) {
                auto bd = parse_body({"elif", "else", "endif"});
                s->branches.emplace_back(cond, std::move(bd));
                const std::string which = t_[i_++].text;
                if (which == "elif") {
                    cond = parse_tuple_or_expr();
                    expect_block_end();
                    continue;
                }
                if (which == "else") {
                    expect_block_end();
                    s->else_body = parse_body({"endif"});
                    ++i_;
                }
                expect_block_end();
                break;
            }
        } else if (n == "for") {
            s->k = stmt::kind::for_;
            s->targets.push_back(expect_name());
            while (is_op(",")) {
                ++i_;
                s->targets.push_back(expect_name());
            }
            if (!is_name("in")) fail_here("expected 'in'");
            ++i_;
            s->e = parse_expression(false);
            if (is_name("if")) {
                ++i_;
                s->filter = parse_expression(true);
            }
            if (is_name("recursive")) fail_here("recursive loops are not supported");
            expect_block_end();
            s->inner = parse_body({"else", "endfor"});
            if (t_[i_++].text == "else") {
                expect_block_end();
                s->else_body = parse_body({"endfor"});
                ++i_;
            }
            expect_block_end();
        } else if (n == "set") {
            const std::string target = expect_name();
            s->targets.push_back(target);
            if (is_op(".")) {
                ++i_;
                s->targets.push_back(expect_name());
            }
            if (is_op("=")) {
                ++i_;
                s->k = stmt::kind::set;
                s->e = parse_tuple_or_expr();
                expect_block_end();
            } else {
                if (s->targets.size() != 1) fail_here("expected '='");
                if (is_op("|")) fail_here("filtered block set is not supported");
                s->k = stmt::kind::set_block;
                expect_block_end();
                s->inner = parse_body({"endset"});
                ++i_;
                expect_block_end();
            }
        } else if (n == "break" || n == "continue") {
            if (loop_depth_ == 0 && false) fail_here("break outside a loop");
            s->k = n == "break" ? stmt::kind::break_ : stmt::kind::continue_;
            expect_block_end();
        } else if (n == "generation") {  // transformers' AssistantTracker: renders its body
            s->k = stmt::kind::scope_body;
            expect_block_end();
            s->inner = parse_body({"endgeneration"});
            ++i_;
            expect_block_end();
        } else {
            syntax_error(name_, tag.at, "unsupported tag '" + n + "' (supported: if, for, set, break, continue, generation)");
        }
        return s;
    }

    // ---- expressions (jinja2 parser.py precedence) ----
    expr_ptr make(expr::kind k, location at) {
        auto e = std::make_shared<expr>();
        e->k = k;
        e->at = at;
        return e;
    }

    // An expression, or a bare tuple "a, b" (jinja2 parse_tuple where allowed).
    expr_ptr parse_tuple_or_expr() {
        const location at = cur().at;
        auto first = parse_expression(true);
        if (!is_op(",")) return first;
        auto t = std::make_shared<expr>();
        t->k = expr::kind::tuple;
        t->at = at;
        t->args.push_back(first);
        while (is_op(",")) {
            ++i_;
            if (cur().type == tk::block_end || cur().type == tk::var_end) break;
            t->args.push_back(parse_expression(true));
        }
        return t;
    }

    expr_ptr parse_expression(bool with_cond) { return with_cond ? parse_condexpr() : parse_or(); }

    expr_ptr parse_condexpr() {
        const depth_guard guard(*this);
        auto e1 = parse_or();
        while (is_name("if")) {
            const location at = cur().at;
            ++i_;
            auto cond = parse_or();
            expr_ptr e3;
            if (is_name("else")) {
                ++i_;
                e3 = parse_condexpr();
            }
            auto c = std::make_shared<expr>();
            c->k = expr::kind::cond;
            c->at = at;
            c->args = {cond, e1, e3};
            e1 = c;
        }
        return e1;
    }
    expr_ptr parse_or() {
        auto l = parse_and();
        while (is_name("or")) {
            auto e = std::make_shared<expr>();
            e->k = expr::kind::or_;
            e->at = cur().at;
            ++i_;
            e->args = {l, parse_and()};
            l = e;
        }
        return l;
    }
    expr_ptr parse_and() {
        auto l = parse_not();
        while (is_name("and")) {
            auto e = std::make_shared<expr>();
            e->k = expr::kind::and_;
            e->at = cur().at;
            ++i_;
            e->args = {l, parse_not()};
            l = e;
        }
        return l;
    }
    expr_ptr parse_not() {
        const depth_guard guard(*this);
        if (is_name("not")) {
            auto e = std::make_shared<expr>();
            e->k = expr::kind::not_;
            e->at = cur().at;
            ++i_;
            e->args = {parse_not()};
            return e;
        }
        return parse_compare();
    }
    expr_ptr parse_compare() {
        const location at = cur().at;
        auto first = parse_math1();
        std::shared_ptr<expr> cmp;
        while (true) {
            std::string op;
            if (cur().type == tk::op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
                                         cur().text == ">" || cur().text == ">=")) {
                op = cur().text;
                ++i_;
            } else if (is_name("in")) {
                op = "in";
                ++i_;
            } else if (is_name("not") && peek().type == tk::name && peek().text == "in") {
                op = "notin";
                i_ += 2;
            } else {
                break;
            }
            if (!cmp) {
                cmp = std::make_shared<expr>();
                cmp->k = expr::kind::compare;
                cmp->at = at;
                cmp->args.push_back(first);
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(parse_math1());
        }
        return cmp ? cmp : first;
    }
    expr_ptr binary(std::string op, expr_ptr l, expr_ptr r, location at) {
        auto e = std::make_shared<expr>();
        e->k = expr::kind::binary;
        e->at = at;
        e->name = std::move(op);
        e->args = {std::move(l), std::move(r)};
        return e;
    }
    expr_ptr parse_math1() {
        auto l = parse_concat();
        while (is_op("+") || is_op("-")) {
            const auto op = cur();
            ++i_;
            l = binary(op.text, l, parse_concat(), op.at);
        }
        return l;
    }
    expr_ptr parse_concat() {
        auto first = parse_math2();
        if (!is_op("~")) return first;
        auto e = std::make_shared<expr>();
        e->k = expr::kind::concat;
        e->at = cur().at;
        e->args.push_back(first);
        while (is_op("~")) {
            ++i_;
            e->args.push_back(parse_math2());
        }
        return e;
    }
    expr_ptr parse_math2() {
        auto l = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const auto op = cur();
            ++i_;
            l = binary(op.text, l, parse_pow(), op.at);
        }
        return l;
    }
    expr_ptr parse_pow() {
        auto l = parse_unary(true);
        while (is_op("**")) {
            const auto op = cur();
            ++i_;
            l = binary("**", l, parse_unary(true), op.at);
        }
        return l;
    }
    // Nesting guard: a hostile template cannot overflow the stack of this recursive parser.
    struct depth_guard {
        parser& p;
        explicit depth_guard(parser& q) : p(q) {
            if (++p.depth_ > 200) p.fail_here("expression or block nesting deeper than 200");
        }
        ~depth_guard() { --p.depth_; }
    };

    expr_ptr parse_unary(bool with_filter) {
        const depth_guard guard(*this);
        expr_ptr node;
        if (is_op("-") || is_op("+")) {
            const auto op = cur();
            ++i_;
            auto e = std::make_shared<expr>();
            e->k = op.text == "-" ? expr::kind::neg : expr::kind::pos;
            e->at = op.at;
            e->args = {parse_unary(false)};
            node = e;
        } else {
            node = parse_primary();
        }
        node = parse_postfix(node);
        if (with_filter) node = parse_filter_expr(node);
        return node;
    }
    expr_ptr parse_primary() {
        const token& c = cur();
        auto e = std::make_shared<expr>();
        e->at = c.at;
        if (c.type == tk::name) {
            ++i_;
            if (c.text == "true" || c.text == "True") {
                e->k = expr::kind::constant;
                e->constant = value::boolean(true);
            } else if (c.text == "false" || c.text == "False") {
                e->k = expr::kind::constant;
                e->constant = value::boolean(false);
            } else if (c.text == "none" || c.text == "None") {
                e->k = expr::kind::constant;
                e->constant = value::none();
            } else {
                e->k = expr::kind::name;
                e->name = c.text;
            }
            return e;
        }
        if (c.type == tk::string) {
            std::string s;
            while (cur().type == tk::string) s += t_[i_++].text;  // adjacent literals concatenate
            e->k = expr::kind::constant;
            e->constant = value::string(std::move(s));
            return e;
        }
        if (c.type == tk::integer || c.type == tk::floating) {
            ++i_;
            e->k = expr::kind::constant;
            if (c.type == tk::integer) {
                long long v = 0;
                for (char d : c.text) {
                    if (v > (INT64_MAX - 9) / 10) syntax_error(name_, c.at, "integer literal too large");
                    v = v * 10 + (d - '0');
                }
                e->constant = value::integer(v);
            } else {
                e->constant = value::floating(std::strtod(c.text.c_str(), nullptr));
            }
            return e;
        }
        if (is_op("(")) {
            ++i_;
            if (is_op(")")) {
                ++i_;
                e->k = expr::kind::tuple;
                return e;
            }
            auto first = parse_expression(true);
            if (is_op(",")) {
                e->k = expr::kind::tuple;
                e->args.push_back(first);
                while (is_op(",")) {
                    ++i_;
                    if (is_op(")")) break;
                    e->args.push_back(parse_expression(true));
                }
                expect_op(")");
                return e;
            }
            expect_op(")");
            return first;
        }
        if (is_op("[")) {
            ++i_;
            e->k = expr::kind::list;
            while (!is_op("]")) {
                if (!e->args.empty()) expect_op(",");
                if (is_op("]")) break;
                e->args.push_back(parse_expression(true));
            }
            ++i_;
            return e;
        }
        if (is_op("{")) {
            ++i_;
            e->k = expr::kind::dict;
            while (!is_op("}")) {
                if (!e->args.empty()) expect_op(",");
                if (is_op("}")) break;
                e->args.push_back(parse_expression(true));
                expect_op(":");
                e->args.push_back(parse_expression(true));
            }
            ++i_;
            return e;
        }
        fail_here("unexpected token in an expression");
    }
    expr_ptr parse_postfix(expr_ptr node) {
        while (true) {
            if (is_op(".")) {
                const location at = cur().at;
                ++i_;
                auto e = std::make_shared<expr>();
                e->at = at;
                if (cur().type == tk::name) {
                    e->k = expr::kind::getattr;
                    e->name = t_[i_++].text;
                    e->args = {node};
                } else if (cur().type == tk::integer) {
                    e->k = expr::kind::getitem;
                    auto idx = make(expr::kind::constant, cur().at);
                    std::const_pointer_cast<expr>(idx)->constant = value::integer(std::stoll(t_[i_++].text));
                    e->args = {node, idx};
                } else {
                    fail_here("expected a name or number after '.'");
                }
                node = e;
            } else if (is_op("[")) {
                const location at = cur().at;
                ++i_;
                node = parse_subscript(node, at);
            } else if (is_op("(")) {
                node = parse_call(node);
            } else {
                return node;
            }
        }
    }
    expr_ptr parse_subscript(expr_ptr node, location at) {
        // [x] or [a:b:c]
        std::array<expr_ptr, 3> parts{};
        bool is_slice = false;
        if (!is_op(":")) parts[0] = parse_expression(true);
        if (is_op(":")) {
            is_slice = true;
            ++i_;
            if (!is_op(":") && !is_op("]")) parts[1] = parse_expression(true);
            if (is_op(":")) {
                ++i_;
                if (!is_op("]")) parts[2] = parse_expression(true);
            }
        }
        if (is_op(",")) fail_here("tuple subscripts are not supported");
        expect_op("]");
        auto e = std::make_shared<expr>();
        e->at = at;
        if (is_slice) {
            e->k = expr::kind::slice;
            e->args = {node, parts[0], parts[1], parts[2]};
        } else {
            e->k = expr::kind::getitem;
            e->args = {node, parts[0]};
        }
        return e;
    }
    void parse_args(expr& e) {
        expect_op("(");
        while (!is_op(")")) {
            if (!e.args.empty() || !e.kw.empty()) {
                expect_op(",");
                if (is_op(")")) break;
            }
            if (is_op("*") || is_op("**")) fail_here("*args and **kwargs are not supported");
            if (cur().type == tk::name && peek().type == tk::op && peek().text == "=") {
                const std::string key = t_[i_].text;
                i_ += 2;
                e.kw.emplace_back(key, parse_expression(true));
            } else {
                if (!e.kw.empty()) fail_here("positional argument after a keyword argument");
                e.args.push_back(parse_expression(true));
            }
        }
        ++i_;
    }
    expr_ptr parse_call(expr_ptr fn) {
        auto e = std::make_shared<expr>();
        e->k = expr::kind::call;
        e->at = cur().at;
        e->args.push_back(fn);
        auto tmp = std::make_shared<expr>();
        parse_args(*tmp);
        for (auto& a : tmp->args) e->args.push_back(a);
        e->kw = tmp->kw;
        return e;
    }
    expr_ptr parse_filter_expr(expr_ptr node) {
        while (true) {
            if (is_op("|")) {
                ++i_;
                const location at = cur().at;
                auto e = std::make_shared<expr>();
                e->k = expr::kind::filter;
                e->at = at;
                e->name = expect_name();
                if (!known_filter(e->name)) syntax_error(name_, at, "unsupported filter '" + e->name + "'");
                auto tmp = std::make_shared<expr>();
                if (is_op("(")) parse_args(*tmp);
                e->args.push_back(node);
                for (auto& a : tmp->args) e->args.push_back(a);
                e->kw = tmp->kw;
                node = e;
            } else if (is_name("is")) {
                ++i_;
                auto e = std::make_shared<expr>();
                e->k = expr::kind::test;
                if (is_name("not")) {
                    ++i_;
                    e->negated = true;
                }
                e->at = cur().at;
                e->name = expect_name();
                if (!known_test(e->name)) syntax_error(name_, e->at, "unsupported test '" + e->name + "'");
                e->args.push_back(node);
                if (is_op("(")) {
                    auto tmp = std::make_shared<expr>();
                    parse_args(*tmp);
                    for (auto& a : tmp->args) e->args.push_back(a);
                } else if (cur().type == tk::string || cur().type == tk::integer || cur().type == tk::floating ||
                           (cur().type == tk::name && !is_name("and") && !is_name("or") && !is_name("else") &&
                            !is_name("if") && !is_name("is") && !is_name("in") && !is_name("not")) ||
                           is_op("[") || is_op("{") || is_op("-")) {
                    e->args.push_back(parse_primary_postfix());
                }
                node = e;
            } else if (is_op("(")) {
                node = parse_call(node);
            } else {
                return node;
            }
        }
    }
    expr_ptr parse_primary_postfix() { return parse_postfix(parse_primary()); }

    static bool known_filter(std::string_view f) {
        static constexpr std::string_view names[] = {
            "trim", "tojson", "length", "count", "upper", "lower", "capitalize", "title", "default", "d", "join", "first",
            "last", "list", "string", "int", "float", "abs", "replace", "items", "reverse", "safe", "selectattr",
            "rejectattr", "map", "e", "escape"};
        for (auto n : names)
            if (n == f) return true;
        return false;
    }
    static bool known_test(std::string_view t) {
        static constexpr std::string_view names[] = {
            "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false", "mapping",
            "iterable", "sequence", "callable", "odd", "even", "divisibleby", "eq", "equalto", "ne", "lt", "le", "gt", "ge",
            "lessthan", "greaterthan", "in", "lower", "upper", "sameas"};
        for (auto n : names)
            if (n == t) return true;
        return false;
    }

    std::vector<token> t_;
    std::size_t i_ = 0;
    std::string name_;
    int loop_depth_ = 0;
    int depth_ = 0;
};

}  // namespace jinja

// A parsed chat template. Immutable; render() may be called concurrently.
class chat_template {
public:
    chat_template() = default;
    // Parses the template; format_error naming `name`, the line and the column for a syntax error
    // or an unsupported construct.
    explicit chat_template(std::string_view source, std::string name = "chat_template") : name_(std::move(name)) {
        jinja::lexer lx(source, name_);
        jinja::parser ps(lx.run(), name_);
        body_ = std::make_shared<jinja::body>(ps.parse_template());
    }

    // Renders with a context object (variables: messages, add_generation_prompt, bos_token, ...).
    std::string render(const nlohmann::ordered_json& context) const;

    // transformers' apply_chat_template(messages, add_generation_prompt, tokenize=False).
    std::string render(std::span<const chat_message> messages, bool add_generation_prompt,
                       const chat_render_options& opt = {}) const {
        nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
        auto msgs = nlohmann::ordered_json::array();
        for (const auto& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
        ctx["messages"] = std::move(msgs);
        for (const auto& [k, v] : opt.extra.items()) ctx[k] = v;
        if (opt.bos_token) ctx["bos_token"] = *opt.bos_token;
        if (opt.eos_token) ctx["eos_token"] = *opt.eos_token;
        if (opt.pad_token) ctx["pad_token"] = *opt.pad_token;
        if (opt.unk_token) ctx["unk_token"] = *opt.unk_token;
        ctx["add_generation_prompt"] = add_generation_prompt;
        return render(ctx);
    }
    std::string render(std::initializer_list<chat_message> messages, bool add_generation_prompt,
                       const chat_render_options& opt = {}) const {
        const std::vector<chat_message> v(messages);
        return render(std::span<const chat_message>(v), add_generation_prompt, opt);
    }

    const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
    std::shared_ptr<const jinja::body> body_;
};

namespace jinja {

// ---- evaluation ----------------------------------------------------------------------------------

class interpreter {
public:
    interpreter(std::string_view name, std::string& out) : name_(name), out_(out) {}

    [[noreturn]] void fail(location at, std::string_view what) const {
        ddiff::detail::fail<invalid_argument>(name_, ", line ", at.line, ", column ", at.column, ": ", what);
    }

    void push_scope() { scopes_.emplace_back(); }
    void pop_scope() { scopes_.pop_back(); }
    void set(const std::string& n, value v) { scopes_.back()[n] = std::move(v); }
    value lookup(const std::string& n) const {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
            const auto f = it->find(n);
            if (f != it->end()) return f->second;
        }
        if (const auto g = globals().find(n); g != globals().end()) return g->second;
        return value::undefined(n);
    }

    enum class flow { normal, break_, continue_ };

    flow exec(const body& b) {
        for (const auto& s : b) {
            const flow f = exec(*s);
            if (f != flow::normal) return f;
        }
        return flow::normal;
    }

    // Bounds on work and output: a template cannot run or print without limit.
    void tick(location at) {
        if (++steps_ > 20'000'000) fail(at, "template execution exceeded 20 million steps");
        if (out_.size() > (64u << 20)) fail(at, "template output exceeded 64 MiB");
    }

    flow exec(const stmt& s) {
        tick(s.at);
        switch (s.k) {
            case stmt::kind::data: out_ += s.text; return flow::normal;
            case stmt::kind::print: out_ += to_str(eval(*s.e)); return flow::normal;
            case stmt::kind::if_:
                for (const auto& [cond, bd] : s.branches)
                    if (truthy(eval(*cond))) return exec(bd);
                return exec(s.else_body);
            case stmt::kind::set: {
                value v = eval(*s.e);
                if (s.targets.size() == 1) {
                    set(s.targets[0], std::move(v));
                } else {
                    const value ns = lookup(s.targets[0]);
                    if (!ns.is_dict() || !ns.d->is_namespace)
                        fail(s.at, "cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
                    ns.d->set(s.targets[1], std::move(v));
                }
                return flow::normal;
            }
            case stmt::kind::set_block: {
                std::string saved;
                saved.swap(out_);
                exec(s.inner);
                saved.swap(out_);
                set(s.targets[0], value::string(std::move(saved)));
                return flow::normal;
            }
            case stmt::kind::break_: return flow::break_;
            case stmt::kind::continue_: return flow::continue_;
            case stmt::kind::scope_body: return exec(s.inner);
            case stmt::kind::for_: return exec_for(s);
        }
        return flow::normal;
    }

    value eval(const expr& e);

private:
    using scope = std::map<std::string, value, std::less<>>;

    static const scope& globals();

    std::vector<value> iterate(const value& v, location at) {
        switch (v.k) {
            case value::kind::list: return *v.l;
            case value::kind::dict: {
                std::vector<value> keys;
                for (const auto& [k, e] : v.d->items) keys.push_back(value::string(k));
                return keys;
            }
            case value::kind::string: {
                std::vector<value> chars;
                std::size_t i = 0;
                while (i < v.s.size()) {
                    const std::size_t b = i;
                    tok::next_char(v.s, i);
                    chars.push_back(value::string(v.s.substr(b, i - b)));
                }
                return chars;
            }
            case value::kind::undefined: return {};
            default: fail(at, std::string("'") + type_name(v) + "' object is not iterable");
        }
    }

    flow exec_for(const stmt& s) {
        std::vector<value> items = iterate(eval(*s.e), s.at);
        push_scope();
        if (s.filter) {
            std::vector<value> kept;
            for (auto& it : items) {
                bind_targets(s, it);
                if (truthy(eval(*s.filter))) kept.push_back(it);
            }
            items.swap(kept);
        }
        const std::size_t n = items.size();
        for (std::size_t i = 0; i < n; ++i) {
            value loop = value::dict();
            auto& d = *loop.d;
            d.items = {{"index", value::integer(static_cast<long long>(i + 1))},
                       {"index0", value::integer(static_cast<long long>(i))},
                       {"revindex", value::integer(static_cast<long long>(n - i))},
                       {"revindex0", value::integer(static_cast<long long>(n - i - 1))},
                       {"first", value::boolean(i == 0)},
                       {"last", value::boolean(i + 1 == n)},
                       {"length", value::integer(static_cast<long long>(n))},
                       {"depth", value::integer(1)},
                       {"depth0", value::integer(0)},
                       {"previtem", i > 0 ? items[i - 1] : value::undefined("previtem")},
                       {"nextitem", i + 1 < n ? items[i + 1] : value::undefined("nextitem")}};
            const long long idx = static_cast<long long>(i);
            d.items.emplace_back("cycle", value::callable([idx](std::vector<value>& a, kwargs&) {
                                     if (a.empty()) return value::undefined("cycle");
                                     return a[static_cast<std::size_t>(idx % static_cast<long long>(a.size()))];
                                 }));
            set("loop", loop);
            bind_targets(s, items[i]);
            const flow f = exec(s.inner);
            if (f == flow::break_) break;
        }
        pop_scope();
        if (n == 0) return exec(s.else_body);
        return flow::normal;
    }

    void bind_targets(const stmt& s, const value& item) {
        if (s.targets.size() == 1) {
            set(s.targets[0], item);
            return;
        }
        if (!item.is_list() || item.l->size() != s.targets.size())
            fail(s.at, "cannot unpack " + std::string(type_name(item)) + " into " + std::to_string(s.targets.size()) + " loop variables");
        for (std::size_t k = 0; k < s.targets.size(); ++k) set(s.targets[k], (*item.l)[k]);
    }

    value attribute(const value& obj, const std::string& name, location at);
    value item(const value& obj, const value& key, location at);
    value call_filter(const expr& e);
    bool call_test(const expr& e);
    value binary(const std::string& op, const value& a, const value& b, location at);
    int compare(const value& a, const value& b, location at);

    std::string_view name_;
    std::string& out_;
    std::vector<scope> scopes_;
    std::size_t steps_ = 0;
};

inline std::string py_strip(const std::string& s, const value* chars, bool left, bool right) {
    std::vector<char32_t> set;
    if (chars && chars->is_string()) {
        std::size_t i = 0;
        while (i < chars->s.size()) set.push_back(tok::next_char(chars->s, i));
    }
    const auto strip_it = [&](char32_t c) {
        if (chars && chars->is_string()) return std::find(set.begin(), set.end(), c) != set.end();
        return py_isspace(c);
    };
    std::size_t b = 0, e = s.size();
    if (left)
        while (b < e) {
            std::size_t k = b;
            if (!strip_it(tok::next_char(s, k))) break;
            b = k;
        }
    if (right)
        while (e > b) {
            std::size_t p = e - 1;
            while (p > b && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
            std::size_t k = p;
            if (!strip_it(tok::next_char(s, k))) break;
            e = p;
        }
    return s.substr(b, e - b);
}

// Python str.upper() / str.lower(): full case mapping (ICU, root locale; final sigma in lower()).
inline std::string py_case(const std::string& s, bool upper) {
    if (tok::all_ascii(s)) {
        std::string o = s;
        for (auto& c : o) c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return o;
    }
    std::u16string u;
    std::size_t i = 0;
    while (i < s.size()) {
        const char32_t c = tok::next_char(s, i);
        if (c >= 0x10000) {
            u += static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10));
            u += static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF));
        } else {
            u += static_cast<char16_t>(c);
        }
    }
    std::u16string dst(u.size() * 3 + 8, u'\0');
    UErrorCode st = U_ZERO_ERROR;
    const auto n = upper ? u_strToUpper(reinterpret_cast<UChar*>(dst.data()), static_cast<int32_t>(dst.size()),
                                        reinterpret_cast<const UChar*>(u.data()), static_cast<int32_t>(u.size()), "", &st)
                         : u_strToLower(reinterpret_cast<UChar*>(dst.data()), static_cast<int32_t>(dst.size()),
                                        reinterpret_cast<const UChar*>(u.data()), static_cast<int32_t>(u.size()), "", &st);
    if (U_FAILURE(st)) return s;
    std::string out;
    for (int32_t k = 0; k < n;) {
        char32_t c = dst[static_cast<std::size_t>(k++)];
        if (c >= 0xD800 && c <= 0xDBFF && k < n) c = 0x10000 + ((c - 0xD800) << 10) + (dst[static_cast<std::size_t>(k++)] - 0xDC00);
        tok::append_utf8(out, c);
    }
    return out;
}

inline std::vector<std::string> py_split(const std::string& s, const value* sep, long long maxsplit) {
    std::vector<std::string> out;
    if (!sep || sep->is_none()) {  // runs of whitespace, no empty strings
        std::size_t i = 0;
        while (i < s.size()) {
            std::size_t k = i;
            while (k < s.size()) {
                std::size_t q = k;
                if (!py_isspace(tok::next_char(s, q))) break;
                k = q;
            }
            i = k;
            if (i >= s.size()) break;
            if (maxsplit >= 0 && static_cast<long long>(out.size()) == maxsplit) {
                std::string rest = s.substr(i);
                // Python strips trailing whitespace of the remainder only when splitting ends by exhaustion.
                out.push_back(rest);
                return out;
            }
            std::size_t e = i;
            while (e < s.size()) {
                std::size_t q = e;
                if (py_isspace(tok::next_char(s, q))) break;
                e = q;
            }
            out.push_back(s.substr(i, e - i));
            i = e;
        }
        return out;
    }
    const std::string& d = sep->s;
    std::size_t p = 0;
    while (true) {
        if (maxsplit >= 0 && static_cast<long long>(out.size()) == maxsplit) break;
        const auto f = s.find(d, p);
        if (f == std::string::npos) break;
        out.push_back(s.substr(p, f - p));
        p = f + d.size();
    }
    out.push_back(s.substr(p));
    return out;
}

inline const interpreter::scope& interpreter::globals() {
    static const scope g = [] {
        scope s;
        s["raise_exception"] = value::callable([](std::vector<value>& a, kwargs&) -> value {
            ddiff::detail::fail<invalid_argument>("chat template raised an exception: ", a.empty() ? std::string() : to_str(a[0]));
        });
        s["namespace"] = value::callable([](std::vector<value>& a, kwargs& kw) {
            value v = value::dict();
            v.d->is_namespace = true;
            if (!a.empty() && a[0].is_dict())
                for (const auto& [k, e] : a[0].d->items) v.d->set(k, e);
            for (auto& [k, e] : kw) v.d->set(k, e);
            return v;
        });
        s["dict"] = value::callable([](std::vector<value>& a, kwargs& kw) {
            value v = value::dict();
            if (!a.empty() && a[0].is_dict())
                for (const auto& [k, e] : a[0].d->items) v.d->set(k, e);
            for (auto& [k, e] : kw) v.d->set(k, e);
            return v;
        });
        s["range"] = value::callable([](std::vector<value>& a, kwargs&) {
            long long start = 0, stop = 0, step = 1;
            const auto num = [](const value& v) {
                if (v.k != value::kind::integer) ddiff::detail::fail<invalid_argument>("chat template: range() expects integers");
                return v.i;
            };
            if (a.size() == 1) stop = num(a[0]);
            else if (a.size() >= 2) {
                start = num(a[0]);
                stop = num(a[1]);
                if (a.size() >= 3) step = num(a[2]);
            }
            if (step == 0) ddiff::detail::fail<invalid_argument>("chat template: range() step must not be zero");
            value v = value::list();
            for (long long x = start; step > 0 ? x < stop : x > stop;) {
                if (v.l->size() >= 100000) ddiff::detail::fail<invalid_argument>("chat template: range() longer than 100000");
                v.l->push_back(value::integer(x));
                if (__builtin_add_overflow(x, step, &x)) break;
            }
            return v;
        });
        return s;
    }();
    return g;
}

inline value interpreter::attribute(const value& obj, const std::string& name, location at) {
    if (obj.is_undefined()) fail(at, "'" + (obj.s.empty() ? std::string("value") : obj.s) + "' is undefined (attribute '" + name + "')");
    if (obj.is_dict()) {
        if (!obj.d->is_namespace) {
            const dict_ptr d = obj.d;
            if (name == "items")
                return value::callable([d](std::vector<value>&, kwargs&) {
                    value out = value::list();
                    for (const auto& [k, v] : d->items) out.l->push_back(value::list({value::string(k), v}));
                    return out;
                });
            if (name == "keys")
                return value::callable([d](std::vector<value>&, kwargs&) {
                    value out = value::list();
                    for (const auto& [k, v] : d->items) out.l->push_back(value::string(k));
                    return out;
                });
            if (name == "values")
                return value::callable([d](std::vector<value>&, kwargs&) {
                    value out = value::list();
                    for (const auto& [k, v] : d->items) out.l->push_back(v);
                    return out;
                });
            if (name == "get")
                return value::callable([d](std::vector<value>& a, kwargs&) {
                    if (!a.empty() && a[0].is_string())
                        if (const value* v = d->find(a[0].s)) return *v;
                    return a.size() > 1 ? a[1] : value::none();
                });
        }
        if (const value* v = obj.d->find(name)) return *v;
        return value::undefined(name);
    }
    if (obj.is_string()) {
        const std::string s = obj.s;
        const auto method = [&](auto f) { return value::callable(f); };
        if (name == "strip" || name == "lstrip" || name == "rstrip") {
            const bool l = name != "rstrip", r = name != "lstrip";
            return method([s, l, r](std::vector<value>& a, kwargs&) {
                return value::string(py_strip(s, a.empty() || a[0].is_none() ? nullptr : &a[0], l, r));
            });
        }
        if (name == "startswith" || name == "endswith") {
            const bool start = name == "startswith";
            return method([s, start](std::vector<value>& a, kwargs&) {
                if (a.empty()) ddiff::detail::fail<invalid_argument>("chat template: startswith/endswith need an argument");
                std::vector<std::string> cands;
                if (a[0].is_string()) cands.push_back(a[0].s);
                else if (a[0].is_list())
                    for (const auto& x : *a[0].l) cands.push_back(to_str(x));
                else ddiff::detail::fail<invalid_argument>("chat template: startswith/endswith need a str or a tuple");
                for (const auto& c : cands) {
                    if (c.size() > s.size()) continue;
                    if (start ? s.compare(0, c.size(), c) == 0 : s.compare(s.size() - c.size(), c.size(), c) == 0)
                        return value::boolean(true);
                }
                return value::boolean(false);
            });
        }
        if (name == "split" || name == "rsplit") {
            const bool rs = name == "rsplit";
            return method([s, rs](std::vector<value>& a, kwargs& kw) {
                const value* sep = a.empty() ? nullptr : &a[0];
                long long maxsplit = a.size() > 1 && a[1].k == value::kind::integer ? a[1].i : -1;
                for (auto& [k, v] : kw) {
                    if (k == "sep") sep = &v;
                    if (k == "maxsplit" && v.k == value::kind::integer) maxsplit = v.i;
                }
                if (sep && !sep->is_none() && (!sep->is_string() || sep->s.empty()))
                    ddiff::detail::fail<invalid_argument>("chat template: split() separator must be a non-empty str");
                if (rs && maxsplit >= 0)
                    ddiff::detail::fail<invalid_argument>("chat template: rsplit with maxsplit is not supported");
                value out = value::list();
                for (auto& p : py_split(s, sep, maxsplit)) out.l->push_back(value::string(std::move(p)));
                return out;
            });
        }
        if (name == "replace")
            return method([s](std::vector<value>& a, kwargs&) {
                if (a.size() < 2 || !a[0].is_string() || !a[1].is_string())
                    ddiff::detail::fail<invalid_argument>("chat template: replace() needs two strings");
                long long count = a.size() > 2 && a[2].k == value::kind::integer ? a[2].i : -1;
                std::string out;
                if (a[0].s.empty()) {
                    ddiff::detail::fail<invalid_argument>("chat template: replace() of an empty string is not supported");
                }
                std::size_t p = 0;
                while (count != 0) {
                    const auto f = s.find(a[0].s, p);
                    if (f == std::string::npos) break;
                    out.append(s, p, f - p);
                    out += a[1].s;
                    p = f + a[0].s.size();
                    if (count > 0) --count;
                }
                out.append(s, p, std::string::npos);
                return value::string(out);
            });
        if (name == "upper" || name == "lower") {
            const bool up = name == "upper";
            return method([s, up](std::vector<value>&, kwargs&) { return value::string(py_case(s, up)); });
        }
        if (name == "title" || name == "capitalize") {
            const bool title = name == "title";
            return method([s, title](std::vector<value>&, kwargs&) {
                std::string out;
                bool at_start = true;
                std::size_t i = 0;
                while (i < s.size()) {
                    const std::size_t b = i;
                    const char32_t c = tok::next_char(s, i);
                    const std::string ch = s.substr(b, i - b);
                    const bool cased = u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASED);
                    out += at_start ? py_case(ch, true) : py_case(ch, false);
                    at_start = title ? !cased && !u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASE_IGNORABLE) ? true : false : false;
                    if (title && cased) at_start = false;
                }
                return value::string(out);
            });
        }
        if (name == "find" || name == "count")
            return method([s, name](std::vector<value>& a, kwargs&) {
                if (a.empty() || !a[0].is_string()) ddiff::detail::fail<invalid_argument>("chat template: find/count need a str");
                if (name == "find") {
                    const auto f = s.find(a[0].s);
                    return value::integer(f == std::string::npos ? -1 : static_cast<long long>(tok::char_count(s.substr(0, f))));
                }
                if (a[0].s.empty()) return value::integer(static_cast<long long>(tok::char_count(s) + 1));
                long long n = 0;
                for (std::size_t p = s.find(a[0].s); p != std::string::npos; p = s.find(a[0].s, p + a[0].s.size())) ++n;
                return value::integer(n);
            });
        if (name == "join")
            return method([s](std::vector<value>& a, kwargs&) {
                std::string out;
                if (a.empty() || !a[0].is_list()) ddiff::detail::fail<invalid_argument>("chat template: join() needs a list");
                for (std::size_t k = 0; k < a[0].l->size(); ++k) {
                    if (k) out += s;
                    const value& e = (*a[0].l)[k];
                    if (!e.is_string()) ddiff::detail::fail<invalid_argument>("chat template: join() of a non-str item");
                    out += e.s;
                }
                return value::string(out);
            });
        fail(at, "unsupported str method '" + name + "'");
    }
    if (obj.is_list() && (name == "append" || name == "pop" || name == "extend" || name == "insert" || name == "remove" ||
                          name == "clear" || name == "sort" || name == "reverse"))
        fail(at, "unsafe: the list method '" + name + "' modifies its object (jinja2's immutable sandbox refuses it)");
    return value::undefined(name);
}

inline value interpreter::item(const value& obj, const value& key, location at) {
    if (obj.is_undefined()) fail(at, "'" + (obj.s.empty() ? std::string("value") : obj.s) + "' is undefined (subscript)");
    if (obj.is_list() || obj.is_string()) {
        if (key.k != value::kind::integer && key.k != value::kind::boolean) {
            if (key.is_string()) return attribute(obj, key.s, at);
            return value::undefined();
        }
        long long i = key.k == value::kind::boolean ? key.b : key.i;
        if (obj.is_list()) {
            const long long n = static_cast<long long>(obj.l->size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return value::undefined();
            return (*obj.l)[static_cast<std::size_t>(i)];
        }
        std::vector<std::size_t> starts;
        for (std::size_t p = 0; p < obj.s.size(); p += tok::utf8_len(static_cast<unsigned char>(obj.s[p]))) starts.push_back(p);
        const long long n = static_cast<long long>(starts.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return value::undefined();
        const std::size_t b = starts[static_cast<std::size_t>(i)];
        return value::string(obj.s.substr(b, tok::utf8_len(static_cast<unsigned char>(obj.s[b]))));
    }
    if (obj.is_dict()) {
        if (key.is_string()) {
            if (const value* v = obj.d->find(key.s)) return *v;
            return attribute(obj, key.s, at);
        }
        return value::undefined();
    }
    if (key.is_string()) return attribute(obj, key.s, at);
    return value::undefined();
}

inline int interpreter::compare(const value& a, const value& b, location at) {
    if (a.is_number() && b.is_number()) {
        const double x = as_double(a), y = as_double(b);
        if (a.k != value::kind::floating && b.k != value::kind::floating) {
            const long long p = a.k == value::kind::boolean ? a.b : a.i, q = b.k == value::kind::boolean ? b.b : b.i;
            return p < q ? -1 : p > q ? 1 : 0;
        }
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;  // UTF-8 order = code point order
    if (a.is_list() && b.is_list()) {
        for (std::size_t i = 0; i < std::min(a.l->size(), b.l->size()); ++i) {
            if (equal((*a.l)[i], (*b.l)[i])) continue;
            return compare((*a.l)[i], (*b.l)[i], at);
        }
        return a.l->size() < b.l->size() ? -1 : a.l->size() > b.l->size() ? 1 : 0;
    }
    fail(at, std::string("'<' not supported between instances of '") + type_name(a) + "' and '" + type_name(b) + "'");
}

inline value interpreter::binary(const std::string& op, const value& a, const value& b, location at) {
    if (a.is_undefined() || b.is_undefined())
        fail(at, "'" + (a.is_undefined() ? a.s : b.s) + "' is undefined (operand of '" + op + "')");
    const bool ints = (a.k == value::kind::integer || a.k == value::kind::boolean) &&
                      (b.k == value::kind::integer || b.k == value::kind::boolean);
    const auto iv = [](const value& v) { return v.k == value::kind::boolean ? static_cast<long long>(v.b) : v.i; };
    long long r = 0;
    // Called after the builtin has written r (an argument would be read in unspecified order).
    const auto checked = [&](bool overflow) {
        if (overflow) fail(at, "integer overflow in '" + op + "' (Python integers are unbounded; ddiff's are 64-bit)");
        return value::integer(r);
    };
    if (op == "+") {
        if (a.is_string() && b.is_string()) {
            if (a.s.size() + b.s.size() > (64u << 20)) fail(at, "string longer than 64 MiB");
            return value::string(a.s + b.s);
        }
        if (a.is_list() && b.is_list()) {
            value v = value::list(*a.l);
            v.l->insert(v.l->end(), b.l->begin(), b.l->end());
            return v;
        }
        if (ints) return checked(__builtin_add_overflow(iv(a), iv(b), &r));
        if (a.is_number() && b.is_number()) return value::floating(as_double(a) + as_double(b));
    } else if (op == "-") {
        if (ints) return checked(__builtin_sub_overflow(iv(a), iv(b), &r));
        if (a.is_number() && b.is_number()) return value::floating(as_double(a) - as_double(b));
    } else if (op == "*") {
        if (ints) return checked(__builtin_mul_overflow(iv(a), iv(b), &r));
        if (a.is_number() && b.is_number()) return value::floating(as_double(a) * as_double(b));
        if ((a.is_string() && b.k == value::kind::integer) || (b.is_string() && a.k == value::kind::integer)) {
            const std::string& s = a.is_string() ? a.s : b.s;
            const long long n = a.is_string() ? b.i : a.i;
            if (n > 0 && !s.empty() && static_cast<unsigned long long>(n) > (1ull << 24) / s.size())
                fail(at, "string repetition too long");
            std::string out;
            for (long long k = 0; k < n; ++k) out += s;
            return value::string(out);
        }
    } else if (op == "/") {
        if (a.is_number() && b.is_number()) {
            if (as_double(b) == 0) fail(at, "division by zero");
            return value::floating(as_double(a) / as_double(b));
        }
    } else if (op == "//" || op == "%") {
        if (ints) {
            const long long x = iv(a), y = iv(b);
            if (y == 0) fail(at, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) fail(at, "integer overflow in '" + op + "'");
            long long q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) {
                --q;
                r += y;
            }
            return value::integer(op == "//" ? q : r);
        }
        if (a.is_number() && b.is_number()) {
            const double x = as_double(a), y = as_double(b);
            if (y == 0) fail(at, "float division by zero");
            const double q = std::floor(x / y);
            return value::floating(op == "//" ? q : x - q * y);
        }
        if (op == "%" && a.is_string()) fail(at, "%-formatting of strings is not supported");
    } else if (op == "**") {
        if (ints && iv(b) >= 0) {  // by squaring, with overflow checks
            long long base = iv(a), e = iv(b), acc = 1;
            while (e > 0) {
                if (e & 1)
                    if (__builtin_mul_overflow(acc, base, &acc)) fail(at, "integer overflow in '**'");
                e >>= 1;
                if (e > 0 && __builtin_mul_overflow(base, base, &base)) fail(at, "integer overflow in '**'");
            }
            return value::integer(acc);
        }
        if (a.is_number() && b.is_number()) return value::floating(std::pow(as_double(a), as_double(b)));
    }
    fail(at, std::string("unsupported operand types for ") + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

inline bool interpreter::call_test(const expr& e) {
    const value v = eval(*e.args[0]);
    std::vector<value> a;
    for (std::size_t k = 1; k < e.args.size(); ++k) a.push_back(eval(*e.args[k]));
    const std::string& n = e.name;
    const auto arg = [&]() -> const value& {
        if (a.empty()) fail(e.at, "test '" + n + "' needs an argument");
        return a[0];
    };
    bool r = false;
    if (n == "defined") r = !v.is_undefined();
    else if (n == "undefined") r = v.is_undefined();
    else if (n == "none") r = v.is_none();
    else if (n == "string") r = v.is_string();
    else if (n == "number") r = v.k == value::kind::integer || v.k == value::kind::floating || v.k == value::kind::boolean;
    else if (n == "integer") r = v.k == value::kind::integer;
    else if (n == "float") r = v.k == value::kind::floating;
    else if (n == "boolean") r = v.k == value::kind::boolean;
    else if (n == "true") r = v.k == value::kind::boolean && v.b;
    else if (n == "false") r = v.k == value::kind::boolean && !v.b;
    else if (n == "mapping") r = v.is_dict();
    else if (n == "iterable") r = v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
    else if (n == "sequence") r = v.is_list() || v.is_dict() || v.is_string();
    else if (n == "callable") r = v.k == value::kind::function;
    else if (n == "odd" || n == "even") {
        if (v.k != value::kind::integer) fail(e.at, "test '" + n + "' needs an integer");
        r = (v.i % 2 != 0) == (n == "odd");
    } else if (n == "divisibleby") {
        const value& d = arg();
        if (v.k != value::kind::integer || d.k != value::kind::integer || d.i == 0) fail(e.at, "divisibleby needs integers");
        r = v.i % d.i == 0;
    } else if (n == "eq" || n == "equalto") r = equal(v, arg());
    else if (n == "ne") r = !equal(v, arg());
    else if (n == "lt" || n == "lessthan") r = compare(v, arg(), e.at) < 0;
    else if (n == "le") r = compare(v, arg(), e.at) <= 0;
    else if (n == "gt" || n == "greaterthan") r = compare(v, arg(), e.at) > 0;
    else if (n == "ge") r = compare(v, arg(), e.at) >= 0;
    else if (n == "sameas") r = equal(v, arg()) && v.k == arg().k;
    else if (n == "in") {
        const value& c = arg();
        if (c.is_string() && v.is_string()) r = c.s.find(v.s) != std::string::npos;
        else if (c.is_list()) r = std::any_of(c.l->begin(), c.l->end(), [&](const value& x) { return equal(x, v); });
        else if (c.is_dict()) r = v.is_string() && c.d->find(v.s);
        else fail(e.at, "test 'in' needs a container");
    } else if (n == "lower" || n == "upper") {
        r = v.is_string() && py_case(v.s, n == "upper") == v.s;
    }
    return e.negated ? !r : r;
}

inline value interpreter::call_filter(const expr& e) {
    value v = eval(*e.args[0]);
    std::vector<value> a;
    for (std::size_t k = 1; k < e.args.size(); ++k) a.push_back(eval(*e.args[k]));
    std::vector<std::pair<std::string, value>> kw;
    for (const auto& [k, x] : e.kw) kw.emplace_back(k, eval(*x));
    const auto kwarg = [&](std::string_view name, std::size_t pos) -> const value* {
        for (const auto& [k, x] : kw)
            if (k == name) return &x;
        return pos < a.size() ? &a[pos] : nullptr;
    };
    const std::string& n = e.name;
    const auto need_string = [&]() -> std::string {
        if (v.is_undefined()) return "";
        return to_str(v);
    };
    if (n == "trim") return value::string(py_strip(need_string(), kwarg("chars", 0), true, true));
    if (n == "upper" || n == "lower") return value::string(py_case(need_string(), n == "upper"));
    if (n == "safe") return v;
    if (n == "string") return value::string(to_str(v));
    if (n == "e" || n == "escape") {
        std::string out;
        for (char c : need_string()) {
            switch (c) {
                case '&': out += "&amp;"; break;
                case '<': out += "&lt;"; break;
                case '>': out += "&gt;"; break;
                case '"': out += "&#34;"; break;
                case '\'': out += "&#39;"; break;
                default: out += c;
            }
        }
        return value::string(out);
    }
    if (n == "capitalize" || n == "title") {
        std::vector<value> none;
        kwargs nk;
        return (*attribute(value::string(need_string()), n, e.at).fn)(none, nk);
    }
    if (n == "length" || n == "count") {
        switch (v.k) {
            case value::kind::string: return value::integer(static_cast<long long>(tok::char_count(v.s)));
            case value::kind::list: return value::integer(static_cast<long long>(v.l->size()));
            case value::kind::dict: return value::integer(static_cast<long long>(v.d->items.size()));
            case value::kind::undefined: return value::integer(0);
            default: fail(e.at, std::string("object of type '") + type_name(v) + "' has no len()");
        }
    }
    if (n == "default" || n == "d") {
        const value* dv = kwarg("default_value", 0);
        const value* boolean = kwarg("boolean", 1);
        const bool use = v.is_undefined() || (boolean && truthy(*boolean) && !truthy(v));
        if (use) return dv ? *dv : value::string("");
        return v;
    }
    if (n == "tojson") {
        json_options o;
        if (const value* x = kwarg("indent", 0); x && !x->is_none()) {
            if (x->k == value::kind::integer) o.indent = std::string(static_cast<std::size_t>(std::max(0LL, x->i)), ' ');
            else if (x->is_string()) o.indent = x->s;
            o.item_sep = ",";
        }
        if (const value* x = kwarg("ensure_ascii", 99)) o.ensure_ascii = truthy(*x);
        if (const value* x = kwarg("sort_keys", 99)) o.sort_keys = truthy(*x);
        if (const value* x = kwarg("separators", 99); x && x->is_list() && x->l->size() == 2) {
            o.item_sep = to_str((*x->l)[0]);
            o.key_sep = to_str((*x->l)[1]);
        }
        std::string out;
        to_json(out, v, o, 0);
        return value::string(out);
    }
    if (n == "join") {
        const value* sep = kwarg("d", 0);
        const value* attr = kwarg("attribute", 1);
        std::string out;
        const auto items = iterate(v, e.at);
        for (std::size_t k = 0; k < items.size(); ++k) {
            if (k) out += sep ? to_str(*sep) : "";
            out += to_str(attr ? item(items[k], *attr, e.at) : items[k]);
        }
        return value::string(out);
    }
    if (n == "first" || n == "last") {
        const auto items = iterate(v, e.at);
        if (items.empty()) return value::undefined("first");
        return n == "first" ? items.front() : items.back();
    }
    if (n == "list") return value::list(iterate(v, e.at));
    if (n == "reverse") {
        if (v.is_string()) {
            auto chars = iterate(v, e.at);
            std::string out;
            for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->s;
            return value::string(out);
        }
        auto items = iterate(v, e.at);
        std::reverse(items.begin(), items.end());
        return value::list(items);
    }
    if (n == "items") {
        if (v.is_undefined()) return value::list();
        if (!v.is_dict()) fail(e.at, "filter 'items' needs a mapping");
        value out = value::list();
        for (const auto& [k, x] : v.d->items) out.l->push_back(value::list({value::string(k), x}));
        return out;
    }
    if (n == "int") {
        if (v.k == value::kind::integer) return v;
        if (v.k == value::kind::floating) {
            if (!(std::fabs(v.f) < 9.2e18)) fail(e.at, "int() of a float outside 64-bit integers");
            return value::integer(static_cast<long long>(v.f));
        }
        if (v.k == value::kind::boolean) return value::integer(v.b);
        if (v.is_string()) {
            try {
                std::size_t used = 0;
                const long long x = std::stoll(py_strip(v.s, nullptr, true, true), &used);
                return value::integer(x);
            } catch (const std::exception&) {
            }
        }
        const value* dv = kwarg("default", 0);
        return dv ? *dv : value::integer(0);
    }
    if (n == "float") {
        if (v.is_number()) return value::floating(as_double(v));
        if (v.is_string()) {
            try {
                return value::floating(std::stod(v.s));
            } catch (const std::exception&) {
            }
        }
        const value* dv = kwarg("default", 0);
        return dv ? *dv : value::floating(0.0);
    }
    if (n == "abs") {
        if (v.k == value::kind::integer) {
            if (v.i == INT64_MIN) fail(e.at, "integer overflow in abs");
            return value::integer(v.i < 0 ? -v.i : v.i);
        }
        if (v.k == value::kind::floating) return value::floating(std::fabs(v.f));
        fail(e.at, "filter 'abs' needs a number");
    }
    if (n == "replace") {
        if (a.size() < 2) fail(e.at, "filter 'replace' needs two arguments");
        std::vector<value> args = {a[0], a[1]};
        if (a.size() > 2) args.push_back(a[2]);
        kwargs none;
        if (a[0].is_string() && a[0].s.empty()) fail(e.at, "filter 'replace' of an empty string is not supported");
        return (*attribute(value::string(need_string()), "replace", e.at).fn)(args, none);
    }
    if (n == "selectattr" || n == "rejectattr") {
        if (a.empty() || !a[0].is_string()) fail(e.at, "filter '" + n + "' needs an attribute name");
        const bool select = n == "selectattr";
        value out = value::list();
        for (const auto& x : iterate(v, e.at)) {
            const value attr = x.is_dict() ? (x.d->find(a[0].s) ? *x.d->find(a[0].s) : value::undefined(a[0].s)) : value::undefined(a[0].s);
            bool keep;
            if (a.size() == 1) {
                keep = truthy(attr);
            } else {
                if (!a[1].is_string()) fail(e.at, "filter '" + n + "': the test name must be a string");
                auto te = std::make_shared<expr>();
                te->k = expr::kind::test;
                te->at = e.at;
                te->name = a[1].s;
                auto c = std::make_shared<expr>();
                c->k = expr::kind::constant;
                c->constant = attr;
                te->args.push_back(c);
                for (std::size_t k = 2; k < a.size(); ++k) {
                    auto ce = std::make_shared<expr>();
                    ce->k = expr::kind::constant;
                    ce->constant = a[k];
                    te->args.push_back(ce);
                }
                keep = call_test(*te);
            }
            if (keep == select) out.l->push_back(x);
        }
        return out;
    }
    if (n == "map") {
        const value* attr = kwarg("attribute", 99);
        if (!attr) fail(e.at, "filter 'map' is supported with attribute= only");
        value out = value::list();
        for (const auto& x : iterate(v, e.at)) {
            value r = item(x, *attr, e.at);
            if (r.is_undefined()) {
                if (const value* dv = kwarg("default", 99)) r = *dv;
            }
            out.l->push_back(r);
        }
        return out;
    }
    fail(e.at, "unsupported filter '" + n + "'");
}

inline value interpreter::eval(const expr& e) {
    tick(e.at);
    switch (e.k) {
        case expr::kind::constant: return e.constant;
        case expr::kind::name: return lookup(e.name);
        case expr::kind::getattr: return attribute(eval(*e.args[0]), e.name, e.at);
        case expr::kind::getitem: return item(eval(*e.args[0]), eval(*e.args[1]), e.at);
        case expr::kind::slice: {
            const value obj = eval(*e.args[0]);
            const auto opt = [&](const expr_ptr& p) -> std::optional<long long> {
                if (!p) return std::nullopt;
                const value x = eval(*p);
                if (x.is_none()) return std::nullopt;
                if (x.k != value::kind::integer) fail(e.at, "slice indices must be integers");
                return x.i;
            };
            const auto start = opt(e.args[1]), stop = opt(e.args[2]), step_o = opt(e.args[3]);
            const long long step = step_o.value_or(1);
            if (step == 0) fail(e.at, "slice step cannot be zero");
            std::vector<value> items;
            if (obj.is_list()) items = *obj.l;
            else if (obj.is_string()) items = iterate(obj, e.at);
            else if (obj.is_undefined()) fail(e.at, "'" + obj.s + "' is undefined (slice)");
            else fail(e.at, std::string("'") + type_name(obj) + "' object is not subscriptable");
            const long long n = static_cast<long long>(items.size());
            // Python's PySlice_AdjustIndices.
            const auto adjust = [&](std::optional<long long> v, long long dflt_pos, long long dflt_neg) {
                if (!v) return step > 0 ? dflt_pos : dflt_neg;
                long long x = *v;
                if (x < 0) {
                    x += n;
                    if (x < 0) x = step < 0 ? -1 : 0;
                } else if (x >= n) {
                    x = step < 0 ? n - 1 : n;
                }
                return x;
            };
            const long long b = adjust(start, 0, n - 1), en = adjust(stop, n, -1);
            std::vector<value> out;
            for (long long i = b; step > 0 ? i < en : i > en;) {
                out.push_back(items[static_cast<std::size_t>(i)]);
                if (__builtin_add_overflow(i, step, &i)) break;
            }
            if (obj.is_string()) {
                std::string s;
                for (auto& c : out) s += c.s;
                return value::string(s);
            }
            return value::list(std::move(out));
        }
        case expr::kind::call: {
            const value fn = eval(*e.args[0]);
            if (fn.k != value::kind::function) {
                if (e.args[0]->k == expr::kind::name && e.args[0]->name == "strftime_now")
                    fail(e.at, "strftime_now() is not supported (it would make the prompt depend on the clock)");
                fail(e.at, std::string("'") + (fn.is_undefined() ? fn.s : type_name(fn)) + "' is not callable");
            }
            std::vector<value> args;
            for (std::size_t k = 1; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
            kwargs kw;
            for (const auto& [k, x] : e.kw) kw.emplace_back(k, eval(*x));
            return (*fn.fn)(args, kw);
        }
        case expr::kind::filter: return call_filter(e);
        case expr::kind::test: return value::boolean(call_test(e));
        case expr::kind::neg: {
            const value x = eval(*e.args[0]);
            if (x.k == value::kind::integer) {
                if (x.i == INT64_MIN) fail(e.at, "integer overflow in unary '-'");
                return value::integer(-x.i);
            }
            if (x.k == value::kind::floating) return value::floating(-x.f);
            if (x.k == value::kind::boolean) return value::integer(-static_cast<long long>(x.b));
            fail(e.at, std::string("bad operand type for unary -: '") + type_name(x) + "'");
        }
        case expr::kind::pos: {
            const value x = eval(*e.args[0]);
            if (!x.is_number()) fail(e.at, std::string("bad operand type for unary +: '") + type_name(x) + "'");
            return x.k == value::kind::boolean ? value::integer(x.b) : x;
        }
        case expr::kind::binary: return binary(e.name, eval(*e.args[0]), eval(*e.args[1]), e.at);
        case expr::kind::concat: {
            std::string s;
            for (const auto& x : e.args) s += to_str(eval(*x));
            return value::string(s);
        }
        case expr::kind::compare: {
            value left = eval(*e.args[0]);
            for (std::size_t k = 0; k < e.ops.size(); ++k) {
                const value right = eval(*e.args[k + 1]);
                const std::string& op = e.ops[k];
                bool r;
                if (op == "==") r = equal(left, right);
                else if (op == "!=") r = !equal(left, right);
                else if (op == "in" || op == "notin") {
                    if (right.is_string()) {
                        if (!left.is_string()) fail(e.at, "'in <string>' requires string as left operand");
                        r = right.s.find(left.s) != std::string::npos;
                    } else if (right.is_list()) {
                        r = std::any_of(right.l->begin(), right.l->end(), [&](const value& x) { return equal(x, left); });
                    } else if (right.is_dict()) {
                        r = left.is_string() && right.d->find(left.s);
                    } else if (right.is_undefined()) {
                        r = false;
                    } else {
                        fail(e.at, std::string("argument of type '") + type_name(right) + "' is not iterable");
                    }
                    if (op == "notin") r = !r;
                } else {
                    const int c = compare(left, right, e.at);
                    r = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
                }
                if (!r) return value::boolean(false);
                left = right;
            }
            return value::boolean(true);
        }
        case expr::kind::and_: {
            value l = eval(*e.args[0]);
            return truthy(l) ? eval(*e.args[1]) : l;
        }
        case expr::kind::or_: {
            value l = eval(*e.args[0]);
            return truthy(l) ? l : eval(*e.args[1]);
        }
        case expr::kind::not_: return value::boolean(!truthy(eval(*e.args[0])));
        case expr::kind::cond:
            if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
            return e.args[2] ? eval(*e.args[2]) : value::undefined();
        case expr::kind::list:
        case expr::kind::tuple: {
            value v = value::list();
            for (const auto& x : e.args) v.l->push_back(eval(*x));
            return v;
        }
        case expr::kind::dict: {
            value v = value::dict();
            for (std::size_t k = 0; k + 1 < e.args.size(); k += 2) {
                const value key = eval(*e.args[k]);
                if (!key.is_string()) fail(e.at, "dict keys must be strings here");
                v.d->set(key.s, eval(*e.args[k + 1]));
            }
            return v;
        }
    }
    fail(e.at, "unsupported expression");
}

}  // namespace jinja

inline std::string chat_template::render(const nlohmann::ordered_json& context) const {
    if (!body_) ddiff::detail::fail<invalid_argument>("chat_template: rendering an empty (default-constructed) template");
    if (!context.is_object()) ddiff::detail::fail<invalid_argument>("chat_template: the context must be a JSON object");
    std::string out;
    jinja::interpreter in(name_, out);
    in.push_scope();
    for (const auto& [k, v] : context.items()) in.set(k, jinja::value::from_json(v));
    in.push_scope();  // the template's own assignments
    in.exec(*body_);
    return out;
}

}  // namespace ddiff::io
