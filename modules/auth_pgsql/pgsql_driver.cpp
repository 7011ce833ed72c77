// pgsql_driver.cpp - the shared SQL auth code's Driver over libpq: prepared
// statements (PQprepare/PQsendQueryPrepared) with text parameters, one
// cache of statement names per connection, statement_timeout on the server
// and a client-side deadline (poll) as the backstop, after which the
// statement is cancelled and the connection dropped.
#include "pgsql_driver.hpp"

#include <cerrno>
#include <deque>
#include <libpq-fe.h>
#include <map>
#include <poll.h>
#include <time.h>

namespace modpop3d::sql
{

namespace
{

uint64_t mono_ms()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

std::string one_line(const char *s)
{
    std::string out(s != nullptr ? s : "");
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
        out.pop_back();
    for (char &c : out)
        if (c == '\n' || c == '\r' || c == '\t' || c == '"')
            c = c == '"' ? '\'' : ' ';
    return out;
}

class PgConnection : public Connection
{
  public:
    PgConnection(PGconn *c, int64_t timeout_ms) : c_(c), timeout_ms_(timeout_ms) {}
    ~PgConnection() override { PQfinish(c_); }

    bool usable() const override { return usable_ && PQstatus(c_) == CONNECTION_OK; }

    Outcome run(const Query &q, const std::vector<std::string> &values, Result &out,
                std::string &why) override
    {
        // The server's statement_timeout fires first; this deadline only
        // catches a server (or network) that stopped answering.
        const uint64_t deadline = mono_ms() + static_cast<uint64_t>(timeout_ms_) + 2000;
        std::string name;
        if (auto it = names_.find(q.text); it != names_.end()) {
            name = it->second;
        } else {
            name = "modpop3d_" + std::to_string(names_.size());
            if (!PQsendPrepare(c_, name.c_str(), q.text.c_str(), static_cast<int>(q.params.size()),
                               nullptr))
                return failed(nullptr, why);
            PGresult *r = nullptr;
            Outcome o = wait(deadline, r, why);
            if (o != Outcome::ok)
                return o;
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return failed(r, why);
            PQclear(r);
            names_.emplace(q.text, name);
        }
        std::vector<const char *> params;
        for (const auto &v : values)
            params.push_back(v.c_str());
        if (!PQsendQueryPrepared(c_, name.c_str(), static_cast<int>(params.size()), params.data(),
                                 nullptr, nullptr, 0))
            return failed(nullptr, why);
        PGresult *r = nullptr;
        Outcome o = wait(deadline, r, why);
        if (o != Outcome::ok)
            return o;
        const ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK) {
            PQclear(r);
            return Outcome::ok;
        }
        if (st != PGRES_TUPLES_OK)
            return failed(r, why);
        const int n = PQnfields(r);
        for (int i = 0; i < n; ++i)
            out.names.emplace_back(PQfname(r, i));
        const int rows = PQntuples(r);
        out.more = rows > 1;
        if (rows >= 1) {
            std::vector<std::optional<std::string>> row(static_cast<std::size_t>(n));
            for (int i = 0; i < n; ++i)
                if (!PQgetisnull(r, 0, i))
                    row[static_cast<std::size_t>(i)] = std::string(
                        PQgetvalue(r, 0, i), static_cast<std::size_t>(PQgetlength(r, 0, i)));
            out.rows.push_back(std::move(row));
        }
        PQclear(r);
        return Outcome::ok;
    }

  private:
    // wait - the one result of the statement sent, by `deadline`; the
    // connection is left idle (every result consumed).
    Outcome wait(uint64_t deadline, PGresult *&result, std::string &why)
    {
        result = nullptr;
        for (;;) {
            while (!PQisBusy(c_)) {
                PGresult *r = PQgetResult(c_);
                if (r == nullptr) {
                    if (result == nullptr)
                        return failed(nullptr, why);
                    return Outcome::ok;
                }
                if (result == nullptr)
                    result = r;
                else
                    PQclear(r);
            }
            const uint64_t now = mono_ms();
            if (now >= deadline) {
                // Ask the server to stop, then give the connection up.
                if (PGcancel *cancel = PQgetCancel(c_)) {
                    char err[256];
                    PQcancel(cancel, err, sizeof err);
                    PQfreeCancel(cancel);
                }
                if (result != nullptr)
                    PQclear(result);
                result = nullptr;
                usable_ = false;
                why = "no answer within the query timeout";
                return Outcome::timeout;
            }
            pollfd p{PQsocket(c_), POLLIN, 0};
            const int rc = poll(&p, 1, static_cast<int>(deadline - now));
            if (rc < 0 && errno != EINTR)
                return failed(nullptr, why);
            if (rc > 0 && !PQconsumeInput(c_)) {
                if (result != nullptr)
                    PQclear(result);
                result = nullptr;
                return failed(nullptr, why);
            }
        }
    }

    Outcome failed(PGresult *r, std::string &why)
    {
        const char *state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
        const std::string sqlstate = state != nullptr ? state : "";
        why = one_line(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(c_));
        if (!sqlstate.empty())
            why = "sqlstate " + sqlstate + ": " + why;
        if (r != nullptr)
            PQclear(r);
        if (PQstatus(c_) != CONNECTION_OK || sqlstate.compare(0, 2, "08") == 0 ||
            sqlstate.compare(0, 3, "57P") == 0) {
            usable_ = false;
            return Outcome::broken;
        }
        if (sqlstate == "57014") // query_canceled: statement_timeout
            return Outcome::timeout;
        if (r == nullptr) {
            usable_ = false; // a client-side failure: do not trust the connection
            return Outcome::broken;
        }
        return Outcome::error;
    }

    PGconn *c_;
    int64_t timeout_ms_;
    bool usable_ = true;
    std::map<std::string, std::string> names_; // statement text -> prepared name
};

class PgDriver : public Driver
{
  public:
    std::unique_ptr<Connection> connect(const Target &t, const Settings &s,
                                        std::string &why) override
    {
        const unsigned port = t.port != 0 ? t.port : s.port;
        const std::string port_s = port != 0 ? std::to_string(port) : "";
        // libpq takes whole seconds, at least 2.
        const int64_t cs = s.connect_timeout_ms <= 2000 ? 2 : (s.connect_timeout_ms + 999) / 1000;
        const std::string connect_timeout = std::to_string(cs);
        const std::string options = "-c statement_timeout=" + std::to_string(s.query_timeout_ms);
        const char *sslmode = s.tls == Tls::verify ? "verify-full"
                              : s.tls == Tls::on   ? "require"
                                                   : "disable";
        // libpq keeps pointers only during the call; `held` owns the text.
        std::deque<std::string> held;
        std::vector<const char *> keys, vals;
        auto add = [&](const char *k, std::string v) {
            if (!v.empty()) {
                held.push_back(std::move(v));
                keys.push_back(k);
                vals.push_back(held.back().c_str());
            }
        };
        const std::string host = t.socket.empty() ? t.host : t.socket;
        add("host", host);
        add("port", port_s);
        add("dbname", s.database);
        add("user", s.username);
        add("password", s.password);
        add("connect_timeout", connect_timeout);
        add("options", options);
        add("client_encoding", "UTF8");
        add("application_name", "modpop3d");
        add("sslmode", sslmode);
        add("sslrootcert", s.tls_ca);
        add("gssencmode", "disable");
        keys.push_back(nullptr);
        vals.push_back(nullptr);
        PGconn *c = PQconnectdbParams(keys.data(), vals.data(), 0);
        if (c == nullptr) {
            why = "out of memory";
            return nullptr;
        }
        if (PQstatus(c) != CONNECTION_OK) {
            why = one_line(PQerrorMessage(c));
            PQfinish(c);
            return nullptr;
        }
        if (PQsetnonblocking(c, 0) != 0) {
            why = "cannot set up the connection";
            PQfinish(c);
            return nullptr;
        }
        return std::make_unique<PgConnection>(c, s.query_timeout_ms);
    }
};

} // namespace

std::unique_ptr<Driver> make_pgsql_driver()
{
    return std::make_unique<PgDriver>();
}

} // namespace modpop3d::sql
