// sql_auth.hpp - everything auth_mysql and auth_pgsql have in common: the
// configuration schema and its checks, and the auth instance (password
// query, credential lookup for APOP/CRAM-MD5/SCRAM, on-login query) over a
// Driver. Each module only adds its Driver and its descriptor.
//
// Outcomes (modapi/auth.h): no row, or a variable the query needs that the
// session lacks (tpop3d: the query is skipped), is NOUSER after a dummy
// verification; a wrong password is BADPASS; more than one row, a secret in
// an unknown scheme, an unknown unix user or a bad mailbox value is PERM
// (logged: the database needs fixing); a database that cannot be reached,
// a pool that stays full, an SQL error and a timeout are TEMP.
#pragma once

#include "sql_columns.hpp"
#include "sql_driver.hpp"
#include "sql_pool.hpp"

#include <cstdint>
#include <memory>
#include <modpop3d/module.h>
#include <optional>
#include <string>

namespace modpop3d::sql
{

// conf_schema - the schema of [auth_mysql] or [auth_pgsql]; static storage.
const modpop3d_conf_item *conf_schema(Dialect d);

struct Config {
    Settings db;
    Query pass_query;
    std::optional<Query> apop_query; // nullopt: "none" (no APOP/CRAM-MD5/SCRAM)
    std::optional<Query> onlogin_query;
    std::vector<Col> columns;
    std::string default_scheme;
    std::string default_mailbox;
    std::optional<uint32_t> mail_uid, mail_gid;
    std::string mail_home; // home of mail-user, when it is a name
    std::size_t pool_size = 4;
    uint64_t retry_base_usec = 1000000, retry_max_usec = 30000000;
};

// read_config - the section as a Config; every problem is reported with
// conf_error (FILE:LINE). Reads password-file, which must be a regular file
// owned by root (or by the user modpop3d runs as) and not readable by group
// or others.
bool read_config(const modpop3d_host *host, const modpop3d_conf *conf, Dialect d, Config &c);

class Instance
{
  public:
    Instance(const modpop3d_host *host, modpop3d_ictx *ictx, Config cfg,
             std::unique_ptr<Driver> driver);
    ~Instance();

    const modpop3d_host *host() const { return host_; }
    const modpop3d_ictx *ictx() const { return ictx_; }

    int32_t verify(modpop3d_session *s, const char *user, const char *pass, std::size_t len,
                   modpop3d_auth_result *res);
    int32_t lookup(modpop3d_session *s, const char *user, const char *scheme,
                   modpop3d_auth_result *res);
    int32_t on_login(modpop3d_session *s);

  private:
    // values - the query's parameters from the session; nullopt when one is
    // missing or not valid UTF-8 (the query is skipped: NOUSER).
    std::optional<std::vector<std::string>> values(const Query &q, const modpop3d_session *s,
                                                   const char *user) const;
    // execute - run `q` through the pool, retrying once on a fresh connection
    // when a reused one turns out broken. MODPOP3D_OK or MODPOP3D_E_TEMP.
    int32_t execute(const Query &q, const std::vector<std::string> &v, Result &out,
                    const char *what);
    // one_row - run a password/credential query; NOUSER, PERM, TEMP or OK.
    int32_t one_row(const Query &q, modpop3d_session *s, const char *user, Row &row);
    int32_t set_result(modpop3d_auth_result *res, const char *user, const Row &row);
    void log(int level, const std::string &text) const;

    const modpop3d_host *host_;
    modpop3d_ictx *ictx_;
    Config cfg_; // not const: the destructor wipes the password
    std::unique_ptr<Driver> driver_;
    Pool pool_;
};

// log_quote - `s` in double quotes with '"' and '\' escaped, for log lines.
std::string log_quote(std::string_view s);

} // namespace modpop3d::sql
