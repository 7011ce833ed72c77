// ldap_text.cpp - filter and DN escaping, and the module's templates (see
// ldap_text.hpp).
#include "ldap_text.hpp"

#include <cstring>

namespace modpop3d::ldap
{

namespace
{

constexpr char hex_digits[] = "0123456789abcdef";

void put_hex(std::string &out, unsigned char c)
{
    out += '\\';
    out += hex_digits[c >> 4];
    out += hex_digits[c & 15];
}

bool printable_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

} // namespace

std::string filter_escape(std::string_view value)
{
    std::string out;
    out.reserve(value.size() + 8);
    for (unsigned char c : value) {
        if (!printable_ascii(c) || c == '*' || c == '(' || c == ')' || c == '\\')
            put_hex(out, c);
        else
            out += static_cast<char>(c);
    }
    return out;
}

std::string dn_escape(std::string_view value)
{
    std::string out;
    out.reserve(value.size() + 8);
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (!printable_ascii(c)) {
            put_hex(out, c);
            continue;
        }
        const bool special = std::strchr("\"+,;<>\\=", c) != nullptr;
        const bool lead = i == 0 && (c == ' ' || c == '#');
        const bool trail = i + 1 == value.size() && c == ' ';
        if (special || lead || trail)
            out += '\\';
        out += static_cast<char>(c);
    }
    return out;
}

Vars vars_for(std::string_view user, const char *local_part, const char *domain)
{
    Vars v;
    v.user = std::string(user);
    const auto at = user.rfind('@');
    if (local_part != nullptr && *local_part != '\0')
        v.local_part = local_part;
    else
        v.local_part = std::string(at == std::string_view::npos ? user : user.substr(0, at));
    if (domain != nullptr && *domain != '\0') {
        v.domain = domain;
        v.has_domain = true;
    } else if (at != std::string_view::npos && at + 1 < user.size()) {
        v.domain = std::string(user.substr(at + 1));
        v.has_domain = true;
    }
    return v;
}

namespace
{

// next_variable - at tmpl[i] == '$': the length of "$$" or "$(name)" and the
// name (empty for "$$"); 0 when malformed.
std::size_t variable_at(std::string_view tmpl, std::size_t i, std::string_view &name)
{
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '$') {
        name = {};
        return 2;
    }
    if (i + 1 >= tmpl.size() || tmpl[i + 1] != '(')
        return 0;
    const auto close = tmpl.find(')', i + 2);
    if (close == std::string_view::npos)
        return 0;
    name = tmpl.substr(i + 2, close - i - 2);
    return close - i + 1;
}

bool known(std::string_view name)
{
    return name == "user" || name == "local_part" || name == "domain";
}

} // namespace

Expanded expand(std::string_view tmpl, const Vars &vars, Escape esc, std::string &out)
{
    out.clear();
    for (std::size_t i = 0; i < tmpl.size();) {
        if (tmpl[i] != '$') {
            out += tmpl[i++];
            continue;
        }
        std::string_view name;
        const std::size_t len = variable_at(tmpl, i, name);
        if (len == 0) { // check_template refuses this; copy it as text
            out += tmpl[i++];
            continue;
        }
        i += len;
        if (name.empty()) {
            out += '$';
            continue;
        }
        const std::string *value = nullptr;
        if (name == "user")
            value = &vars.user;
        else if (name == "local_part")
            value = &vars.local_part;
        else if (name == "domain") {
            if (!vars.has_domain)
                return Expanded::no_domain;
            value = &vars.domain;
        }
        if (value != nullptr)
            out += esc == Escape::filter ? filter_escape(*value) : dn_escape(*value);
    }
    return Expanded::ok;
}

std::string check_template(std::string_view tmpl)
{
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '$')
            continue;
        std::string_view name;
        const std::size_t len = variable_at(tmpl, i, name);
        if (len == 0)
            return "a '$' must start $(user), $(local_part), $(domain) or $$";
        if (len > 2 && !known(name))
            return "unknown variable $(" + std::string(name) +
                   "): use $(user), $(local_part) or $(domain)";
        i += len - 1;
    }
    return {};
}

bool uses_variable(std::string_view tmpl, std::string_view name)
{
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '$')
            continue;
        std::string_view n;
        const std::size_t len = variable_at(tmpl, i, n);
        if (len > 2 && n == name)
            return true;
        if (len > 0)
            i += len - 1;
    }
    return false;
}

} // namespace modpop3d::ldap
