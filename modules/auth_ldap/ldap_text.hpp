// ldap_text.hpp - the text rules of auth_ldap that need no directory: RFC 4515
// filter-value escaping, RFC 4514 DN-value escaping, and the $(user)
// $(local_part) $(domain) templates of `filter` and `base`.
//
// Kept apart from libldap so that the unit tests can check every byte rule
// without a server. The module does its own substitution (not host->expand)
// because host->expand refuses '/' in values, which is legal in a directory,
// and because the filter and the base need different escapers.
#pragma once

#include <string>
#include <string_view>

namespace modpop3d::ldap
{

// filter_escape - `value` as an RFC 4515 assertion value: '*', '(', ')',
// '\' and NUL become \2a \28 \29 \5c \00, and so does every byte outside
// printable ASCII (controls, DEL, every UTF-8 byte). Escaping UTF-8 is
// allowed by RFC 4515 and means a malformed sequence from a client reaches
// the server as plain octets that match nothing, never as filter syntax.
std::string filter_escape(std::string_view value);

// dn_escape - `value` as an RFC 4514 attribute value: '"' '+' ',' ';' '<'
// '>' '\' '=' get a backslash, a leading ' ' or '#' and a trailing ' ' too;
// NUL, controls, DEL and bytes >= 0x80 become \XX hex pairs.
std::string dn_escape(std::string_view value);

// The facts a template may use. `has_domain` false: the login name had no
// domain, and a template using $(domain) cannot be expanded for it.
struct Vars {
    std::string user;
    std::string local_part;
    std::string domain;
    bool has_domain = false;
};

// vars_for - split a login name at its last '@' (the core's rule), unless the
// session already gave local_part/domain (nullptr or "" = not given).
Vars vars_for(std::string_view user, const char *local_part, const char *domain);

enum class Escape { filter, dn };

enum class Expanded { ok, no_domain };

// expand - substitute $(user) $(local_part) $(domain), each escaped with
// `esc`; "$$" is a literal '$'. The template must have passed
// check_template(). no_domain: $(domain) used and the login has none.
Expanded expand(std::string_view tmpl, const Vars &vars, Escape esc, std::string &out);

// check_template - empty when `tmpl` is well formed and uses only the three
// variables; otherwise what is wrong, for a FILE:LINE message.
std::string check_template(std::string_view tmpl);

// uses_variable - does a checked template mention $(name)?
bool uses_variable(std::string_view tmpl, std::string_view name);

} // namespace modpop3d::ldap
