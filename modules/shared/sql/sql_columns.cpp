// sql_columns.cpp - column meanings, secrets and mailbox specs (see header).
#include "sql_columns.hpp"

#include <cctype>

namespace modpop3d::sql
{

namespace
{

std::string fold(std::string_view s)
{
    std::string out;
    for (char c : s)
        out += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool clean(std::string_view s)
{
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f)
            return false;
    }
    return true;
}

} // namespace

std::optional<Col> column_by_name(std::string_view name)
{
    struct Alias {
        const char *name;
        Col col;
    };
    static const Alias aliases[] = {
        {"skip", Col::skip},
        {"mailbox", Col::mailbox},
        {"mailbox_location", Col::mailbox},
        {"location", Col::mailbox},
        {"mbox", Col::mailbox},
        {"maildir", Col::mailbox},
        {"password", Col::password},
        {"password_hash", Col::password},
        {"passwd", Col::password},
        {"pass", Col::password},
        {"unix_user", Col::unix_user},
        {"mail_user", Col::unix_user},
        {"mailbox_type", Col::mailbox_type},
        {"mboxtype", Col::mailbox_type},
        {"mbox_type", Col::mailbox_type},
        {"home", Col::home},
        {"uid", Col::uid},
        {"gid", Col::gid},
        {"login_delay", Col::login_delay},
        {"expire", Col::expire},
        {"scram", Col::scram},
        {"scram_sha_256", Col::scram},
        {"scram_verifier", Col::scram},
    };
    const std::string f = fold(name);
    for (const auto &a : aliases)
        if (f == a.name)
            return a.col;
    return std::nullopt;
}

bool parse_columns(const std::vector<std::string> &words, std::vector<Col> &out, std::string &why)
{
    out.clear();
    if (words.size() == 1 && fold(words[0]) == "names")
        return true;
    for (const auto &w : words) {
        auto c = column_by_name(w);
        if (!c) {
            why = "unknown column meaning '" + w +
                  "' (known: mailbox password unix-user mailbox-type home uid gid login-delay "
                  "expire scram skip, or 'names' alone)";
            return false;
        }
        out.push_back(*c);
    }
    if (out.empty()) {
        why = "empty; write 'names' to map every column by its name";
        return false;
    }
    return true;
}

Row map_row(const std::vector<Col> &positional, const std::vector<std::string> &names,
            const std::vector<std::optional<std::string>> &values)
{
    Row r;
    for (std::size_t i = 0; i < values.size(); ++i) {
        std::optional<Col> c;
        if (i < positional.size())
            c = positional[i];
        else if (i < names.size())
            c = column_by_name(names[i]);
        if (!c || !values[i])
            continue;
        std::optional<std::string> *slot = nullptr;
        switch (*c) {
        case Col::skip:
            break;
        case Col::mailbox:
            slot = &r.mailbox;
            break;
        case Col::password:
            slot = &r.password;
            break;
        case Col::unix_user:
            slot = &r.unix_user;
            break;
        case Col::mailbox_type:
            slot = &r.mailbox_type;
            break;
        case Col::home:
            slot = &r.home;
            break;
        case Col::uid:
            slot = &r.uid;
            break;
        case Col::gid:
            slot = &r.gid;
            break;
        case Col::login_delay:
            slot = &r.login_delay;
            break;
        case Col::expire:
            slot = &r.expire;
            break;
        case Col::scram:
            slot = &r.scram;
            break;
        }
        if (slot != nullptr && !*slot)
            *slot = values[i];
    }
    return r;
}

std::optional<std::string> normalise_secret(std::string_view stored,
                                            std::string_view default_scheme)
{
    if (stored.empty())
        return std::nullopt;
    const char c = stored.front();
    if (c == '{' || c == '$' || c == '!' || c == '*')
        return std::string(stored);
    return "{" + std::string(default_scheme) + "}" + std::string(stored);
}

std::optional<std::string> mailbox_spec(const Row &row, bool &bad)
{
    bad = false;
    const std::string loc = row.mailbox.value_or("");
    std::string type = row.mailbox_type.value_or("");
    for (char &c : type)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (loc.empty() && type.empty())
        return std::nullopt;
    if (!clean(loc) || !clean(type) || type.find(':') != std::string::npos) {
        bad = true;
        return std::nullopt;
    }
    if (type.empty())
        type = loc.back() == '/' ? "maildir" : "bsd";
    return type + ":" + loc;
}

} // namespace modpop3d::sql
