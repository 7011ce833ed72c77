// mysql_driver.cpp - the shared SQL auth code's Driver over the
// libmysqlclient API (MariaDB Connector/C or libmysqlclient): server-side
// prepared statements with bound string parameters, one cache of prepared
// statements per connection, connect/read/write timeouts on the client and
// max_statement_time (MariaDB) or max_execution_time (MySQL) on the server.
#include "mysql_driver.hpp"

#include <cstring>
#include <map>
#include <mutex>
#include <mysql.h>
#include <time.h>

namespace modpop3d::sql
{

namespace
{

// Errors that mean the connection is gone (client 2xxx codes, server
// shutdown/kill). Everything else leaves the connection usable.
bool connection_error(unsigned e)
{
    switch (e) {
    case 2002: // CR_CONNECTION_ERROR
    case 2003: // CR_CONN_HOST_ERROR
    case 2006: // CR_SERVER_GONE_ERROR
    case 2013: // CR_SERVER_LOST
    case 2055: // CR_SERVER_LOST_EXTENDED
    case 2026: // CR_SSL_CONNECTION_ERROR
    case 1053: // ER_SERVER_SHUTDOWN
    case 1927: // ER_CONNECTION_KILLED
    case 4031: // ER_CLIENT_INTERACTION_TIMEOUT
        return true;
    default:
        return false;
    }
}

bool timeout_error(unsigned e)
{
    return e == 1969     // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
           || e == 3024  // ER_QUERY_TIMEOUT (MySQL max_execution_time)
           || e == 1317; // ER_QUERY_INTERRUPTED
}

std::string one_line(const char *s)
{
    std::string out(s != nullptr ? s : "");
    for (char &c : out)
        if (c == '\n' || c == '\r' || c == '\t' || c == '"')
            c = c == '"' ? '\'' : ' ';
    return out;
}

uint64_t mono_ms()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

class MysqlConnection : public Connection
{
  public:
    MysqlConnection(MYSQL *m, int64_t timeout_ms) : m_(m), timeout_ms_(timeout_ms) {}
    ~MysqlConnection() override
    {
        for (auto &[text, st] : stmts_)
            mysql_stmt_close(st);
        mysql_close(m_);
    }

    bool usable() const override { return usable_; }

    Outcome run(const Query &q, const std::vector<std::string> &values, Result &out,
                std::string &why) override
    {
        const uint64_t start = mono_ms();
        MYSQL_STMT *st = statement(q.text);
        if (st == nullptr)
            return fail(mysql_errno(m_), mysql_error(m_), start, why);
        std::vector<MYSQL_BIND> params(values.size());
        std::vector<unsigned long> lengths(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            std::memset(&params[i], 0, sizeof(MYSQL_BIND));
            lengths[i] = values[i].size();
            params[i].buffer_type = MYSQL_TYPE_STRING;
            params[i].buffer = const_cast<char *>(values[i].data());
            params[i].buffer_length = values[i].size();
            params[i].length = &lengths[i];
        }
        if ((!params.empty() && mysql_stmt_bind_param(st, params.data())) ||
            mysql_stmt_execute(st) != 0)
            return stmt_fail(q.text, st, start, why);
        MYSQL_RES *meta = mysql_stmt_result_metadata(st);
        if (meta == nullptr) // INSERT, UPDATE, ...: no result set
            return mysql_stmt_errno(st) == 0 ? Outcome::ok : stmt_fail(q.text, st, start, why);
        const unsigned n = mysql_num_fields(meta);
        MYSQL_FIELD *fields = mysql_fetch_fields(meta);
        for (unsigned i = 0; i < n; ++i)
            out.names.emplace_back(fields[i].name != nullptr ? fields[i].name : "");
        mysql_free_result(meta);

        std::vector<MYSQL_BIND> cols(n);
        std::vector<std::string> bufs(n, std::string(256, '\0'));
        std::vector<unsigned long> lens(n);
        std::vector<my_bool> nulls(n), errs(n);
        for (unsigned i = 0; i < n; ++i) {
            std::memset(&cols[i], 0, sizeof(MYSQL_BIND));
            cols[i].buffer_type = MYSQL_TYPE_STRING;
            cols[i].buffer = bufs[i].data();
            cols[i].buffer_length = bufs[i].size();
            cols[i].length = &lens[i];
            cols[i].is_null = &nulls[i];
            cols[i].error = &errs[i];
        }
        if (mysql_stmt_bind_result(st, cols.data()) != 0 || mysql_stmt_store_result(st) != 0)
            return stmt_fail(q.text, st, start, why);
        for (int row = 0; row < 3; ++row) {
            const int rc = mysql_stmt_fetch(st);
            if (rc == MYSQL_NO_DATA)
                break;
            if (rc == 1) {
                mysql_stmt_free_result(st);
                return stmt_fail(q.text, st, start, why);
            }
            if (row >= 1) {
                out.more = true;
                break;
            }
            std::vector<std::optional<std::string>> values_out(n);
            for (unsigned i = 0; i < n; ++i) {
                if (nulls[i])
                    continue;
                if (lens[i] <= bufs[i].size()) {
                    values_out[i] = std::string(bufs[i].data(), lens[i]);
                    continue;
                }
                // Longer than the buffer: fetch the whole column.
                std::string big(lens[i], '\0');
                MYSQL_BIND b;
                std::memset(&b, 0, sizeof b);
                unsigned long got = 0;
                b.buffer_type = MYSQL_TYPE_STRING;
                b.buffer = big.data();
                b.buffer_length = big.size();
                b.length = &got;
                if (mysql_stmt_fetch_column(st, &b, i, 0) != 0) {
                    mysql_stmt_free_result(st);
                    return stmt_fail(q.text, st, start, why);
                }
                values_out[i] = std::move(big);
            }
            out.rows.push_back(std::move(values_out));
        }
        mysql_stmt_free_result(st);
        for (auto &b : bufs)
            std::memset(b.data(), 0, b.size()); // secrets pass through here
        return Outcome::ok;
    }

  private:
    MYSQL_STMT *statement(const std::string &text)
    {
        if (auto it = stmts_.find(text); it != stmts_.end())
            return it->second;
        MYSQL_STMT *st = mysql_stmt_init(m_);
        if (st == nullptr)
            return nullptr;
        if (mysql_stmt_prepare(st, text.data(), text.size()) != 0) {
            // Report through the connection's error: copy it over.
            last_errno_ = mysql_stmt_errno(st);
            last_error_ = one_line(mysql_stmt_error(st));
            mysql_stmt_close(st);
            prepare_failed_ = true;
            return nullptr;
        }
        stmts_.emplace(text, st);
        return st;
    }

    Outcome fail(unsigned e, const char *msg, uint64_t start, std::string &why)
    {
        if (prepare_failed_) {
            prepare_failed_ = false;
            e = last_errno_;
            why = last_error_;
        } else {
            why = one_line(msg);
        }
        return classify(e, start, why);
    }

    Outcome stmt_fail(const std::string &text, MYSQL_STMT *st, uint64_t start, std::string &why)
    {
        const unsigned e = mysql_stmt_errno(st);
        why = one_line(mysql_stmt_error(st));
        // A statement that failed is prepared again next time.
        mysql_stmt_close(st);
        stmts_.erase(text);
        return classify(e, start, why);
    }

    Outcome classify(unsigned e, uint64_t start, std::string &why)
    {
        why = "mysql error " + std::to_string(e) + ": " + why;
        if (timeout_error(e))
            return Outcome::timeout;
        if (connection_error(e)) {
            usable_ = false;
            // The client's read timeout fired: a slow statement, not an
            // outage.
            if (e == 2013 && mono_ms() - start >= static_cast<uint64_t>(timeout_ms_))
                return Outcome::timeout;
            return Outcome::broken;
        }
        return Outcome::error;
    }

    MYSQL *m_;
    int64_t timeout_ms_;
    bool usable_ = true;
    std::map<std::string, MYSQL_STMT *> stmts_;
    bool prepare_failed_ = false;
    unsigned last_errno_ = 0;
    std::string last_error_;
};

class MysqlDriver : public Driver
{
  public:
    std::unique_ptr<Connection> connect(const Target &t, const Settings &s,
                                        std::string &why) override
    {
        static std::once_flag once;
        std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
        MYSQL *m = mysql_init(nullptr);
        if (m == nullptr) {
            why = "out of memory";
            return nullptr;
        }
        auto secs = [](int64_t ms) {
            return static_cast<unsigned>(ms <= 1000 ? 1 : (ms + 999) / 1000);
        };
        unsigned connect_s = secs(s.connect_timeout_ms);
        // The server stops a slow statement at query-timeout; the client's
        // read timeout is the backstop for a server that stopped answering.
        unsigned rw_s = secs(s.query_timeout_ms) + 2;
        mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_s);
        mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_s);
        mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
        my_bool no = 0;
        mysql_options(m, MYSQL_OPT_RECONNECT, &no); // the pool reconnects, knowingly
        if (s.tls != Tls::off) {
            my_bool yes = 1;
            mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &yes);
            my_bool verify = s.tls == Tls::verify ? 1 : 0;
            mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
            if (!s.tls_ca.empty())
                mysql_options(m, MYSQL_OPT_SSL_CA, s.tls_ca.c_str());
        }
        const bool sock = !t.socket.empty();
        if (!sock && t.host != "localhost") {
            unsigned proto = MYSQL_PROTOCOL_TCP;
            mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
        }
        const unsigned port = t.port != 0 ? t.port : s.port;
        if (mysql_real_connect(m, sock ? nullptr : t.host.c_str(), s.username.c_str(),
                               s.password.c_str(), s.database.c_str(), port,
                               sock ? t.socket.c_str() : nullptr, 0) == nullptr) {
            why = "mysql error " + std::to_string(mysql_errno(m)) + ": " + one_line(mysql_error(m));
            mysql_close(m);
            return nullptr;
        }
        // Server-side statement limit: MariaDB (seconds, fractional), then
        // MySQL (milliseconds, SELECT only). Neither is fatal when missing.
        const std::string ms = std::to_string(s.query_timeout_ms);
        const std::string maria =
            "SET SESSION max_statement_time=" + std::to_string(s.query_timeout_ms / 1000) + "." +
            std::to_string(1000 + s.query_timeout_ms % 1000).substr(1);
        if (mysql_query(m, maria.c_str()) != 0)
            mysql_query(m, ("SET SESSION max_execution_time=" + ms).c_str());
        return std::make_unique<MysqlConnection>(m, s.query_timeout_ms);
    }
};

} // namespace

std::unique_ptr<Driver> make_mysql_driver()
{
    return std::make_unique<MysqlDriver>();
}

} // namespace modpop3d::sql
