// server.hpp - the running daemon: listeners, one epoll event loop, POP3
// connections driven through the protocol engine, the auth chain on a
// thread pool, maildrops, limits and timers, and the log lines operators
// and fail2ban read.
//
// One Server runs in each worker ("login") process forked by the master
// (process/master.hpp), accepting on the listeners it inherited or serving
// the one connection of inetd mode as root, and alone in inetd mode not
// started as root (process/inetd.hpp). It serves virtual-mail sessions
// in-process under `mail-user` (the fast path); auth runs on threads so a
// slow backend stalls only its own request. Limits shared by all workers live in
// ipc/shared_limits.
#pragma once

#include "auth/auth_chain.hpp"
#include "auth/auth_remote.hpp"
#include "config/core_config.hpp"
#include "ipc/outbox.hpp"
#include "ipc/session_handover.hpp"
#include "ipc/shared_limits.hpp"
#include "modload/loader.hpp"
#include "modload/module_set.hpp"
#include "net/listener.hpp"
#include "pop3/actions.hpp"
#include "pop3/capabilities.hpp"
#include "pop3/engine.hpp"
#include "tls/context.hpp"
#include "util/thread_pool.hpp"
#include "worker/maildrop.hpp"
#include "worker/sasl_exchange.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace modpop3d::daemon
{

struct Connection;

class Server
{
  public:
    Server(config::Configuration &config, modload::ModuleSet &modules);
    ~Server();
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    // serve_inetd - serve the one connection on `fd` (inetd mode) instead of
    // listeners; run() then returns when it ends.
    void serve_inetd(int fd) { inetd_fd_ = fd; }

    // A worker process's part: the listeners inherited from the master
    // (polled with EPOLLEXCLUSIVE), the shared limit tables and this
    // worker's column in them, and what to call once it serves (instead of
    // logging "ready" and notifying systemd, which the master does). In a
    // worker SIGUSR1 means "retire": stop accepting and let the running
    // sessions end on their own (reload); SIGHUP is the master's business.
    struct WorkerRole {
        ipc::SharedLimits *limits = nullptr;
        unsigned slot = 0;
        std::vector<net::Listener> listeners;
        std::vector<std::shared_ptr<tls::Context>> tls; // per listener, built by the master
        int auth_socket = -1;                           // to the auth process (auth_remote.hpp)
        int control_socket = -1;                        // to the master: system users' sessions
        std::function<void()> ready;
    };
    // become_worker - take the role (listeners, their TLS contexts, the
    // shared limit table); false with `why` set.
    bool become_worker(WorkerRole role, std::string &why);
    // serve_handover - a session process's one connection, handed over by
    // a login worker for `grant` (session_process.hpp); run() then returns
    // when it ends. `limits` is the master's table (LOGIN-DELAY claims);
    // `auth_socket` the session's channel to the auth process (hooks).
    void serve_handover(ipc::SessionHandover handover, ipc::SessionGrant grant,
                        ipc::SharedLimits *limits, int auth_socket);
    // run - serve until SIGTERM or SIGINT; returns the exit status.
    int run();

  private:
    friend struct Connection;

    void accept_on(std::size_t index);
    // shed_idle_preauth - close this worker's oldest silent pre-login
    // connection (of that address when `limit_key` is given) to make room;
    // false when there is none.
    bool shed_idle_preauth(const std::string *limit_key);
    // `local`: the connection's local address when the listener knows it
    // (bound to one address); null to ask the socket.
    void add_connection(int fd, const net::Endpoint &peer, const address::ListenSpec &listener,
                        std::shared_ptr<tls::Context> tls, const net::Endpoint *local);
    void read_proxy_header(Connection &c);
    void start_session(Connection &c);
    pop3::EngineConfig engine_config() const;
    pop3::ConnectionFacts facts_for(const Connection &c, bool tls_active) const;
    void on_io(Connection &c, uint32_t events);
    void read_input(Connection &c);
    void begin_tls(Connection &c);
    void continue_handshake(Connection &c);
    void pump(Connection &c);
    void handle_action(Connection &c, pop3::Action action);
    void start_auth(Connection &c, bool apop, std::string login, std::string secret,
                    std::string timestamp);
    // auth_answered - the answer to connection `id`'s login, on the event
    // loop (the client may have left meanwhile).
    void auth_answered(uint64_t id, AuthAnswer answer);
    void deliver_auth(Connection &c, int32_t status);
    // hand_over - pass a granted system user's connection to the master
    // for a session process; false when it could not be sent.
    bool hand_over(Connection &c, const std::string &token);
    void relay(Connection &c, uint32_t events, bool from_session);
    void adopt_handover();
    void open_maildrop(Connection &c);
    // What opening and listing a maildrop gave (made on a pool thread when
    // every mailbox module is thread-safe, else on the loop).
    struct MaildropOpening {
        int32_t rc = MODPOP3D_E_INTERNAL;
        bool opened = false; // rc is then list()'s
        std::string why;
        std::vector<pop3::MessageInfo> messages;
    };
    static void open_and_list(Maildrop &maildrop, const modload::ModuleSet &modules,
                              modpop3d_session &session, const std::string &spec,
                              int64_t expire_days, MaildropOpening &out);
    // maildrop_listed - on the loop: retry a locked maildrop, answer a
    // failure, or go on to the LOGIN hooks.
    void maildrop_listed(Connection &c, MaildropOpening done);
    // maildrop_failed - answer the pending login with `outcome`, undo its
    // LOGIN-DELAY claim and close the maildrop.
    void maildrop_failed(Connection &c, pop3::Outcome outcome, const std::string &why);
    // run_login_hooks - ask for the LOGIN hooks' verdict without waiting for
    // it; login_hooks_answered() takes it on this loop, finish_login() ends
    // the login either way.
    void run_login_hooks(Connection &c);
    void login_hooks_answered(uint64_t id, int32_t verdict);
    void finish_login(Connection &c, int32_t verdict);
    void stream(Connection &c);
    void commit(Connection &c, bool early);
    void flush(Connection &c);
    void update_interest(Connection &c);
    void destroy(Connection &c);
    void tick();
    // watch_auth_socket - whether the loop wakes when the auth socket has
    // room for requests that had to wait (RemoteAuth::sending).
    void watch_auth_socket(bool writable);
    void stop_accepting(uint64_t deadline_ms);
    uint64_t now_ms() const;

    config::Configuration &config_;
    const config::CoreSettings &settings_;
    modload::ModuleSet &modules_;
    AuthChain chain_;                       // the modules in this process (inetd mode not as root)
    std::unique_ptr<RemoteAuth> remote_;    // the auth process (workers)
    AuthService *auth_ = &chain_;           // where logins are checked
    SaslExchanges sasl_{chain_, settings_}; // CRAM-MD5, SCRAM (sasl_exchange.hpp)
    int auth_socket_ = -1, control_socket_ = -1;
    ipc::Outbox control_; // hand-overs to the master waiting for room on control_socket_
    std::unique_ptr<ipc::SessionHandover> handover_; // session process: the connection
    std::unique_ptr<ipc::SessionGrant> grant_;
    std::unique_ptr<ThreadPool> pool_;
    // Every mailbox module is MODPOP3D_MODF_THREAD_SAFE: maildrops are
    // opened and listed on pool_, off the event loop.
    bool maildrop_on_pool_ = false;
    std::vector<net::Listener> listeners_;
    // Per listener: its address when bound to one (net::bound_endpoint).
    std::vector<std::optional<net::Endpoint>> listener_locals_;
    std::vector<std::shared_ptr<tls::Context>> tls_contexts_; // per listener; null: no TLS
    std::vector<uint64_t> tls_ready_; // connections with decrypted input OpenSSL holds
    int epoll_ = -1;
    int signal_fd_ = -1;
    uint64_t next_id_ = 1;
    std::map<uint64_t, std::unique_ptr<Connection>> connections_;
    std::unique_ptr<ipc::SharedLimits> own_limits_; // inetd mode not as root: a table of one
    ipc::SharedLimits *limits_ = nullptr;
    unsigned slot_ = 0;
    bool worker_ = false;
    std::function<void()> worker_ready_;
    struct Delayed {
        uint64_t due_ms;
        uint64_t id;
        int32_t status;
    };
    std::vector<Delayed> delayed_;
    std::vector<uint64_t> lock_retries_; // logins waiting for a locked maildrop (tick)
    int inetd_fd_ = -1;
    bool stopping_ = false;
    uint64_t stop_deadline_ms_ = 0;
};

} // namespace modpop3d::daemon
