// sql_driver.hpp - what the shared SQL auth code needs from a database
// client library: connect to one host, run one parameterised statement.
// auth_mysql and auth_pgsql each implement it; nothing else in the shared
// code knows which database it talks to.
#pragma once

#include "sql_hosts.hpp"
#include "sql_template.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace modpop3d::sql
{

enum class Tls { off, on, verify };

// The connection settings of an instance (read once, then constant).
struct Settings {
    std::vector<Target> hosts;
    unsigned port = 0; // default port for hosts without one; 0: the library's
    std::string database, username, password;
    int64_t connect_timeout_ms = 5000;
    int64_t query_timeout_ms = 5000;
    Tls tls = Tls::off;
    std::string tls_ca;
};

// A statement's answer: column names and at most two rows (a password query
// must give exactly one; `more` says there were two or more).
struct Result {
    std::vector<std::string> names;
    std::vector<std::vector<std::optional<std::string>>> rows;
    bool more = false;
    void clear()
    {
        names.clear();
        rows.clear();
        more = false;
    }
};

enum class Outcome {
    ok,
    error,   // the statement failed (SQL error, refused); see why
    timeout, // the statement ran past query-timeout
    broken,  // the connection failed under it (server gone, network)
};

class Connection
{
  public:
    virtual ~Connection() = default;
    // run - execute `q` with `values` (one per q.params, as text). Never
    // pastes a value into the SQL text. `why` is for the log and never holds
    // a value or the password.
    virtual Outcome run(const Query &q, const std::vector<std::string> &values, Result &out,
                        std::string &why) = 0;
    // usable - the connection may serve another statement.
    virtual bool usable() const = 0;
};

class Driver
{
  public:
    virtual ~Driver() = default;
    // connect - one connection to `t`, with connect-timeout and query-timeout
    // applied; nullptr with `why` (no password in it) when it fails.
    virtual std::unique_ptr<Connection> connect(const Target &t, const Settings &s,
                                                std::string &why) = 0;
};

} // namespace modpop3d::sql
