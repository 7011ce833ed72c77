// ldap_conn.hpp - connections to the directory: opening one to the first
// server of the list that answers (failover, with a growing back-off per
// server that failed), TLS set up per connection (ldaps://, StartTLS, CA
// verification), every operation bounded by a timeout, and bounded pools of
// open connections.
//
// Two pools per instance: the service pool, whose connections are bound once
// as the service DN and only ever search, and the user-bind pool, whose
// connections only ever carry users' simple binds. A user bind therefore
// never changes the identity of a connection that searches.
//
// Thread safety: Connector and Pool are used from the core's auth threads at
// once (the module is THREAD_SAFE); one LDAP handle is used by one thread at
// a time (the pool hands it out exclusively).
#pragma once

#include "ldap_entry.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <vector>

struct ldap; // libldap's LDAP
struct modpop3d_host;
struct modpop3d_ictx;

namespace modpop3d::ldap
{

struct ConnSettings {
    std::vector<std::string> uris;
    bool starttls = false; // for ldap:// URIs
    std::string ca_file, ca_dir;
    int64_t network_timeout_ms = 3000; // connect and TLS handshake
    int64_t op_timeout_ms = 5000;      // each bind, search, StartTLS
    int64_t max_backoff_ms = 30000;
    bool referrals = false;
};

// How an operation ended, as the module needs it.
enum class Op {
    ok,
    no_such_object, // search: the base does not exist
    invalid,        // bind: invalidCredentials (or another refusal of the password)
    timeout,        // no answer in time: the connection is dropped
    down,           // the connection broke or could not be made
    error,          // the server answered with an error code
};

const char *op_name(Op op);

// One open connection and the server (index into the URI list) it goes to.
struct Conn {
    ::ldap *ld = nullptr;
    std::size_t server = 0;
    pid_t pid = 0; // the process that opened it
};

class Connector
{
  public:
    Connector(const modpop3d_host *host, const modpop3d_ictx *ictx, ConnSettings s);

    // open - a connection to the first server, in list order, that is not
    // backing off and that connects (and completes StartTLS). False with
    // `why` when none did; servers that failed are put in back-off.
    bool open(Conn &c, std::string &why);

    // failed - the server of `c` did not answer an operation (timeout or a
    // broken connection): back it off like a failed connect.
    void failed(const Conn &c, const std::string &why);

    // close - unbind (only in the process that opened it) and forget.
    static void close(Conn &c);

    int64_t op_timeout_ms() const { return s_.op_timeout_ms; }
    const ConnSettings &settings() const { return s_; }

  private:
    struct ServerState {
        unsigned failures = 0;
        uint64_t retry_at_us = 0;
    };
    bool connect_one(std::size_t i, Conn &c, std::string &why);
    void mark_failed(std::size_t i, const std::string &why);
    void mark_ok(std::size_t i);

    const modpop3d_host *host_;
    const modpop3d_ictx *ictx_;
    const ConnSettings s_;
    std::mutex mu_;
    std::vector<ServerState> state_;
};

// simple_bind - an RFC 4513 simple bind, bounded by `timeout_ms`. `code` is
// the LDAP result code (for the log).
Op simple_bind(Conn &c, const std::string &dn, const char *pw, std::size_t pw_len,
               int64_t timeout_ms, int &code);

// search - at most two entries (two already mean "not unique"), bounded by
// `timeout_ms` on the client and on the server (timelimit).
Op search(Conn &c, const std::string &base, int scope, const std::string &filter,
          const std::vector<std::string> &attrs, int64_t timeout_ms, std::vector<Entry> &out,
          int &code, std::string &diag);

// A bounded pool of connections. With a bind DN, each new connection is
// bound as it before it is handed out (the service pool).
class Pool
{
  public:
    Pool(Connector &conn, std::size_t max, std::string bind_dn, std::string bind_pw);
    ~Pool();
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    // acquire - an idle connection, or a new one while fewer than `max`
    // exist, else wait until one is released (up to the op timeout).
    // False with `why` (TEMP for the caller).
    bool acquire(Conn &c, std::string &why);
    // release - back to the pool; `healthy` false closes it.
    void release(Conn &c, bool healthy);
    // drop_idle - close every idle connection: one of them was found broken
    // (the server restarted), so the others most likely are too.
    void drop_idle();

  private:
    bool open_bound(Conn &c, std::string &why);

    Connector &conn_;
    const std::size_t max_;
    const std::string bind_dn_;
    std::string bind_pw_; // wiped in the destructor
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Conn> idle_;
    std::size_t total_ = 0;
};

} // namespace modpop3d::ldap
