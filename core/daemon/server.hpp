// server.hpp - the running daemon: listeners, one epoll event loop, POP3
// connections driven through the protocol engine, the auth chain on a
// thread pool, maildrops, limits and timers, and the log lines operators
// and fail2ban read.
//
// This is the single-process form of DESIGN.md's process model: the event
// loop serves virtual-mail sessions in-process under `mail-user` (the fast
// path), auth runs on threads so a slow backend stalls only its own
// request. The privilege-separated master/auth/session processes are the
// next step (see the closing notes of the daemon issue).
#pragma once

#include "config/core_config.hpp"
#include "daemon/auth_chain.hpp"
#include "daemon/sasl_exchange.hpp"
#include "daemon/thread_pool.hpp"
#include "modload/loader.hpp"
#include "modload/module_set.hpp"
#include "net/listener.hpp"
#include "pop3/actions.hpp"
#include "pop3/capabilities.hpp"
#include "tls/context.hpp"

#include <cstdint>
#include <map>
#include <memory>
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

    // open_listeners - bind every "listen:" address and build the TLS
    // contexts of TLS listeners (before dropping root: keys are often
    // readable by root only).
    bool open_listeners(std::string &why);
    // serve_inetd - serve the one connection on `fd` (inetd mode) instead of
    // listeners; run() then returns when it ends.
    void serve_inetd(int fd) { inetd_fd_ = fd; }
    // run - serve until SIGTERM or SIGINT; returns the exit status.
    int run();

  private:
    friend struct Connection;

    void accept_on(std::size_t index);
    void add_connection(int fd, const net::Endpoint &peer, const net::ListenSpec &listener,
                        std::shared_ptr<tls::Context> tls);
    void read_proxy_header(Connection &c);
    void start_session(Connection &c);
    pop3::ConnectionFacts facts_for(const Connection &c, bool tls_active) const;
    void on_io(Connection &c, uint32_t events);
    void read_input(Connection &c);
    void begin_tls(Connection &c);
    void continue_handshake(Connection &c);
    void pump(Connection &c);
    void handle_action(Connection &c, pop3::Action action);
    void start_auth(Connection &c, bool apop, std::string login, std::string secret,
                    std::string timestamp);
    void deliver_auth(Connection &c, int32_t status);
    void open_maildrop(Connection &c);
    void stream(Connection &c);
    void commit(Connection &c, bool early);
    void flush(Connection &c);
    void update_interest(Connection &c);
    void destroy(Connection &c);
    void tick();
    uint64_t now_ms() const;

    config::Configuration &config_;
    const config::CoreSettings &settings_;
    modload::ModuleSet &modules_;
    AuthChain chain_;
    SaslExchanges sasl_{chain_, settings_}; // CRAM-MD5, SCRAM (sasl_exchange.hpp)
    std::unique_ptr<ThreadPool> pool_;
    std::vector<net::Listener> listeners_;
    std::vector<std::shared_ptr<tls::Context>> tls_contexts_; // per listener; null: no TLS
    std::vector<uint64_t> tls_ready_; // connections with decrypted input OpenSSL holds
    int epoll_ = -1;
    int signal_fd_ = -1;
    uint64_t next_id_ = 1;
    std::map<uint64_t, std::unique_ptr<Connection>> connections_;
    std::map<std::string, int> per_ip_;
    struct Failures {
        int count = 0;
        uint64_t last_ms = 0;
    };
    std::map<std::string, Failures> failures_;
    struct Delayed {
        uint64_t due_ms;
        uint64_t id;
        int32_t status;
    };
    std::vector<Delayed> delayed_;
    std::map<std::string, uint64_t> last_login_ms_; // LOGIN-DELAY, by user
    int inetd_fd_ = -1;
    bool stopping_ = false;
    uint64_t stop_deadline_ms_ = 0;
};

// serve - the daemon's main: load and check the configuration, load the
// modules, bind (or, in inetd mode, take the connection on standard input),
// drop privileges, initialise the modules and run.
int serve(const std::string &config_file, bool foreground_stderr, bool inetd = false);

} // namespace modpop3d::daemon
