// ldap_entry.hpp - from a directory entry to the facts of a login: which
// attributes the search asks for, how their values become the mailbox spec,
// home, uid, gid, login-delay and expire of the auth result, and how a
// stored password value is given its scheme. No libldap here (unit-tested).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::ldap
{

// Attribute names from the configuration; "" = not mapped.
struct AttrMap {
    std::string mailbox;      // a path, or "type:path"
    std::string mailbox_type; // tpop3d's mboxtype-attr: "maildir", "bsd", ...
    std::string home;
    std::string uid; // a number or a user name
    std::string gid; // a number or a group name
    std::string login_delay;
    std::string expire;
    std::string password; // compare mode only
};

// One search result entry. Attribute names are stored lower-case (LDAP
// attribute descriptions are case-insensitive).
struct Entry {
    std::string dn;
    std::map<std::string, std::vector<std::string>> attrs;

    void add(std::string_view name, std::string value);
    // first - the first value of `name` ("" = unmapped), or nullptr.
    const std::string *first(const std::string &name) const;
    const std::vector<std::string> *all(const std::string &name) const;
};

// What an entry says about the login; unset = the entry does not say.
struct Mapped {
    std::optional<std::string> mailbox; // a spec for result_set("mailbox")
    std::optional<std::string> home;
    std::optional<std::string> uid;
    std::optional<std::string> gid;
    std::optional<std::string> login_delay;
    std::optional<std::string> expire;
};

// attributes - the attribute list of the search: every mapped name once,
// the password attribute only when `with_password`. Empty = "1.1" (no
// attributes, the DN is enough).
std::vector<std::string> attributes(const AttrMap &map, bool with_password);

// map_entry - fill `out` from `e`. False with `error` naming the attribute
// when a value cannot be used (a relative path, white space in a path, a
// non-numeric login-delay ...): the login is refused and the entry logged.
bool map_entry(const Entry &e, const AttrMap &map, Mapped &out, std::string &error);

// mailbox_spec - tpop3d's rule: a mailbox attribute value is a path (its type
// from the type attribute, else maildir when it ends in '/', else bsd) or
// already "type:/path". nullopt when it is not an absolute path free of
// white space, control bytes and "$(" (the core would read those as list
// separators and variables).
std::optional<std::string> mailbox_spec(std::string_view value, const std::string *type);

// with_scheme - a stored password value as the core's password_verify()
// reads it: "{SCHEME}..." as it is, anything else with "{default_scheme}"
// in front (an LDAP userPassword without a scheme is the password itself).
std::string with_scheme(std::string_view stored, std::string_view default_scheme);

// credential_for - the value lookup_credentials() returns for `scheme`
// ("PLAIN" or "SCRAM-SHA-256") from a stored value that already went
// through with_scheme(), or nullopt when this value is of another scheme.
std::optional<std::string> credential_for(std::string_view stored, std::string_view scheme);

} // namespace modpop3d::ldap
