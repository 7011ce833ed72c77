// sql_columns.hpp - what the columns of a password query's row mean.
//
// tpop3d's queries return four columns in a fixed order: mailbox location,
// password hash, unix user, mailbox type. That order is the default of the
// `columns` key, so such a query works unchanged; further columns are taken
// by their names (SELECT ..., home AS home, 7 AS uid). `columns: names`
// maps every column by name. Names are matched without regard to case, with
// '-' and '_' alike, and accept the aliases listed in column_by_name().
//
// Pure code, unit-tested on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::sql
{

enum class Col {
    skip,
    mailbox,      // location (tpop3d column 1)
    password,     // stored secret (tpop3d column 2)
    unix_user,    // owner: name or number (tpop3d column 3)
    mailbox_type, // bsd, maildir, ... (tpop3d column 4)
    home,
    uid,
    gid,
    login_delay,
    expire,
    scram, // SCRAM-SHA-256 verifier "i:salt:StoredKey:ServerKey"
};

// column_by_name - the meaning of a column or `columns` word; nullopt when
// unknown.
std::optional<Col> column_by_name(std::string_view name);

// parse_columns - the `columns` key's words. "names" alone gives an empty
// list (everything by name). False with `why` for an unknown word.
bool parse_columns(const std::vector<std::string> &words, std::vector<Col> &out, std::string &why);

// The default `columns`: tpop3d's order.
inline constexpr const char *tpop3d_columns = "mailbox password unix-user mailbox-type";

struct Row {
    std::optional<std::string> mailbox, password, unix_user, mailbox_type, home, uid, gid,
        login_delay, expire, scram;
};

// map_row - the row's values by meaning: column i is positional[i] when the
// list is that long, else the column named names[i] (unknown names are
// ignored). NULL stays nullopt; a later column does not replace an earlier
// non-NULL one.
Row map_row(const std::vector<Col> &positional, const std::vector<std::string> &names,
            const std::vector<std::optional<std::string>> &values);

// normalise_secret - a stored secret as the core's password_verify() reads
// it: "{SCHEME}..." and crypt strings ("$...", locked "!"/"*") as they are,
// a bare value prefixed with {default_scheme} (tpop3d's SQL default: MD5).
// nullopt for an empty secret (no login possible).
std::optional<std::string> normalise_secret(std::string_view stored,
                                            std::string_view default_scheme);

// mailbox_spec - "TYPE:LOCATION" from the row: TYPE from the type column,
// else "maildir" when the location ends in '/' and "bsd" otherwise
// (tpop3d's guess); "TYPE:" when only a type is given; nullopt when
// neither is, or when a value holds white space or control characters
// (which would break the spec list).
std::optional<std::string> mailbox_spec(const Row &row, bool &bad);

} // namespace modpop3d::sql
