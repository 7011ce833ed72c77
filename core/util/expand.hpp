// expand.hpp - the $(user) template expander shared by the core and, through
// the host service table, by every module.
//
// Variables: $(user) $(local_part) $(domain) $(home) $(client_ip)
// $(local_ip), $(user[i]) (the i-th character of the user name, i < 0
// counting from the end) and $$ for a literal dollar. Values that come from
// the client (user, local_part, domain) are sanitised first: "/", "..", NUL
// and control characters make the expansion fail, so a user name can never
// walk a path. An escape callback (SQL, LDAP) is applied to every value.
#pragma once

#include <cstdint>
#include <functional>
#include <modpop3d/host.h>
#include <string>
#include <string_view>

namespace modpop3d::util
{

// Looks up a variable's value; returns false when unknown in this context.
using FactLookup = std::function<bool(std::string_view name, std::string &value)>;

// is_safe_client_value - false for values containing '/', "..", NUL or
// control characters (and for the empty string).
bool is_safe_client_value(std::string_view value);

// is_client_variable - the variables whose value the client chose.
bool is_client_variable(std::string_view name);

// expand_template - MODPOP3D_OK with `out` set, or MODPOP3D_E_INVAL with
// `error` saying why (unknown variable, unsafe value, bad syntax).
int32_t expand_template(std::string_view tmpl, const FactLookup &lookup, modpop3d_escape_fn escape,
                        void *escape_ctx, std::string &out, std::string *error = nullptr);

// check_template - syntax and variable names only (config validation).
bool check_template(std::string_view tmpl, std::string &error);

} // namespace modpop3d::util
