// ldap_config.hpp - auth_ldap's configuration: the schema (with tpop3d's
// auth-ldap-* names, without the prefix, as aliases), reading a section into
// a Config with FILE:LINE errors, the cleartext-password rule, and the
// root-only file that holds the service DN's password.
#pragma once

#include "ldap_conn.hpp"
#include "ldap_entry.hpp"

#include <cstdint>
#include <modpop3d/module.h>
#include <optional>
#include <string>

namespace modpop3d::ldap
{

extern const modpop3d_conf_item conf_schema[];

struct Config {
    ConnSettings conn;
    std::string base;   // template, DN-escaped values
    std::string filter; // template, filter-escaped values
    int scope = 2;      // LDAP_SCOPE_SUBTREE
    bool compare = false;
    std::string bind_dn;
    std::string bind_pw_file;
    std::string bind_pw; // read from bind_pw_file; never logged
    AttrMap attrs;
    std::string default_scheme = "PLAIN";
    std::string mailbox; // the default mailbox spec list (core template)
    std::string home;    // fallback home
    std::optional<std::string> uid, gid;
    int64_t min_uid = 1000;
    std::size_t pool_size = 4;

    Config() = default;
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;
    Config(Config &&) = default;
    ~Config();
};

// read_config - the section as a Config, the password file read when
// `read_secret`. Every problem is reported with host->conf_error (FILE:LINE);
// false when there was one.
bool read_config(const modpop3d_host *host, const modpop3d_conf *conf, Config &c, bool read_secret);

// read_secret_file - the first line of a regular file that only its owner
// (root or the server's user) can read. False with `error` otherwise.
bool read_secret_file(const std::string &path, std::string &out, std::string &error);

// is_local_uri - ldapi://, or ldap:// to a loopback address or localhost: a
// password sent over it does not leave the machine.
bool is_local_uri(const std::string &uri);

} // namespace modpop3d::ldap
