// server.cpp - the event loop and the glue between sockets, the POP3
// engine, the auth chain and maildrops (see server.hpp).
//
// DIAGNOSTICS (one key=value line each; never a password):
//   event=ready listeners=...                      serving
//   event=login user= rip= lip= tls= method= messages= octets=
//   event=tls rip= version= cipher= resumed=           (debug)
//   event=tls_failed rip= reason=                       handshake failed
//   event=stls_injection rip=                           plaintext after STLS
//   event=auth_failed user= rip= lip= method= failures=  (fail2ban: rip=<HOST>;
//                failures: this address's recent failures, across workers)
//   event=logout user= rip= lip= tls= method= reason= retrieved=
//                retrieved_octets= deleted= deleted_octets= expired= duration_ms=
//   event=refused rip= reason=limit_total|limit_ip
//   event=maildrop_error user= why=
#include "worker/server.hpp"

#include "address/cidr.hpp"
#include "ipc/message.hpp"
#include "modload/host_services.hpp"
#include "net/proxy_protocol.hpp"
#include "net/systemd.hpp"
#include "password/password.hpp"
#include "password/password_digest.hpp"
#include "pop3/encoder.hpp"
#include "pop3/engine.hpp"
#include "tls/stream.hpp"
#include "util/heap.hpp"
#include "util/log.hpp"
#include "worker/maildrop.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <grp.h>
#include <iostream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <variant>

namespace modpop3d::daemon
{

namespace
{

constexpr std::size_t read_chunk = 16384;
constexpr std::size_t stream_high_water = 256 * 1024; // pause the mailbox above this
constexpr uint64_t listener_tag = 1ull << 63;         // epoll data for listeners
constexpr uint64_t signal_tag = listener_tag | 1ull << 62;
constexpr uint64_t pool_tag = listener_tag | 1ull << 61;
constexpr uint64_t auth_tag = listener_tag | 1ull << 59; // answers of the auth process
constexpr uint64_t relay_tag = 1ull << 60; // | connection id: a TLS relay's socketpair end
constexpr std::size_t relay_high_water = 256 * 1024; // stop reading a side above this

// set_user_facts - "user", and "local_part"/"domain" split at the last '@',
// as modules read them with session_get() (not only through templates).
void set_user_facts(modpop3d_session &session, const std::string &user)
{
    session.set("user", user);
    auto at = user.rfind('@');
    session.set("local_part", at == std::string::npos ? user : user.substr(0, at));
    if (at == std::string::npos)
        session.facts.erase("domain");
    else
        session.set("domain", user.substr(at + 1));
}

// set_interest - what epoll reports for `fd` (tagged `tag`), when it changed.
void set_interest(int epoll, int fd, uint64_t tag, uint32_t &current, uint32_t want)
{
    if (want == current)
        return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = tag;
    epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &ev);
    current = want;
}

// daemon_signals - the signals the event loop handles through a signalfd.
sigset_t daemon_signals()
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1); // a worker's "retire" (reload)
    return mask;
}

// parse_days - an auth module's "expire" value (decimal, checked by
// result_set); absurdly large values mean "never".
int64_t parse_days(const std::string &text)
{
    int64_t days = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), days);
    return ec == std::errc() && p == text.data() + text.size() && days <= 99999 ? days : -1;
}

const char *method_name(pop3::LoginMethod m)
{
    switch (m) {
    case pop3::LoginMethod::user_pass:
        return "USER";
    case pop3::LoginMethod::apop:
        return "APOP";
    case pop3::LoginMethod::sasl_plain:
        return "PLAIN";
    case pop3::LoginMethod::sasl_login:
        return "LOGIN";
    default:
        return "SASL";
    }
}

const char *reason_name(pop3::CloseReason r)
{
    switch (r) {
    case pop3::CloseReason::quit:
        return "quit";
    case pop3::CloseReason::peer_closed:
        return "disconnected";
    case pop3::CloseReason::timeout:
        return "timeout";
    case pop3::CloseReason::bad_commands:
        return "bad_commands";
    case pop3::CloseReason::long_lines:
        return "long_lines";
    case pop3::CloseReason::auth_failures:
        return "auth_failures";
    case pop3::CloseReason::tls_failed:
        return "tls_failed";
    case pop3::CloseReason::retrieve_failed:
        return "retrieve_failed";
    case pop3::CloseReason::maildrop_failed:
        return "maildrop_failed";
    default:
        return "protocol_misuse";
    }
}

} // namespace

// PendingLogin - a login whose maildrop is being opened and listed, then
// waits for the LOGIN hooks' verdict (they run in the auth process; the
// loop goes on). Outside Connection: std::optional of a nested class with
// default member initialisers is not constructible inside it (clang).
struct PendingLogin {
    std::vector<pop3::MessageInfo> messages;
    uint64_t octets = 0;
    ipc::SharedLimits::Claim claim; // LOGIN-DELAY, undone if the login fails
    bool claimed = false;
    uint64_t delay_ms = 0;
    int64_t expire_days = -1;
};

// One client connection.
struct Connection {
    uint64_t id = 0;
    int fd = -1;
    net::Endpoint peer, local;
    std::unique_ptr<pop3::Engine> engine;
    std::shared_ptr<modpop3d_session> session = std::make_shared<modpop3d_session>();
    std::string out;
    std::size_t out_pos = 0;
    address::ListenOptions listener;           // the options of the listener it came in on
    std::shared_ptr<tls::Context> tls_context; // null: no TLS on that listener
    std::unique_ptr<tls::Stream> tls;          // set once a handshake starts
    bool handshaking = false;
    bool proxy_pending = false; // waiting for the PROXY header (proxy=yes listeners)
    std::string proxy_buf;      // the header's bytes consumed so far
    bool stls_pending = false;  // STLS answered: start the handshake once "+OK" is out
    bool read_wants_write = false, write_wants_read = false; // OpenSSL's crossed waits
    uint64_t handshake_deadline_ms = 0;
    Maildrop maildrop;
    std::map<std::string, std::string> auth_result;
    std::string login_name; // as rewritten, for logs
    const char *method = "USER";
    bool auth_pending = false;
    bool closing = false;
    bool hard_close = false;
    const char *close_reason = "disconnected";
    bool logged_in = false;
    bool counted = true;      // admitted in the shared limits (released by destroy)
    bool handed_over = false; // given to a session process: close quietly
    bool tls_relayed = false; // session process: the worker relays TLS for it
    // A TLS connection handed to a session process: the worker relays the
    // decrypted stream over a socketpair (relay_fd); `out` holds bytes for
    // the client, `relay_out` bytes for the session process.
    int relay_fd = -1;
    std::string relay_out;
    bool client_eof = false;
    uint32_t relay_interest = 0;
    uint64_t accepted_ms = 0, last_activity_ms = 0, last_write_ms = 0, login_ms = 0;
    uint64_t lock_wait_until_ms = 0; // waiting for a locked maildrop until then (lock-wait)
    // A login whose maildrop is being opened or waits for the LOGIN hooks.
    using LoginInProgress = PendingLogin;
    std::optional<LoginInProgress> login_in_progress;
    uint32_t interest = 0;

    struct Streaming {
        pop3::Retrieve request;
        uint64_t offset = 0;
        bool started = false;
        pop3::MessageEncoder encoder;
    };
    std::optional<Streaming> streaming;

    std::size_t pending_out() const { return out.size() - out_pos; }
    // unsent - all the output the client has not been given yet: `out`, and
    // what TLS encrypted that the socket has not taken (tls::Stream).
    std::size_t unsent() const { return pending_out() + (tls ? tls->unsent() : 0); }
};

Server::Server(config::Configuration &config, modload::ModuleSet &modules)
    : config_(config), settings_(config.core), modules_(modules),
      chain_(modules, config.core.auth_cache_ttl_ms, config.core.auth_cache_size)
{
}

Server::~Server()
{
    while (!connections_.empty())
        destroy(*connections_.begin()->second);
    for (auto &l : listeners_)
        close(l.fd);
    if (signal_fd_ >= 0)
        close(signal_fd_);
    if (epoll_ >= 0)
        close(epoll_);
}

void Server::watch_auth_socket(bool writable)
{
    epoll_event ev{};
    ev.events = EPOLLIN | (writable ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = auth_tag;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, auth_socket_, &ev);
}

uint64_t Server::now_ms() const
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

bool Server::become_worker(WorkerRole role, std::string &why)
{
    worker_ = true;
    limits_ = role.limits;
    slot_ = role.slot;
    listeners_ = std::move(role.listeners);
    worker_ready_ = std::move(role.ready);
    auth_socket_ = role.auth_socket;
    control_socket_ = role.control_socket;
    control_.set_socket(control_socket_);
    tls_contexts_ = std::move(role.tls);
    if (tls_contexts_.size() != listeners_.size()) {
        why = "internal error: TLS contexts do not match the listeners";
        return false;
    }
    return true;
}

void Server::stop_accepting(uint64_t deadline_ms)
{
    stopping_ = true;
    stop_deadline_ms_ = deadline_ms;
    for (auto &l : listeners_) {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, l.fd, nullptr);
        close(l.fd);
    }
    listeners_.clear();
}

int Server::run()
{
    // The signals were blocked by serve() before any thread was created, so
    // every thread inherits the mask and only the signalfd sees them.
    sigset_t mask = daemon_signals();
    // A process serving many sessions reuses its freed memory (heap.hpp);
    // a session process or an inetd run serves one.
    if (!handover_ && inetd_fd_ < 0)
        util::retain_freed_heap(settings_.worker_heap_retain);
    if (limits_ == nullptr) {
        own_limits_ = std::make_unique<ipc::SharedLimits>();
        limits_ = own_limits_.get();
    }
    // A session process checks no logins: one thread serves its few jobs.
    pool_ = std::make_unique<ThreadPool>(handover_ ? 1u
                                                   : static_cast<unsigned>(settings_.auth_threads));
    if (inetd_fd_ >= 0 && auth_socket_ < 0)
        chain_.log_cache(); // logins are checked in this process
    {
        const auto mailboxes = modules_.of_kind(MODPOP3D_KIND_MAILBOX);
        maildrop_on_pool_ =
            !mailboxes.empty() &&
            std::all_of(mailboxes.begin(), mailboxes.end(), [](const modload::Instance *i) {
                return (i->module->desc->flags & MODPOP3D_MODF_THREAD_SAFE) != 0;
            });
    }
    if (auth_socket_ >= 0) {
        // A worker: logins are checked by the auth process. What the
        // modules can do is known here from their descriptors.
        RemoteAuth::Facts facts;
        facts.can_serve_credentials = chain_.can_serve_credentials();
        facts.on_login = chain_.has_on_login();
        for (uint32_t ev :
             {MODPOP3D_EV_AUTH_OK, MODPOP3D_EV_AUTH_FAIL, MODPOP3D_EV_LOGIN, MODPOP3D_EV_LOGOUT})
            if (chain_.has_hooks(ev))
                facts.hook_events |= ev;
        remote_ = std::make_unique<RemoteAuth>(auth_socket_, facts, settings_.auth_timeout_ms);
        // Requests that wait for room: watch the socket for it (epoll_ctl
        // is safe from the pool threads that may queue them too).
        remote_->on_backlog([this] { watch_auth_socket(true); });
        auth_ = remote_.get();
        sasl_.use(*auth_);
    }
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    auto add = [&](int fd, uint64_t tag) {
        epoll_event ev{};
        // Workers share the listeners: a connection wakes one of them.
        bool shared = worker_ && (tag & listener_tag) && tag != signal_tag && tag != pool_tag &&
                      tag != auth_tag;
        ev.events = EPOLLIN | (shared ? uint32_t{EPOLLEXCLUSIVE} : 0u);
        ev.data.u64 = tag;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    };
    if (inetd_fd_ >= 0) {
        // inetd mode: one connection, already accepted, on standard input;
        // the server ends with it.
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        getpeername(inetd_fd_, reinterpret_cast<sockaddr *>(&ss), &len);
        fcntl(inetd_fd_, F_SETFL, fcntl(inetd_fd_, F_GETFL) | O_NONBLOCK);
        add(signal_fd_, signal_tag);
        add(pool_->event_fd(), pool_tag);
        net::Endpoint peer = net::endpoint_of(ss);
        limits_->admit(slot_, peer.limit_key, INT64_MAX, INT64_MAX); // counted, never refused
        address::ListenSpec inetd;
        inetd.text = "inetd";
        inetd.options.tls = address::TlsMode::none;
        add_connection(inetd_fd_, peer, inetd, nullptr, nullptr);
        stopping_ = true; // accept nothing more; run until the session ends
        stop_deadline_ms_ = UINT64_MAX;
    }
    if (handover_) {
        add(signal_fd_, signal_tag);
        add(pool_->event_fd(), pool_tag);
        adopt_handover();
        stopping_ = true; // one session; run until it ends
        stop_deadline_ms_ = UINT64_MAX;
    }
    if (remote_)
        add(remote_->socket(), auth_tag);
    std::string names;
    listener_locals_.clear();
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
        net::set_accept_options(listeners_[i].fd);
        listener_locals_.push_back(net::bound_endpoint(listeners_[i].fd));
        add(listeners_[i].fd, listener_tag | i);
        names += (names.empty() ? "" : ",") + listeners_[i].spec.text;
    }
    if (handover_) {
        // a session process: nothing to announce
    } else if (inetd_fd_ < 0 && worker_) {
        add(signal_fd_, signal_tag);
        add(pool_->event_fd(), pool_tag);
        if (worker_ready_)
            worker_ready_();
    } else if (inetd_fd_ < 0) {
        add(signal_fd_, signal_tag);
        add(pool_->event_fd(), pool_tag);
        log::writef(log::Info, "", "event=ready listeners=%s pid=%d", log::quote(names).c_str(),
                    getpid());
        net::notify("READY=1");
    }

    uint64_t last_tick = now_ms();
    epoll_event events[128];
    while (!stopping_ || (!connections_.empty() && now_ms() < stop_deadline_ms_)) {
        int n = epoll_wait(epoll_, events, 128, 100);
        if (n < 0 && errno != EINTR) {
            log::writef(log::Err, "", "event=epoll_failed error=%s", std::strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            uint64_t tag = events[i].data.u64;
            if (tag == signal_tag) {
                signalfd_siginfo si;
                while (read(signal_fd_, &si, sizeof si) == sizeof si) {
                    if (worker_ && si.ssi_signo == SIGHUP)
                        continue; // the master reloads; its workers are replaced
                    if (si.ssi_signo == SIGUSR1) {
                        // Retire (the master reloaded): accept nothing more;
                        // running sessions end on their own timeouts.
                        if (worker_ && !stopping_) {
                            stop_accepting(UINT64_MAX);
                            log::writef(log::Info, "", "event=worker_retiring sessions=%zu",
                                        connections_.size());
                        }
                        continue;
                    }
                    if (si.ssi_signo == SIGHUP) {
                        log::write(log::Notice, "",
                                   "event=reload_ignored reason=\"reload is not supported yet; "
                                   "restart to apply changes\"");
                        continue;
                    }
                    if (!stopping_ || stop_deadline_ms_ == UINT64_MAX) {
                        stop_accepting(now_ms() +
                                       static_cast<uint64_t>(settings_.shutdown_timeout_ms));
                        net::notify("STOPPING=1");
                        log::writef(log::Info, "", "event=stopping signal=%u sessions=%zu",
                                    si.ssi_signo, connections_.size());
                    }
                }
            } else if (tag == pool_tag) {
                pool_->run_completions();
            } else if (tag == auth_tag) {
                if ((events[i].events & EPOLLOUT) && !remote_->on_writable())
                    watch_auth_socket(false);
                if (!remote_->on_readable()) // the auth process's end is gone
                    epoll_ctl(epoll_, EPOLL_CTL_DEL, remote_->socket(), nullptr);
            } else if (tag & listener_tag) {
                std::size_t idx = tag & ~listener_tag;
                if (idx < listeners_.size())
                    accept_on(idx);
            } else if (tag & relay_tag) {
                auto it = connections_.find(tag & ~relay_tag);
                if (it != connections_.end())
                    relay(*it->second, events[i].events, true);
            } else {
                auto it = connections_.find(tag);
                if (it != connections_.end())
                    on_io(*it->second, events[i].events);
            }
        }
        if (remote_) {
            remote_->run_deferred(); // answers read during a LOGIN hook's wait
            // A request a pool thread queued while this loop stopped
            // watching for room is not left behind.
            if (remote_->sending() && !remote_->on_writable())
                watch_auth_socket(false);
        }
        if (control_.waiting())
            control_.flush(); // hand-overs that waited for room (tick-paced)
        // Input OpenSSL decrypted but the engine could not take yet: the
        // socket will not announce it again.
        std::vector<uint64_t> ready;
        ready.swap(tls_ready_);
        for (uint64_t id : ready)
            if (auto it = connections_.find(id); it != connections_.end())
                on_io(*it->second, EPOLLIN);
        if (now_ms() - last_tick >= 100) {
            last_tick = now_ms();
            tick();
        }
    }
    if (!connections_.empty())
        log::writef(log::Notice, "", "event=drain_timeout sessions=%zu", connections_.size());
    while (!connections_.empty()) {
        Connection &c = *connections_.begin()->second;
        c.close_reason = "shutdown";
        destroy(c);
    }
    pool_.reset();
    log::write(log::Info, "", "event=stopped");
    return 0;
}

void Server::accept_on(std::size_t index)
{
    const net::Listener &l = listeners_[index];
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd =
            accept4(l.fd, reinterpret_cast<sockaddr *>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        // TCP_NODELAY comes from the listening socket (set_accept_options).
        net::Endpoint peer = net::endpoint_of(ss);
        if (l.spec.options.proxy && !address::cidr_contains(settings_.proxy_networks, peer.ip)) {
            // Only the configured balancers may speak for other clients.
            close(fd);
            log::writef(log::Warning, "", "event=refused rip=%s reason=untrusted_proxy",
                        peer.ip.c_str());
            continue;
        }
        // allow= / deny= of the listener (a proxy=yes listener checks the
        // client the header names instead, in read_proxy_header).
        if (!l.spec.options.proxy && !address::listener_admits(l.spec.options, peer.ip)) {
            static const char msg[] = "-ERR [SYS/PERM] Not allowed from your address\r\n";
            ssize_t ignored = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)ignored;
            close(fd);
            log::writef(log::Notice, "", "event=refused rip=%s reason=listener_deny",
                        peer.ip.c_str());
            continue;
        }
        // Counted across all workers (shared_limits.hpp); admitted ones are
        // released by destroy().
        const char *refuse = limits_->admit(slot_, peer.limit_key, settings_.max_connections,
                                            settings_.max_connections_per_ip);
        if (refuse != nullptr &&
            shed_idle_preauth(std::strcmp(refuse, "limit_ip") == 0 ? &peer.limit_key : nullptr))
            refuse = limits_->admit(slot_, peer.limit_key, settings_.max_connections,
                                    settings_.max_connections_per_ip);
        if (refuse != nullptr) {
            static const char msg[] = "-ERR [SYS/TEMP] Too many connections, try later\r\n";
            ssize_t ignored = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)ignored;
            close(fd);
            log::writef(log::Warning, "", "event=refused rip=%s reason=%s", peer.ip.c_str(),
                        refuse);
            continue;
        }
        const auto &local = listener_locals_[index];
        add_connection(fd, peer, l.spec, tls_contexts_[index], local ? &*local : nullptr);
    }
}

bool Server::shed_idle_preauth(const std::string *limit_key)
{
    // The oldest pre-login connection of this worker that has been silent
    // for a while gives way to the new one: a crowd of idle clients cannot
    // lock out those who log in, whatever timeout-preauth allows.
    const uint64_t idle_enough_ms =
        std::min<uint64_t>(10000, static_cast<uint64_t>(settings_.timeout_preauth_ms) / 2);
    const uint64_t now = now_ms();
    Connection *oldest = nullptr;
    for (auto &[id, cp] : connections_) {
        Connection &c = *cp;
        if (c.logged_in || c.auth_pending || c.closing || c.relay_fd >= 0 || !c.counted ||
            now - c.last_activity_ms < idle_enough_ms ||
            (limit_key != nullptr && c.peer.limit_key != *limit_key))
            continue;
        if (oldest == nullptr || c.last_activity_ms < oldest->last_activity_ms)
            oldest = &c;
    }
    if (oldest == nullptr)
        return false;
    log::writef(log::Notice, "", "event=shed rip=%s idle_ms=%llu", oldest->peer.ip.c_str(),
                static_cast<unsigned long long>(now - oldest->last_activity_ms));
    oldest->close_reason = "shed";
    oldest->hard_close = true;
    destroy(*oldest);
    return true;
}

pop3::EngineConfig Server::engine_config() const
{
    pop3::EngineConfig ec;
    ec.greeting = "modpop3d ready";
    ec.capabilities.implementation = settings_.implementation;
    ec.max_bad_commands = static_cast<uint32_t>(settings_.max_bad_commands);
    ec.max_auth_failures = static_cast<uint32_t>(settings_.max_auth_failures);
    ec.commit_on_early_close = settings_.commit_on_early_close;
    if (settings_.login_delay_ms > 0) {
        // Announced before login as the server's value, with USER because an
        // auth module may give a user another one (RFC 2449).
        ec.capabilities.login_delay = static_cast<uint32_t>(settings_.login_delay_ms / 1000);
        ec.capabilities.login_delay_per_user = true;
    }
    if (settings_.expire_days >= -1) {
        ec.capabilities.expire =
            settings_.expire_days == -1
                ? pop3::Expire{true, 0}
                : pop3::Expire{false, static_cast<uint32_t>(settings_.expire_days)};
        ec.capabilities.expire_per_user = true;
    }
    return ec;
}

pop3::ConnectionFacts Server::facts_for(const Connection &c, bool tls_active) const
{
    pop3::ConnectionFacts facts;
    facts.tls_active = tls_active;
    facts.stls_available = !tls_active && c.listener.tls == address::TlsMode::stls && c.tls_context;
    // Plaintext policy: the listener's own, else the global one.
    const std::string &policy =
        c.listener.plaintext_auth.empty() ? settings_.plaintext_auth : c.listener.plaintext_auth;
    facts.plaintext_allowed =
        tls_active || policy == "always" ||
        (policy == "tls-or-loopback" &&
         (c.peer.loopback || address::cidr_contains(settings_.plaintext_networks, c.peer.ip)));
    // SCRAM-SHA-256-PLUS with TLS: commands are read only once the handshake
    // is done, when the channel binding exists (sasl_exchange.hpp).
    facts.sasl_mechanisms = sasl_.mechanisms(tls_active);
    return facts;
}

void Server::add_connection(int fd, const net::Endpoint &peer, const address::ListenSpec &listener,
                            std::shared_ptr<tls::Context> tls, const net::Endpoint *local)
{
    auto c = std::make_unique<Connection>();
    c->id = next_id_++;
    c->fd = fd;
    c->peer = peer;
    c->listener = listener.options;
    c->tls_context = std::move(tls);
    if (local != nullptr) {
        c->local = *local;
    } else {
        sockaddr_storage ls{};
        socklen_t llen = sizeof ls;
        getsockname(fd, reinterpret_cast<sockaddr *>(&ls), &llen);
        c->local = net::endpoint_of(ls);
    }
    c->accepted_ms = c->last_activity_ms = c->last_write_ms = now_ms();
    c->session->set("listener", listener.text);
    c->session->set("tls", "0");
    c->session->set("session_id", std::to_string(c->id));
    Connection &ref = *c;
    connections_[c->id] = std::move(c);
    // Registered for input at once: what nearly every session waits for
    // after its greeting, so that start_session needs no second epoll_ctl.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = ref.id;
    ref.interest = EPOLLIN;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    if (ref.listener.proxy) {
        // The balancer's header comes first; the session starts after it,
        // with the client's address from it.
        ref.proxy_pending = true;
        return;
    }
    start_session(ref);
}

void Server::read_proxy_header(Connection &c)
{
    // Peek, so that nothing after the header (a TLS ClientHello, say) is
    // taken from the socket; what is consumed is always header bytes.
    char buf[net::proxy_max_header];
    const std::size_t room = net::proxy_max_header - c.proxy_buf.size();
    ssize_t n = recv(c.fd, buf, room, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    auto refuse = [&](const std::string &why) {
        log::writef(log::Warning, "", "event=proxy_failed rip=%s why=%s", c.peer.ip.c_str(),
                    log::quote(why).c_str());
        c.close_reason = "proxy_failed";
        destroy(c);
    };
    if (n <= 0) {
        refuse(n == 0 ? "closed before the PROXY header" : std::strerror(errno));
        return;
    }
    const std::string seen = c.proxy_buf + std::string(buf, static_cast<std::size_t>(n));
    net::ProxyHeader h;
    net::ProxyStatus st = net::parse_proxy_header(seen, h);
    if (st == net::ProxyStatus::error ||
        (st == net::ProxyStatus::need_more && seen.size() >= net::proxy_max_header)) {
        refuse(st == net::ProxyStatus::error ? h.error : "PROXY header too long");
        return;
    }
    // Consume: all of it when it is still a prefix of the header, else
    // exactly the header's remaining bytes.
    std::size_t take = st == net::ProxyStatus::need_more ? static_cast<std::size_t>(n)
                                                         : h.length - c.proxy_buf.size();
    ssize_t got = recv(c.fd, buf, take, 0);
    if (got != static_cast<ssize_t>(take)) {
        refuse("short read of the PROXY header");
        return;
    }
    if (st == net::ProxyStatus::need_more) {
        c.proxy_buf = seen;
        return;
    }
    c.proxy_pending = false;
    c.proxy_buf.clear();
    if (!h.local) {
        net::Endpoint client = net::endpoint_of_text(h.source_ip, h.source_port);
        if (client.limit_key != c.peer.limit_key) {
            // Limits count the client, not the balancer.
            // Swap the balancer's count for the client's (in all workers'
            // table); refused, the client is counted anyway so that
            // destroy() releases what it holds.
            limits_->release(slot_, c.peer.limit_key);
            c.peer = client; // destroy() now releases the client's count
            if (limits_->admit(slot_, c.peer.limit_key, INT64_MAX,
                               settings_.max_connections_per_ip) != nullptr) {
                limits_->admit(slot_, c.peer.limit_key, INT64_MAX, INT64_MAX);
                log::writef(log::Warning, "", "event=refused rip=%s reason=limit_ip",
                            c.peer.ip.c_str());
                c.close_reason = "limit_ip";
                destroy(c);
                return;
            }
        }
        c.peer = client;
        c.local = net::endpoint_of_text(h.dest_ip, h.dest_port);
        if (!address::listener_admits(c.listener, c.peer.ip)) {
            log::writef(log::Notice, "", "event=refused rip=%s reason=listener_deny",
                        c.peer.ip.c_str());
            c.close_reason = "listener_deny";
            destroy(c);
            return;
        }
    } else {
        // LOCAL / UNKNOWN: no client is named, so the balancer's address
        // stays; but a client relayed that way must not pass for loopback.
        // Only plaintext-trusted-networks can vouch for the balancer.
        c.peer.loopback = false;
    }
    start_session(c);
}

void Server::start_session(Connection &c_ref)
{
    Connection *c = &c_ref;
    c->session->set("client_ip", c->peer.ip);
    c->session->set("client_port", std::to_string(c->peer.port));
    c->session->set("local_ip", c->local.ip);
    c->session->set("local_port", std::to_string(c->local.port));
    if (!c->listener.domain.empty())
        c->session->set("listener_domain", c->listener.domain);

    pop3::EngineConfig ec = engine_config();
    const bool implicit_tls = c->tls_context && c->listener.tls == address::TlsMode::implicit;
    pop3::ConnectionFacts facts = facts_for(*c, implicit_tls);
    if (settings_.apop && auth_->can_serve_credentials()) {
        unsigned char rnd[12];
        modload::host_table()->random_bytes(rnd, sizeof rnd);
        // All random: no pid or clock for a client to learn.
        std::string ts = "<" +
                         password::digest::hex_encode(password::digest::as_text(rnd, sizeof rnd)) +
                         "@modpop3d>";
        facts.apop_available = true;
        facts.apop_timestamp = ts;
    }
    c->engine = std::make_unique<pop3::Engine>(ec, facts);
    if (implicit_tls) {
        begin_tls(*c); // the greeting waits in `out` until the handshake is done
        return;
    }
    pump(*c);
}

void Server::begin_tls(Connection &c)
{
    c.tls = std::make_unique<tls::Stream>(c.tls_context->get(), c.fd);
    if (!c.tls->valid()) {
        log::writef(log::Err, "", "event=tls_failed rip=%s reason=\"cannot create a TLS session\"",
                    c.peer.ip.c_str());
        c.tls.reset();
        c.close_reason = "tls_failed";
        destroy(c);
        return;
    }
    c.handshaking = true;
    c.handshake_deadline_ms = now_ms() + static_cast<uint64_t>(settings_.tls_handshake_timeout_ms);
    continue_handshake(c);
}

void Server::continue_handshake(Connection &c)
{
    tls::Io r = c.tls->handshake();
    if (r == tls::Io::want_read || r == tls::Io::want_write) {
        set_interest(epoll_, c.fd, c.id, c.interest, r == tls::Io::want_read ? EPOLLIN : EPOLLOUT);
        return;
    }
    if (r != tls::Io::ok) {
        log::writef(
            log::Notice, "", "event=tls_failed rip=%s reason=%s", c.peer.ip.c_str(),
            log::quote(r == tls::Io::closed ? "client closed the connection" : c.tls->error_text())
                .c_str());
        c.handshaking = false;
        c.tls.reset(); // nothing more may go out, in plaintext or otherwise
        c.out.clear();
        c.out_pos = 0;
        c.close_reason = "tls_failed";
        c.engine->connection_lost();
        c.hard_close = true;
        destroy(c);
        return;
    }
    c.handshaking = false;
    c.session->set("tls", "1");
    log::writef(log::Debug, "", "event=tls rip=%s version=%s cipher=%s resumed=%d",
                c.peer.ip.c_str(), c.tls->version().c_str(), c.tls->cipher().c_str(),
                c.tls->resumed() ? 1 : 0);
    if (c.engine->state() == pop3::State::authorization && !c.engine->facts().tls_active) {
        // After STLS: the engine forgets what came before and gets the
        // connection's facts as they are now.
        pop3::ConnectionFacts facts = facts_for(c, true);
        facts.apop_available = c.engine->facts().apop_available;
        c.engine->tls_started(std::move(facts));
    }
    pump(c);
}

void Server::on_io(Connection &c, uint32_t events)
{
    uint64_t id = c.id;
    if (c.relay_fd >= 0) {
        relay(c, events, false);
        return;
    }
    if (c.proxy_pending) {
        read_proxy_header(c);
        return;
    }
    if (c.handshaking) {
        if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
            c.close_reason = "tls_failed";
            destroy(c);
            return;
        }
        continue_handshake(c);
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        if (!(events & EPOLLIN)) {
            c.engine->connection_lost();
            c.hard_close = true;
        }
    }
    // OpenSSL may need the other direction to make progress.
    if (c.tls && c.read_wants_write && (events & EPOLLOUT))
        events |= EPOLLIN;
    if ((events & EPOLLIN) && c.engine->wants_input() && !c.closing)
        read_input(c);
    if (connections_.count(id) != 0)
        pump(c);
}

void Server::read_input(Connection &c)
{
    char buf[read_chunk];
    if (!c.tls) {
        ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.last_activity_ms = now_ms();
            c.engine->feed(std::string_view(buf, static_cast<std::size_t>(n)));
        } else if (n == 0) {
            c.engine->peer_closed();
        } else if (errno != EAGAIN && errno != EINTR) {
            c.engine->connection_lost();
            c.hard_close = true;
        }
        return;
    }
    c.read_wants_write = false;
    // A few records per event, so that one client cannot hold the loop.
    for (int i = 0; i < 4 && c.engine->wants_input(); ++i) {
        std::size_t got = 0;
        tls::Io r = c.tls->read(buf, sizeof buf, got);
        if (r == tls::Io::ok) {
            c.last_activity_ms = now_ms();
            c.engine->feed(std::string_view(buf, got));
            if (!c.tls->buffered())
                return;
            continue;
        }
        if (r == tls::Io::want_read)
            return;
        if (r == tls::Io::want_write) {
            c.read_wants_write = true;
            return;
        }
        if (r == tls::Io::closed) {
            c.engine->peer_closed();
            return;
        }
        c.engine->connection_lost();
        c.hard_close = true;
        return;
    }
}

void Server::pump(Connection &c)
{
    uint64_t id = c.id;
    // Pipelined commands the engine held back while the client was behind
    // on reading (EngineConfig::output_limit) go on as it catches up, a few
    // rounds per event; EPOLLOUT brings the rest.
    for (int pass = 0; pass < 8; ++pass) {
        for (int round = 0; round < 1000; ++round) {
            c.out += c.engine->take_output();
            auto action = c.engine->next_action();
            if (!action)
                break;
            handle_action(c, std::move(*action));
            if (connections_.count(id) == 0)
                return;
        }
        c.out += c.engine->take_output();
        flush(c);
        if (connections_.count(id) == 0)
            return;
        if (c.unsent() > settings_.max_output_buffer && !c.hard_close) {
            // Only a reply bigger than any maildrop's listing gets here.
            log::writef(log::Warning, "", "event=output_limit rip=%s unsent=%zu", c.peer.ip.c_str(),
                        c.unsent());
            c.close_reason = "output_limit";
            c.engine->connection_lost();
            c.hard_close = true;
            c.closing = true;
            while (auto a = c.engine->next_action()) // what a drop implies (Close)
                handle_action(c, std::move(*a));
            if (connections_.count(id) == 0)
                return;
        }
        if (c.streaming || !c.engine->set_output_backlog(c.unsent()))
            break;
    }
    // Stream while the socket keeps taking data, a bounded number of rounds
    // per event so that one big message cannot starve other clients.
    for (int round = 0; round < 16 && c.streaming && c.pending_out() < stream_high_water / 2;
         ++round) {
        stream(c);
        if (connections_.count(id) == 0)
            return;
        c.out += c.engine->take_output();
        flush(c);
        if (connections_.count(id) == 0)
            return;
        if (!c.streaming && (c.engine->has_action() || c.engine->has_output()))
            return pump(c); // the message ended: answer what was pipelined after it
    }
    if (c.closing && (c.unsent() == 0 || c.hard_close)) {
        destroy(c);
        return;
    }
    if (c.stls_pending && c.pending_out() == 0) {
        c.stls_pending = false;
        begin_tls(c);
        return;
    }
    if (c.tls && !c.closing && !c.streaming && c.engine->wants_input() && c.tls->buffered())
        tls_ready_.push_back(c.id);
    update_interest(c);
}

void Server::handle_action(Connection &c, pop3::Action action)
{
    std::visit(
        [&](auto &a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, pop3::VerifyPlain>) {
                c.method = method_name(a.method);
                start_auth(c, false, std::move(a.user), std::move(a.password), "");
                std::fill(a.password.begin(), a.password.end(), '\0');
            } else if constexpr (std::is_same_v<T, pop3::VerifyApop>) {
                c.method = "APOP";
                start_auth(c, true, std::move(a.user), std::move(a.digest), a.timestamp);
            } else if constexpr (std::is_same_v<T, pop3::SaslStep>) {
                // CRAM-MD5 and SCRAM (sasl_exchange.hpp): challenges go back
                // to the client; the end takes the same path as PASS.
                c.method = SaslExchanges::method_name(a.mechanism);
                sasl_.step(*pool_, c.id, c.session, std::move(a),
                           channel_binding_of(c.handshaking ? nullptr : c.tls.get()),
                           [this](uint64_t id, SaslExchanges::Event ev) {
                               auto it = connections_.find(id);
                               if (it == connections_.end())
                                   return; // the client left during a lookup
                               Connection &conn = *it->second;
                               if (!ev.login.empty())
                                   conn.login_name = ev.login;
                               if (ev.kind == SaslExchanges::Event::Kind::challenge) {
                                   conn.engine->sasl_challenge(ev.challenge);
                                   pump(conn);
                                   return;
                               }
                               conn.auth_pending = true;
                               conn.auth_result = std::move(ev.answer.result);
                               deliver_auth(conn, ev.answer.status);
                           });
            } else if constexpr (std::is_same_v<T, pop3::SaslAbort>) {
                sasl_.abort(c.id);
            } else if constexpr (std::is_same_v<T, pop3::OpenMaildrop>) {
                open_maildrop(c);
            } else if constexpr (std::is_same_v<T, pop3::Retrieve>) {
                c.streaming.emplace(
                    Connection::Streaming{a, 0, false, pop3::MessageEncoder(a.top_lines)});
                stream(c);
            } else if constexpr (std::is_same_v<T, pop3::StartTls>) {
                if (!c.tls_context || c.tls || c.listener.tls != address::TlsMode::stls) {
                    c.engine->tls_failed(); // not offered here: a bug if it happens
                } else if (c.engine->plaintext_after_stls()) {
                    // Commands pipelined after STLS (CVE-2011-0411 class):
                    // the engine discarded them; drop the client too.
                    log::writef(log::Warning, "", "event=stls_injection rip=%s", c.peer.ip.c_str());
                    c.engine->tls_failed();
                } else {
                    c.stls_pending = true; // once "+OK Begin TLS" is sent
                }
            } else if constexpr (std::is_same_v<T, pop3::Commit>) {
                int32_t rc = c.maildrop.commit(a.deleted, a.retrieved);
                if (rc != MODPOP3D_OK)
                    log::writef(log::Err, "", "event=commit_failed user=%s status=%d",
                                log::quote(c.login_name).c_str(), rc);
                // The lock goes before "+OK": a client that reconnects as
                // soon as it reads the answer finds the maildrop free.
                c.maildrop.close();
                // Answered for an early close too: the engine then ends the
                // session (it sends no reply to a client that is gone).
                c.engine->commit_finished(
                    pop3::outcome_from_status(rc, pop3::StatusContext::commit));
            } else if constexpr (std::is_same_v<T, pop3::Close>) {
                c.closing = true;
                c.close_reason = reason_name(a.reason);
                c.maildrop.close(); // nothing more is read from it; free it now
            }
        },
        action);
}

void Server::start_auth(Connection &c, bool apop, std::string login, std::string secret,
                        std::string timestamp)
{
    std::string user = rewrite_login(login, settings_, c.listener.domain);
    c.login_name = user.empty() ? login : user;
    c.auth_pending = true;
    if (user.empty()) {
        // Refused outright, but answered like any failure, after the delay.
        std::fill(secret.begin(), secret.end(), '\0');
        deliver_auth(c, MODPOP3D_E_NOUSER);
        return;
    }
    set_user_facts(*c.session, user);
    c.session->set("method", c.method);
    auto session = c.session;
    uint64_t id = c.id;
    if (remote_) {
        // The auth process checks it: sent from here, answered on this loop.
        remote_->login_async(*session, apop, user, secret, timestamp,
                             [this, id](AuthAnswer a) { auth_answered(id, std::move(a)); });
        std::fill(secret.begin(), secret.end(), '\0');
        return;
    }
    auto result = std::make_shared<AuthAnswer>();
    pool_->submit(
        [this, session, result, apop, user, secret = std::move(secret),
         timestamp = std::move(timestamp)]() mutable {
            *result = auth_->login(*session, apop, user, secret, timestamp);
            std::fill(secret.begin(), secret.end(), '\0');
        },
        [this, id, result] { auth_answered(id, std::move(*result)); });
}

void Server::auth_answered(uint64_t id, AuthAnswer answer)
{
    auto it = connections_.find(id);
    if (it == connections_.end())
        return; // the client left while its login was checked
    it->second->auth_result = std::move(answer.result);
    deliver_auth(*it->second, answer.status);
}

void Server::deliver_auth(Connection &c, int32_t status)
{
    if (status == MODPOP3D_OK && c.auth_result.count("grant") != 0) {
        // A system user: the auth process granted a session process; the
        // master forks it and this worker lets go of the connection.
        std::string token = c.auth_result["grant"];
        if (hand_over(c, token))
            return;
        status = MODPOP3D_E_TEMP;
        c.auth_result.clear();
    }
    if (status == MODPOP3D_OK) {
        c.auth_pending = false;
        const std::string &canonical = c.auth_result["user"];
        if (!canonical.empty())
            set_user_facts(*c.session, canonical);
        if (auto h = c.auth_result.find("home"); h != c.auth_result.end())
            c.session->set("home", h->second);
        c.engine->auth_result(pop3::Outcome::ok, canonical);
        pump(c);
        return;
    }
    pop3::Outcome outcome = pop3::outcome_from_status(status, pop3::StatusContext::login);
    if (outcome == pop3::Outcome::auth_failed) {
        // Growing delays per client address (counted across workers), on
        // timers: no thread waits.
        uint64_t now = now_ms();
        uint32_t count = limits_->record_failure(c.peer.limit_key, now);
        log::writef(log::Notice, "",
                    "event=auth_failed user=%s rip=%s lip=%s method=%s failures=%u",
                    log::quote(c.login_name).c_str(), c.peer.ip.c_str(), c.local.ip.c_str(),
                    c.method, count);
        uint64_t delay =
            static_cast<uint64_t>(settings_.auth_failure_delay_ms) * static_cast<uint64_t>(count);
        if (delay > 0) {
            delayed_.push_back(Delayed{now + delay, c.id, status}); // answered by tick()
            c.auth_result.clear();
            return;
        }
    } else {
        log::writef(log::Warning, "", "event=auth_error user=%s rip=%s status=%d",
                    log::quote(c.login_name).c_str(), c.peer.ip.c_str(), status);
    }
    c.auth_pending = false;
    c.auth_result.clear();
    c.engine->auth_result(outcome);
    pump(c);
}

void Server::maildrop_failed(Connection &c, pop3::Outcome outcome, const std::string &why)
{
    if (c.login_in_progress && c.login_in_progress->claimed)
        limits_->unclaim_login(c.login_in_progress->claim); // this login did not happen
    c.login_in_progress.reset();
    log::writef(log::Warning, "", "event=maildrop_error user=%s rip=%s why=%s",
                log::quote(c.login_name).c_str(), c.peer.ip.c_str(), log::quote(why).c_str());
    c.maildrop.close();
    c.engine->maildrop_failed(outcome);
}

void Server::open_maildrop(Connection &c)
{
    c.login_in_progress.emplace();
    Connection::LoginInProgress &login = *c.login_in_progress;
    // The fast path serves every maildrop as this process's user: a result
    // naming another uid cannot be served here, and is refused rather than
    // opened with the wrong rights.
    if (auto uid = c.auth_result.find("uid");
        uid != c.auth_result.end() && getuid() != 0 && std::to_string(getuid()) != uid->second) {
        maildrop_failed(c, pop3::Outcome::perm_failure,
                        "uid " + uid->second + " differs from the server's uid " +
                            std::to_string(getuid()) + " (set mail-user)");
        return;
    }
    // LOGIN-DELAY (RFC 2449): the user's own value from the auth module, else
    // the server's; a login sooner than that after the last one is refused.
    login.delay_ms = static_cast<uint64_t>(settings_.login_delay_ms);
    if (auto d = c.auth_result.find("login_delay"); d != c.auth_result.end())
        login.delay_ms = std::stoull(d->second) * 1000; // result_set() checked it is decimal
    const std::string user = c.engine->user().empty() ? c.login_name : c.engine->user();
    // Claimed now (across workers), undone by maildrop_failed() if the login fails.
    if (login.delay_ms > 0) {
        if (!limits_->claim_login(user, now_ms(), login.delay_ms, login.claim)) {
            maildrop_failed(c, pop3::Outcome::login_delay,
                            "login within " + std::to_string(login.delay_ms / 1000) +
                                " s of the previous one");
            return;
        }
        login.claimed = true;
    }
    std::string spec =
        c.auth_result.count("mailbox") ? c.auth_result["mailbox"] : settings_.default_mailbox;
    // EXPIRE (RFC 2449): the user's own value from the auth module, else
    // the server's; enforced by the maildrop (expired mail is not listed
    // and is deleted at UPDATE).
    login.expire_days = settings_.expire_days;
    if (auto e = c.auth_result.find("expire"); e != c.auth_result.end())
        login.expire_days = e->second == "never" ? -1 : parse_days(e->second);
    const int64_t expire = login.expire_days >= 0 ? login.expire_days : -1;
    if (!maildrop_on_pool_) {
        MaildropOpening done;
        open_and_list(c.maildrop, modules_, *c.session, spec, expire, done);
        maildrop_listed(c, std::move(done));
        return;
    }
    // Opening and listing a maildrop reads its whole directory or file
    // (seconds for 100,000 messages): on the pool, never on this loop. The
    // maildrop is made on the thread and taken over when it is listed; a
    // client that left meanwhile finds it closed by its last owner.
    auto opening = std::make_shared<MaildropOpening>();
    auto maildrop = std::make_shared<Maildrop>();
    auto session = c.session;
    const uint64_t id = c.id;
    pool_->submit(
        [this, opening, maildrop, session, spec, expire] {
            open_and_list(*maildrop, modules_, *session, spec, expire, *opening);
        },
        [this, id, opening, maildrop] {
            auto it = connections_.find(id);
            if (it == connections_.end() || !it->second->login_in_progress)
                return; // gone: destroy() undid the claim; `maildrop` closes here
            Connection &conn = *it->second;
            if (conn.closing) {
                if (conn.login_in_progress->claimed)
                    limits_->unclaim_login(conn.login_in_progress->claim);
                conn.login_in_progress.reset();
                return;
            }
            conn.maildrop.take(*maildrop);
            maildrop_listed(conn, std::move(*opening));
            if (connections_.count(id) != 0)
                pump(conn);
        });
}

void Server::open_and_list(Maildrop &maildrop, const modload::ModuleSet &modules,
                           modpop3d_session &session, const std::string &spec, int64_t expire_days,
                           MaildropOpening &out)
{
    out.rc = maildrop.open(modules, session, spec, out.why);
    if (out.rc != MODPOP3D_OK)
        return;
    out.opened = true;
    out.rc = maildrop.list(out.messages, expire_days, static_cast<int64_t>(time(nullptr)));
    if (out.rc != MODPOP3D_OK)
        out.why = "cannot list " + maildrop.location();
}

void Server::maildrop_listed(Connection &c, MaildropOpening done)
{
    Connection::LoginInProgress &login = *c.login_in_progress;
    if (done.rc == MODPOP3D_E_LOCKED && !done.opened) {
        // Held by another session (often one that is finishing): try again
        // from tick() until lock-wait, never sleeping on this loop.
        const uint64_t now = now_ms();
        if (c.lock_wait_until_ms == 0)
            c.lock_wait_until_ms = now + static_cast<uint64_t>(settings_.lock_wait_ms);
        if (now < c.lock_wait_until_ms) {
            if (login.claimed)
                limits_->unclaim_login(login.claim);
            c.login_in_progress.reset();
            c.maildrop.close();
            lock_retries_.push_back(c.id);
            return;
        }
    }
    c.lock_wait_until_ms = 0;
    if (done.rc != MODPOP3D_OK) {
        maildrop_failed(c,
                        done.opened
                            ? pop3::outcome_from_status(done.rc, pop3::StatusContext::maildrop)
                        : done.rc == MODPOP3D_E_NOENT || done.rc == MODPOP3D_E_INVAL
                            ? pop3::Outcome::perm_failure
                            : pop3::outcome_from_status(done.rc, pop3::StatusContext::maildrop),
                        done.why);
        return;
    }
    login.messages = std::move(done.messages);
    for (const auto &m : login.messages)
        login.octets += m.size;
    if (!auth_->has_hooks(MODPOP3D_EV_LOGIN)) {
        finish_login(c, MODPOP3D_OK);
        return;
    }
    run_login_hooks(c);
}

void Server::run_login_hooks(Connection &c)
{
    const Connection::LoginInProgress &login = *c.login_in_progress;
    modpop3d_event_info info{};
    info.struct_size = sizeof info;
    info.event = MODPOP3D_EV_LOGIN;
    info.messages = static_cast<uint32_t>(login.messages.size());
    info.octets = login.octets;
    info.mailbox_path = c.maildrop.location().c_str();
    const uint64_t id = c.id;
    if (remote_) {
        // Sent from this loop, answered on it: a hook that hangs holds up
        // only this login, up to hook-timeout.
        remote_->hooks_async(MODPOP3D_EV_LOGIN, *c.session, info, settings_.hook_timeout_ms,
                             [this, id](AuthAnswer a) { login_hooks_answered(id, a.status); });
        return;
    }
    // In-process auth (inetd mode without root): the hooks run on the pool.
    auto session = c.session;
    auto path = std::make_shared<std::string>(c.maildrop.location());
    auto verdict = std::make_shared<int32_t>(MODPOP3D_E_TEMP);
    pool_->submit(
        [this, session, info, path, verdict]() mutable {
            info.mailbox_path = path->c_str();
            *verdict = auth_->run_hooks(MODPOP3D_EV_LOGIN, *session, info);
        },
        [this, id, verdict] { login_hooks_answered(id, *verdict); });
}

void Server::login_hooks_answered(uint64_t id, int32_t verdict)
{
    auto it = connections_.find(id);
    if (it == connections_.end() || !it->second->login_in_progress)
        return; // the client left meanwhile (destroy() undid the claim)
    Connection &c = *it->second;
    if (c.closing) {
        // Dropped (a timeout, a drain) while the hooks ran: no login.
        if (c.login_in_progress->claimed)
            limits_->unclaim_login(c.login_in_progress->claim);
        c.login_in_progress.reset();
        c.maildrop.close();
        return;
    }
    finish_login(c, verdict);
    pump(*it->second);
}

void Server::finish_login(Connection &c, int32_t verdict)
{
    if (verdict != MODPOP3D_OK) {
        maildrop_failed(c,
                        verdict == MODPOP3D_E_TEMP ? pop3::Outcome::temp_failure
                                                   : pop3::Outcome::auth_failed,
                        verdict == MODPOP3D_E_TEMP ? "the LOGIN hooks gave no verdict"
                                                   : "a hook refused the login");
        return;
    }
    Connection::LoginInProgress login = std::move(*c.login_in_progress);
    c.login_in_progress.reset();
    std::size_t count = login.messages.size();
    pop3::UserCapabilities user_caps;
    if (login.delay_ms > 0)
        user_caps.login_delay = static_cast<uint32_t>(login.delay_ms / 1000);
    if (login.expire_days >= -1 && settings_.expire_days >= -1)
        user_caps.expire = login.expire_days == -1
                               ? pop3::Expire{true, 0}
                               : pop3::Expire{false, static_cast<uint32_t>(login.expire_days)};
    if (!c.engine->maildrop_opened(std::move(login.messages), user_caps)) {
        if (login.claimed)
            limits_->unclaim_login(login.claim);
        c.maildrop.close();
        log::writef(log::Err, "", "event=maildrop_error user=%s why=\"invalid UIDL\"",
                    log::quote(c.login_name).c_str());
        return;
    }
    c.logged_in = true;
    c.login_ms = now_ms();
    log::writef(log::Info, "",
                "event=login user=%s rip=%s lip=%s tls=%d method=%s messages=%zu octets=%llu "
                "mailbox=%s",
                log::quote(c.engine->user()).c_str(), c.peer.ip.c_str(), c.local.ip.c_str(),
                c.tls || c.tls_relayed ? 1 : 0, c.method, count,
                static_cast<unsigned long long>(login.octets),
                log::quote(c.maildrop.location()).c_str());
}

namespace
{

struct SinkContext {
    Connection *c;
    bool paused = false;
};

int32_t sink_write(void *ctx, const void *data, size_t len) noexcept
{
    auto *sc = static_cast<SinkContext *>(ctx);
    Connection &c = *sc->c;
    auto &st = *c.streaming;
    try {
        if (!st.started) {
            st.started = true;
            c.engine->retrieve_started();
            c.out += c.engine->take_output();
        }
        st.offset += len;
        if (st.encoder.encode(std::string_view(static_cast<const char *>(data), len), c.out))
            return MODPOP3D_STOP;
    } catch (...) {
        return MODPOP3D_E_NOMEM;
    }
    if (c.pending_out() >= stream_high_water) {
        sc->paused = true;
        return MODPOP3D_PAUSE;
    }
    return MODPOP3D_OK;
}

} // namespace

void Server::stream(Connection &c)
{
    auto &st = *c.streaming;
    SinkContext sc{&c};
    modpop3d_sink sink{sizeof(modpop3d_sink), &sc, sink_write};
    int32_t rc = c.maildrop.retrieve(st.request.index, st.offset, sink);
    if (rc == MODPOP3D_PAUSE)
        return; // resumed by pump() once the client has read enough
    if (rc == MODPOP3D_OK) {
        if (!st.started) {
            c.engine->retrieve_started();
            c.out += c.engine->take_output();
        }
        st.encoder.finish(c.out);
        c.streaming.reset();
        c.engine->retrieve_finished(pop3::Outcome::ok);
        c.last_activity_ms = now_ms();
        return;
    }
    log::writef(log::Warning, "", "event=retrieve_failed user=%s message=%u status=%d",
                log::quote(c.login_name).c_str(), st.request.number, rc);
    c.streaming.reset();
    c.engine->retrieve_finished(pop3::outcome_from_status(rc, pop3::StatusContext::message));
}

void Server::flush(Connection &c)
{
    if (c.handshaking)
        return; // the greeting of an implicit-TLS connection waits for the handshake
    c.write_wants_read = false;
    // The client is gone: nothing more can be sent.
    auto gone = [&] {
        if (c.relay_fd >= 0) {
            c.hard_close = true;
            c.closing = true;
            c.out.clear();
            c.out_pos = 0;
            return;
        }
        c.engine->connection_lost();
        c.hard_close = true;
        c.closing = true;
        c.out.clear();
        c.out_pos = 0;
        c.streaming.reset();
        // Let the engine queue what a drop implies (an early commit, Close).
        while (auto a = c.engine->next_action())
            handle_action(c, std::move(*a));
    };
    const uint64_t tls_sent_before = c.tls ? c.tls->sent() : 0;
    while (c.pending_out() > 0) {
        if (c.tls) {
            std::size_t put = 0;
            tls::Io r = c.tls->write(c.out.data() + c.out_pos, c.pending_out(), put);
            if (r == tls::Io::ok) {
                c.out_pos += put;
                continue;
            }
            if (r == tls::Io::want_write)
                break;
            if (r == tls::Io::want_read) {
                c.write_wants_read = true;
                break;
            }
        } else {
            ssize_t n = send(c.fd, c.out.data() + c.out_pos, c.pending_out(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out_pos += static_cast<std::size_t>(n);
                c.last_write_ms = now_ms();
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
        }
        gone();
        return;
    }
    if (c.tls) {
        // All TLS records of this round leave in one write (tls::Stream).
        if (c.tls->unsent() > 0 && c.tls->send_pending() == tls::Io::error) {
            gone();
            return;
        }
        if (c.tls->sent() != tls_sent_before)
            c.last_write_ms = now_ms();
    }
    if (c.out_pos == c.out.size()) {
        c.out.clear();
        c.out_pos = 0;
    } else if (c.out_pos > 65536 && c.out_pos >= c.pending_out()) {
        // Move the unsent tail to the front only when it is no longer than
        // what was sent: a slow reader of a big message then costs at most
        // one extra copy per byte, and `out` stays under twice its pending.
        c.out.erase(0, c.out_pos);
        c.out_pos = 0;
    }
}

void Server::update_interest(Connection &c)
{
    uint32_t want = 0;
    if (!c.closing && c.engine->wants_input() && !c.streaming)
        want |= EPOLLIN;
    if (c.write_wants_read)
        want |= EPOLLIN;
    if (c.read_wants_write)
        want |= EPOLLOUT;
    // A paused message resumes when the socket is writable, even when all
    // that was encoded so far has already been sent.
    if (c.unsent() > 0 || c.streaming)
        want |= EPOLLOUT;
    set_interest(epoll_, c.fd, c.id, c.interest, want);
}

void Server::destroy(Connection &c)
{
    if (c.logged_in) {
        const pop3::Stats &s = c.engine->stats();
        uint64_t duration = now_ms() - c.login_ms;
        log::writef(log::Info, "",
                    "event=logout user=%s rip=%s lip=%s tls=%d method=%s reason=%s retrieved=%u "
                    "retrieved_octets=%llu deleted=%u deleted_octets=%llu expired=%u "
                    "duration_ms=%llu",
                    log::quote(c.engine->user()).c_str(), c.peer.ip.c_str(), c.local.ip.c_str(),
                    c.tls || c.tls_relayed ? 1 : 0, c.method, c.close_reason, s.retrieved_messages,
                    static_cast<unsigned long long>(s.retrieved_octets), s.deleted_messages,
                    static_cast<unsigned long long>(s.deleted_octets), c.maildrop.expired(),
                    static_cast<unsigned long long>(duration));
        modpop3d_event_info info{};
        info.struct_size = sizeof info;
        info.event = MODPOP3D_EV_LOGOUT;
        info.messages = s.maildrop_messages;
        info.octets = s.maildrop_octets;
        info.retrieved = s.retrieved_messages;
        info.retrieved_octets = s.retrieved_octets;
        info.deleted = s.deleted_messages;
        info.deleted_octets = s.deleted_octets;
        info.duration_usec = duration * 1000;
        info.mailbox_path = c.maildrop.location().c_str();
        auth_->run_hooks(MODPOP3D_EV_LOGOUT, *c.session, info);
    }
    if (c.login_in_progress && c.login_in_progress->claimed)
        limits_->unclaim_login(c.login_in_progress->claim); // left before the hooks' verdict
    c.maildrop.close();                                     // releases the lock; deletes nothing
    if (c.tls && !c.handshaking && !c.hard_close)
        c.tls->shutdown(); // close_notify, best effort
    c.tls.reset();
    if (c.relay_fd >= 0) {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, c.relay_fd, nullptr);
        close(c.relay_fd);
    }
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    if (c.counted)
        limits_->release(slot_, c.peer.limit_key);
    connections_.erase(c.id);
}

void Server::tick()
{
    uint64_t now = now_ms();
    if (remote_)
        remote_->expire(); // logins the auth process has not answered in time
    // Logins waiting for a locked maildrop (open_maildrop): one more try.
    std::vector<uint64_t> retry;
    retry.swap(lock_retries_);
    for (uint64_t id : retry) {
        auto it = connections_.find(id);
        if (it == connections_.end() || it->second->closing)
            continue; // the client left meanwhile
        open_maildrop(*it->second);
        if (connections_.count(id) != 0)
            pump(*it->second);
    }
    // Delayed answers to failed logins.
    std::vector<Delayed> due;
    auto split = std::partition(delayed_.begin(), delayed_.end(),
                                [&](const Delayed &d) { return d.due_ms > now; });
    due.assign(split, delayed_.end());
    delayed_.erase(split, delayed_.end());
    for (const auto &d : due) {
        auto it = connections_.find(d.id);
        if (it == connections_.end())
            continue;
        Connection &c = *it->second;
        c.auth_pending = false;
        c.engine->auth_result(pop3::Outcome::auth_failed);
        pump(c);
    }
    std::vector<uint64_t> expired, stalled, overtime;
    for (auto &[id, cp] : connections_) {
        Connection &c = *cp;
        if (c.closing)
            continue;
        if (c.relay_fd >= 0) {
            // The session process keeps its own timers; the relay only
            // drops a client that stopped reading.
            if (c.unsent() > 0 &&
                now - c.last_write_ms > static_cast<uint64_t>(settings_.timeout_idle_ms))
                stalled.push_back(id);
            continue;
        }
        if (c.handshaking) {
            if (now > c.handshake_deadline_ms)
                expired.push_back(id);
            continue;
        }
        if (c.proxy_pending) {
            if (now - c.accepted_ms > static_cast<uint64_t>(settings_.timeout_preauth_ms))
                expired.push_back(id);
            continue;
        }
        if (c.unsent() > 0 &&
            now - c.last_write_ms > static_cast<uint64_t>(settings_.timeout_idle_ms)) {
            stalled.push_back(id);
        } else if (!c.logged_in && !c.auth_pending && c.lock_wait_until_ms == 0 &&
                   now - c.last_activity_ms > static_cast<uint64_t>(settings_.timeout_preauth_ms)) {
            expired.push_back(id);
        } else if (c.logged_in && !c.streaming &&
                   now - c.last_activity_ms > static_cast<uint64_t>(settings_.timeout_idle_ms)) {
            expired.push_back(id);
        } else if (c.logged_in && settings_.max_session_time_ms > 0 &&
                   now - c.login_ms > static_cast<uint64_t>(settings_.max_session_time_ms)) {
            overtime.push_back(id);
        } else if (c.logged_in && now - c.last_activity_ms > 60000 && (now / 1000) % 60 == 0) {
            c.maildrop.keepalive();
        }
    }
    for (uint64_t id : expired) {
        auto it = connections_.find(id);
        if (it == connections_.end())
            continue;
        if (it->second->proxy_pending) {
            log::writef(log::Notice, "", "event=proxy_failed rip=%s why=\"no header in time\"",
                        it->second->peer.ip.c_str());
            it->second->close_reason = "proxy_failed";
            destroy(*it->second);
            continue;
        }
        if (it->second->handshaking) {
            log::writef(log::Notice, "", "event=tls_failed rip=%s reason=\"handshake timeout\"",
                        it->second->peer.ip.c_str());
            it->second->close_reason = "tls_timeout";
            destroy(*it->second);
            continue;
        }
        it->second->engine->idle_timeout();
        pump(*it->second);
    }
    for (uint64_t id : stalled) {
        auto it = connections_.find(id);
        if (it == connections_.end())
            continue;
        Connection &c = *it->second;
        if (c.relay_fd < 0)
            c.engine->connection_lost();
        c.hard_close = true;
        c.closing = true;
        c.close_reason = "output_stalled";
        destroy(c);
    }
    for (uint64_t id : overtime) {
        auto it = connections_.find(id);
        if (it == connections_.end())
            continue;
        // max-session-time: a drop, as if the client had gone (deletions
        // only with commit-on-early-close).
        Connection &c = *it->second;
        log::writef(log::Notice, "", "event=session_time_limit user=%s rip=%s",
                    log::quote(c.login_name).c_str(), c.peer.ip.c_str());
        c.engine->connection_lost();
        while (auto a = c.engine->next_action())
            handle_action(c, std::move(*a));
        if (connections_.count(id) == 0)
            continue;
        c.hard_close = true;
        c.closing = true;
        c.close_reason = "session_time_limit";
        destroy(c);
    }
}

bool Server::hand_over(Connection &c, const std::string &token)
{
    auto fail = [&](const char *why) {
        log::writef(log::Err, "", "event=handover_failed user=%s rip=%s why=%s",
                    log::quote(c.login_name).c_str(), c.peer.ip.c_str(), log::quote(why).c_str());
        return false;
    };
    if (control_socket_ < 0)
        return fail("system users' sessions need the master (inetd mode not started as root)");
    if (!c.out.empty() && c.pending_out() > 0)
        return fail("unsent output"); // cannot happen: the engine awaits auth
    std::optional<std::string> pending = c.engine->take_pending_input();
    if (!pending)
        return fail("the session is not at a login");
    ipc::SessionHandover h;
    h.token = token;
    h.tls = c.tls != nullptr;
    h.method = c.method;
    h.login = c.login_name;
    h.pending = std::move(*pending);
    h.peer_ip = c.peer.ip;
    h.peer_port = c.peer.port;
    h.local_ip = c.local.ip;
    h.local_port = c.local.port;
    if (const std::string *l = c.session->get("listener"))
        h.listener = *l;
    for (const auto &[k, v] : c.session->facts)
        h.facts[k] = v;
    int pass_fd = c.fd;
    int pair[2] = {-1, -1};
    if (c.tls) {
        // The keys stay here: the session process gets a plaintext socket
        // and this worker relays.
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0)
            return fail(std::strerror(errno));
        pass_fd = pair[1];
    }
    ipc::Message m = h.to_message();
    // Queued with a duplicate of the descriptor when the master is behind.
    ipc::Io r = control_.send(m, {pass_fd});
    m.wipe();
    if (r != ipc::Io::ok) {
        if (pair[0] >= 0) {
            close(pair[0]);
            close(pair[1]);
        }
        c.engine->feed(h.pending); // keep serving it here (answered TEMP)
        return fail("cannot reach the master");
    }
    c.auth_pending = false;
    c.auth_result.clear();
    if (!c.tls) {
        c.handed_over = true;
        c.close_reason = "handed_over";
        destroy(c); // our copy only: the session process has the socket
        return true;
    }
    close(pair[1]);
    c.relay_fd = pair[0];
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c.id | relay_tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.relay_fd, &ev);
    c.relay_interest = EPOLLIN;
    relay(c, EPOLLIN, false);
    return true;
}

// relay - move bytes between a handed-over TLS client and its session
// process, with a bound on what is held for either side.
void Server::relay(Connection &c, uint32_t events, bool from_session)
{
    (void)events;
    (void)from_session;
    uint64_t id = c.id;
    char buf[read_chunk];
    // Client -> session process.
    c.read_wants_write = false;
    for (int i = 0; i < 4 && !c.client_eof && !c.closing && c.relay_out.size() < relay_high_water;
         ++i) {
        std::size_t got = 0;
        tls::Io r = c.tls->read(buf, sizeof buf, got);
        if (r == tls::Io::ok) {
            c.relay_out.append(buf, got);
            continue;
        }
        if (r == tls::Io::want_write)
            c.read_wants_write = true;
        else if (r == tls::Io::closed)
            c.client_eof = true;
        else if (r != tls::Io::want_read) {
            c.hard_close = true;
            c.closing = true;
        }
        break;
    }
    while (!c.relay_out.empty()) {
        ssize_t n = send(c.relay_fd, c.relay_out.data(), c.relay_out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            c.relay_out.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        c.closing = true; // the session process is gone
        c.relay_out.clear();
        break;
    }
    if (c.client_eof && c.relay_out.empty())
        shutdown(c.relay_fd, SHUT_WR); // the session sees the client's EOF
    // Session process -> client.
    bool session_done = false;
    while (c.pending_out() < relay_high_water) {
        ssize_t n = recv(c.relay_fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.out.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        session_done = true; // it closed: its last bytes are in `out`
        break;
    }
    flush(c);
    if (connections_.count(id) == 0)
        return;
    if ((session_done || c.closing) && (c.unsent() == 0 || c.hard_close)) {
        c.close_reason = "handed_over";
        destroy(c);
        return;
    }
    if (session_done)
        c.closing = true;
    if (!c.client_eof && !c.closing && c.relay_out.size() < relay_high_water && c.tls->buffered())
        tls_ready_.push_back(c.id);
    uint32_t want = 0;
    if (!c.client_eof && !c.closing && c.relay_out.size() < relay_high_water)
        want |= EPOLLIN;
    if (c.write_wants_read)
        want |= EPOLLIN;
    if (c.unsent() > 0 || c.read_wants_write)
        want |= EPOLLOUT;
    set_interest(epoll_, c.fd, c.id, c.interest, want);
    uint32_t rwant = 0;
    if (!c.closing && c.pending_out() < relay_high_water)
        rwant |= EPOLLIN;
    if (!c.relay_out.empty())
        rwant |= EPOLLOUT;
    set_interest(epoll_, c.relay_fd, c.id | relay_tag, c.relay_interest, rwant);
}

void Server::serve_handover(ipc::SessionHandover handover, ipc::SessionGrant grant,
                            ipc::SharedLimits *limits, int auth_socket)
{
    auth_socket_ = auth_socket;
    handover_ = std::make_unique<ipc::SessionHandover>(std::move(handover));
    grant_ = std::make_unique<ipc::SessionGrant>(std::move(grant));
    limits_ = limits;
}

void Server::adopt_handover()
{
    ipc::SessionHandover &h = *handover_;
    fcntl(h.fd, F_SETFL, fcntl(h.fd, F_GETFL) | O_NONBLOCK);
    auto c = std::make_unique<Connection>();
    c->id = next_id_++;
    c->fd = h.fd;
    h.fd = -1;
    c->peer = net::endpoint_of_text(h.peer_ip, h.peer_port);
    c->local = net::endpoint_of_text(h.local_ip, h.local_port);
    c->listener.tls = address::TlsMode::none;
    c->counted = false; // the master counts it (ipc::SharedLimits::session_slot)
    c->tls_relayed = h.tls;
    c->accepted_ms = c->last_activity_ms = c->last_write_ms = now_ms();
    for (const auto &[k, v] : h.facts)
        c->session->set(k, v);
    // What the master checked, not what the worker said.
    c->auth_result = grant_->result;
    c->auth_result.erase("grant");
    set_user_facts(*c->session, grant_->user);
    if (auto home = c->auth_result.find("home"); home != c->auth_result.end())
        c->session->set("home", home->second);
    c->login_name = h.login;
    pop3::LoginMethod method = pop3::LoginMethod::user_pass;
    c->method = "USER";
    if (h.method == "APOP") {
        method = pop3::LoginMethod::apop;
        c->method = "APOP";
    } else if (h.method == "PLAIN") {
        method = pop3::LoginMethod::sasl_plain;
        c->method = "PLAIN";
    } else if (h.method == "LOGIN") {
        method = pop3::LoginMethod::sasl_login;
        c->method = "LOGIN";
    }
    pop3::ConnectionFacts facts = facts_for(*c, h.tls);
    c->engine = std::make_unique<pop3::Engine>(
        pop3::Engine::resume(engine_config(), facts, grant_->user, method, h.pending));
    std::fill(h.pending.begin(), h.pending.end(), '\0');
    Connection &ref = *c;
    connections_[c->id] = std::move(c);
    epoll_event ev{};
    ev.data.u64 = ref.id;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, ref.fd, &ev);
    pump(ref);
}

} // namespace modpop3d::daemon
