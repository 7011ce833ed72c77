// sql_template.hpp - query templates of the SQL auth modules turned into
// parameterised statements.
//
// A template is the admin's SQL with $(user), $(local_part), $(domain),
// $(clienthost) and $(serverhost) in it, as tpop3d wrote them, usually
// inside quotes: WHERE local_part='$(local_part)'. compile() never pastes a
// value into the text: each variable becomes a parameter marker ("?" for
// MySQL, "$N" for PostgreSQL) and the client-chosen values travel separately
// (prepared statements / PQexecParams). A quoted variable with nothing else
// in its literal ('$(user)') becomes a bare marker, so a tpop3d query runs
// unchanged; a literal that mixes text and variables ('$(local_part)@x')
// becomes a concatenation of its pieces (CONCAT(...) or ||).
//
// Pure code: no database library, no modapi; unit-tested on its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::sql
{

enum class Dialect { mysql, pgsql };

// The values a template may use. clienthost/serverhost are tpop3d's names of
// the client's and the listener's addresses (client_ip/local_ip are aliases).
enum class Var { user, local_part, domain, clienthost, serverhost };

// var_name - the canonical $(name) of a variable, for log lines.
const char *var_name(Var v) noexcept;

struct Query {
    std::string text;        // SQL with parameter markers
    std::vector<Var> params; // the value of each marker, in order
};

// compile - `tmpl` as a parameterised Query. False with `why` set for an
// unknown variable, a variable inside a comment or an identifier, an
// unterminated literal, or a parameter marker written by hand.
bool compile(std::string_view tmpl, Dialect dialect, Query &out, std::string &why);

} // namespace modpop3d::sql
