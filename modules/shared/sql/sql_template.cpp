// sql_template.cpp - template → parameterised statement (see header).
//
// The scanner knows just enough SQL lexis to tell where a "$(...)" sits:
// single-quoted literals ('' and, for MySQL, backslash escapes), MySQL's
// double-quoted literals and backquoted identifiers, PostgreSQL's quoted
// identifiers, and comments (-- , /* */, MySQL's #). Everything else is
// copied as written.
#include "sql_template.hpp"

#include <optional>
#include <variant>

namespace modpop3d::sql
{

namespace
{

std::optional<Var> var_by_name(std::string_view n)
{
    if (n == "user")
        return Var::user;
    if (n == "local_part")
        return Var::local_part;
    if (n == "domain")
        return Var::domain;
    if (n == "clienthost" || n == "client_ip")
        return Var::clienthost;
    if (n == "serverhost" || n == "local_ip")
        return Var::serverhost;
    return std::nullopt;
}

class Compiler
{
  public:
    Compiler(std::string_view t, Dialect d, Query &q) : t_(t), d_(d), q_(q) {}

    bool run(std::string &why)
    {
        q_.text.clear();
        q_.params.clear();
        while (i_ < t_.size()) {
            const char c = t_[i_];
            if (c == '\'' || (c == '"' && d_ == Dialect::mysql)) {
                if (!literal(c, why))
                    return false;
            } else if (c == '"' || c == '`') {
                if (!quoted_identifier(c, why))
                    return false;
            } else if (starts("--") || (c == '#' && d_ == Dialect::mysql) || starts("/*")) {
                if (!comment(why))
                    return false;
            } else if (starts("$(")) {
                auto v = variable(why);
                if (!v)
                    return false;
                marker(*v);
            } else if (c == '?' && d_ == Dialect::mysql) {
                why = "a '?' outside a string literal would be a parameter marker; write "
                      "$(user) and the other variables instead";
                return false;
            } else if (c == '$' && d_ == Dialect::pgsql && i_ + 1 < t_.size() &&
                       t_[i_ + 1] >= '0' && t_[i_ + 1] <= '9') {
                why = "$1-style parameters are not allowed; write $(user) and the other "
                      "variables instead";
                return false;
            } else {
                q_.text += c;
                ++i_;
            }
        }
        return true;
    }

  private:
    bool starts(std::string_view s) const { return t_.substr(i_, s.size()) == s; }

    // variable - at "$(": the variable up to ")".
    std::optional<Var> variable(std::string &why)
    {
        const auto close = t_.find(')', i_ + 2);
        if (close == std::string_view::npos) {
            why = "unterminated $( in the query";
            return std::nullopt;
        }
        const std::string_view name = t_.substr(i_ + 2, close - i_ - 2);
        auto v = var_by_name(name);
        if (!v) {
            why = "unknown variable $(" + std::string(name) +
                  ") (known: $(user) $(local_part) $(domain) $(clienthost) $(serverhost))";
            return std::nullopt;
        }
        i_ = close + 1;
        return v;
    }

    std::string placeholder(Var v)
    {
        q_.params.push_back(v);
        if (d_ == Dialect::mysql)
            return "?";
        return "$" + std::to_string(q_.params.size());
    }

    void marker(Var v) { q_.text += placeholder(v); }

    // literal - a string literal opened by `quote`: copied as written when it
    // holds no variable, else replaced by a marker or a concatenation.
    bool literal(char quote, std::string &why)
    {
        using Piece = std::variant<std::string, Var>; // raw text as written, or a variable
        std::vector<Piece> pieces;
        std::string raw;
        bool has_var = false;
        ++i_; // the opening quote
        while (true) {
            if (i_ >= t_.size()) {
                why = std::string("unterminated ") + quote + "-quoted string in the query";
                return false;
            }
            const char c = t_[i_];
            if (c == '\\' && d_ == Dialect::mysql && i_ + 1 < t_.size()) {
                raw += t_.substr(i_, 2);
                i_ += 2;
            } else if (c == quote && i_ + 1 < t_.size() && t_[i_ + 1] == quote) {
                raw += t_.substr(i_, 2);
                i_ += 2;
            } else if (c == quote) {
                ++i_;
                break;
            } else if (starts("$(")) {
                auto v = variable(why);
                if (!v)
                    return false;
                if (!raw.empty())
                    pieces.emplace_back(std::move(raw));
                raw.clear();
                pieces.emplace_back(*v);
                has_var = true;
            } else {
                raw += c;
                ++i_;
            }
        }
        if (!raw.empty())
            pieces.emplace_back(std::move(raw));
        if (!has_var) {
            q_.text += quote;
            if (!pieces.empty())
                q_.text += std::get<std::string>(pieces.front());
            q_.text += quote;
            return true;
        }
        if (pieces.size() == 1) {
            marker(std::get<Var>(pieces.front()));
            return true;
        }
        // Text and variables mixed: concatenate the pieces in SQL.
        std::string expr = d_ == Dialect::mysql ? "CONCAT(" : "(";
        const char *sep = d_ == Dialect::mysql ? ", " : " || ";
        bool first = true;
        for (const Piece &p : pieces) {
            if (!first)
                expr += sep;
            first = false;
            if (const auto *s = std::get_if<std::string>(&p)) {
                expr += quote;
                expr += *s;
                expr += quote;
            } else if (d_ == Dialect::pgsql) {
                expr += "CAST(" + placeholder(std::get<Var>(p)) + " AS text)";
            } else {
                expr += placeholder(std::get<Var>(p));
            }
        }
        expr += ")";
        q_.text += expr;
        return true;
    }

    bool quoted_identifier(char quote, std::string &why)
    {
        const auto start = i_;
        ++i_;
        while (true) {
            if (i_ >= t_.size()) {
                why = std::string("unterminated ") + quote + "-quoted identifier in the query";
                return false;
            }
            if (t_[i_] == quote && i_ + 1 < t_.size() && t_[i_ + 1] == quote) {
                i_ += 2;
                continue;
            }
            if (t_[i_] == quote)
                break;
            if (starts("$(")) {
                why = "a variable inside a quoted identifier cannot be a parameter";
                return false;
            }
            ++i_;
        }
        ++i_;
        q_.text += t_.substr(start, i_ - start);
        return true;
    }

    bool comment(std::string &why)
    {
        const bool block = starts("/*");
        const auto start = i_;
        auto end = block ? t_.find("*/", i_ + 2) : t_.find('\n', i_);
        if (block && end == std::string_view::npos) {
            why = "unterminated /* comment in the query";
            return false;
        }
        end = end == std::string_view::npos ? t_.size() : end + (block ? 2 : 0);
        const std::string_view text = t_.substr(start, end - start);
        if (text.find("$(") != std::string_view::npos) {
            why = "a variable inside a comment";
            return false;
        }
        q_.text += text;
        i_ = end;
        return true;
    }

    std::string_view t_;
    Dialect d_;
    Query &q_;
    std::size_t i_ = 0;
};

} // namespace

const char *var_name(Var v) noexcept
{
    switch (v) {
    case Var::user:
        return "user";
    case Var::local_part:
        return "local_part";
    case Var::domain:
        return "domain";
    case Var::clienthost:
        return "clienthost";
    case Var::serverhost:
        return "serverhost";
    }
    return "?";
}

bool compile(std::string_view tmpl, Dialect dialect, Query &out, std::string &why)
{
    Query q;
    Compiler c(tmpl, dialect, q);
    if (!c.run(why))
        return false;
    if (q.text.find_first_not_of(" \t\r\n") == std::string::npos) {
        why = "the query is empty";
        return false;
    }
    out = std::move(q);
    return true;
}

} // namespace modpop3d::sql
