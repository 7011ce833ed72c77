// master.cpp - the master process: generations of configuration, modules,
// listeners and workers; supervision, reload and drain (see master.hpp).
#include "process/master.hpp"

#include "config/core_config.hpp"
#include "ipc/message.hpp"
#include "ipc/outbox.hpp"
#include "ipc/shared_limits.hpp"
#include "modload/loader.hpp"
#include "modload/module_set.hpp"
#include "net/listener.hpp"
#include "net/systemd.hpp"
#include "password/password.hpp"
#include "password/server_secret.hpp"
#include "process/auth_process.hpp"
#include "process/pidfile.hpp"
#include "process/privileges.hpp"
#include "process/session_process.hpp"
#include "tls/tls_setup.hpp"
#include "util/log.hpp"
#include "worker/server.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fcntl.h>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <pwd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace modpop3d::daemon
{

namespace
{

constexpr uint64_t quick_exit_ms = 10000;  // a worker dying sooner counts as a crash loop
constexpr uint64_t backoff_first_ms = 250; // first delayed restart
constexpr uint64_t backoff_max_ms = 30000; // restarts never wait longer
constexpr uint64_t kill_grace_ms = 5000;   // after shutdown-timeout, before SIGKILL
constexpr int worker_setup_failed = 3;     // a worker's exit status when it could not start

uint64_t now_ms()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// The master's signals; workers inherit the mask (Server's signalfd takes
// TERM, INT, HUP and USR1 there) and unblock SIGCHLD.
sigset_t master_signals()
{
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1})
        sigaddset(&mask, s);
    return mask;
}

std::string absolute(const std::string &path)
{
    if (path.empty() || path[0] == '/')
        return path;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr)
        return path;
    return std::string(cwd) + "/" + path;
}

struct Generation;

// quiet_stderr - inetd mode without -e, once the configuration is read:
// when standard error is the client's socket (as inetd passes it), put
// /dev/null there, so that no process but the login worker holds the
// client and no stray message reaches it.
void quiet_stderr(int client)
{
    struct stat se, sc;
    if (fstat(STDERR_FILENO, &se) != 0 || fstat(client, &sc) != 0 || se.st_dev != sc.st_dev ||
        se.st_ino != sc.st_ino)
        return;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDERR_FILENO);
        close(null);
    }
}

// tell_temp_failure - the answer to a login whose session cannot start.
void tell_temp_failure(int client)
{
    static const char msg[] = "-ERR [SYS/TEMP] Cannot start the session, try again later\r\n";
    ssize_t ignored = send(client, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
}

struct Worker {
    pid_t pid = 0;
    unsigned slot = 0;
    std::size_t position = 0; // index in the generation's workers
    Generation *gen = nullptr;
    int ready_fd = -1; // read end of the worker's "serving" pipe until it reports
    bool ready = false;
    uint64_t started_ms = 0;
};

// One configuration with its modules, listeners and workers.
struct Generation {
    unsigned id = 0;
    config::Configuration conf;
    std::unique_ptr<modload::Loader> loader;
    std::unique_ptr<modload::ModuleSet> modules;
    std::vector<net::Listener> listeners; // fds owned by Master::bound_
    // One per listener (null: no TLS), made by the master as root so that
    // every worker shares them: keys, session cache and ticket keys alike
    // (a ticket from one worker resumes on another).
    std::vector<std::shared_ptr<tls::Context>> tls;
    std::string listener_names;
    int64_t size = 0;      // workers wanted
    bool active = false;   // serving and supervised (restarted on exit)
    bool retiring = false; // replaced by a reload or stopping: never restarted
    bool announced = false;
    struct Position {
        bool running = false;
        unsigned quick_exits = 0;
        uint64_t restart_due_ms = 0; // 0: no restart pending
    };
    std::vector<Position> positions;
    std::size_t alive = 0;

    // The auth process of this generation and its socketpairs, made before
    // any of its processes is forked and kept by the master for the
    // generation's life, so that a restarted worker or auth process takes
    // over the same channel (SOCK_SEQPACKET: whole messages only).
    struct Pair {
        int child = -1; // the worker's end
        int peer = -1;  // the auth process's end (auth) or the master's (control)
    };
    std::vector<Pair> auth_channels;        // per position: worker <-> auth
    std::vector<Pair> control;              // per position: worker -> master (session hand-over)
    int grant_master = -1, grant_auth = -1; // auth -> master (grants)
    // Master -> auth on grant_master (session processes' hook channels),
    // waiting for room rather than dropped when the auth process is behind.
    std::unique_ptr<ipc::Outbox> to_auth = std::make_unique<ipc::Outbox>();
    pid_t auth_pid = 0;
    unsigned auth_quick_exits = 0;
    uint64_t auth_started_ms = 0;
    uint64_t auth_restart_due_ms = 0; // 0: none pending

    std::vector<int> channel_fds() const
    {
        std::vector<int> fds;
        for (const auto &p : auth_channels)
            fds.insert(fds.end(), {p.child, p.peer});
        for (const auto &p : control)
            fds.insert(fds.end(), {p.child, p.peer});
        fds.insert(fds.end(), {grant_master, grant_auth});
        return fds;
    }
    void close_channels()
    {
        for (int fd : channel_fds())
            if (fd >= 0)
                close(fd);
        auth_channels.clear();
        control.clear();
        grant_master = grant_auth = -1;
        to_auth->clear();
    }
};

// A grant the auth process made for a system user's session, until the
// worker hands the connection over (or it expires unused).
struct Grant {
    Generation *gen = nullptr;
    std::size_t slot = 0;
    std::string user;
    uid_t uid = 0;
    gid_t gid = 0;
    std::map<std::string, std::string> result;
    uint64_t expires_ms = 0;
};
constexpr uint64_t grant_lifetime_ms = 30000;
constexpr std::size_t max_grants = 4096;

class Master
{
  public:
    explicit Master(MasterOptions options)
        : opt_(std::move(options)), inetd_(opt_.inetd_fd >= 0), client_fd_(opt_.inetd_fd)
    {
    }
    ~Master();
    int run();

  private:
    std::unique_ptr<Generation> load(config::Diagnostics &diags);
    bool bind(Generation &g, std::string &why);
    void close_unused_listeners();
    bool spawn(Generation &g, std::size_t position);
    bool make_channels(Generation &g);
    bool spawn_auth(Generation &g);
    void close_foreign_fds(const std::vector<int> &keep);
    // close_master_fds - in a child: the master's loop, the workers' report
    // pipes, the start-up report pipe, and every listener but those of
    // `listeners_of` (a worker keeps its generation's; a removed address
    // must stop answering).
    void close_master_fds(const Generation *listeners_of);
    void on_grant(Generation &g);
    // watch_writable - whether a channel's writability wakes the loop.
    void watch_writable(int fd, bool writable);
    void on_control(Generation &g, std::size_t position);
    void spawn_session(Generation &g, Grant grant, ipc::SessionHandover handover);
    [[noreturn]] void worker_main(Generation &g, std::size_t position, unsigned slot, int ready_fd);
    void reap();
    void on_exit(Worker w, int status);
    void on_auth_exit(Generation &g, pid_t pid, int status);
    void on_ready(int fd);
    void generation_ready(Generation &g);
    void reload();
    void abandon_pending();
    void begin_stop(int signo);
    void drop_finished_generations();
    void restart_due();
    int next_timeout() const;
    void init_log(const config::CoreSettings &s);
    // inetd mode: the one worker or the one session ended.
    void inetd_worker_exited(Worker w, int status);
    void inetd_session_exited(int status);
    // lifecycle - the level of start/stop lines: news for a daemon, noise
    // for each inetd connection.
    int lifecycle() const { return inetd_ ? log::Debug : log::Info; }

    MasterOptions opt_;
    const bool inetd_;   // inetd mode: one connection, one worker, then exit
    int client_fd_ = -1; // inetd mode: the connection, until the worker has it
    bool inetd_failed_ = false;
    std::list<std::unique_ptr<Generation>> gens_;
    Generation *current_ = nullptr; // the active generation
    Generation *pending_ = nullptr; // a reload's generation, until its workers serve
    unsigned next_gen_ = 1;
    std::map<std::string, net::Listener> bound_; // listen text -> socket
    bool systemd_ = false;
    std::map<pid_t, Worker> workers_;
    std::map<pid_t, Generation *> auths_; // auth processes
    struct SessionProcess {
        std::string user;
        std::string limit_key; // counted in session_slot; empty: a TLS relay (the worker counts it)
    };
    std::map<pid_t, SessionProcess> sessions_; // system users' session processes
    struct Endpoint {
        Generation *gen;
        bool grant;           // the grant channel, else a control channel
        std::size_t position; // control: the worker position
    };
    std::map<int, Endpoint> channel_of_; // master-side channel fds in the epoll set
    std::map<std::string, Grant> grants_;
    std::vector<bool> slot_used_ = [] {
        std::vector<bool> used(ipc::SharedLimits::max_slots, false);
        used[ipc::SharedLimits::session_slot] = true; // the master's
        return used;
    }();
    std::unique_ptr<ipc::SharedLimits> limits_;
    int epoll_ = -1, signal_fd_ = -1;
    pid_t master_pid_ = 0;
    bool stopping_ = false;
    uint64_t kill_at_ms_ = 0;
    bool started_ = false;      // the first generation served
    bool start_failed_ = false; // ... or could not: exit 1
    Detached detached_;
    PidFile pid_file_;
};

Master::~Master()
{
    for (auto &[text, l] : bound_)
        close(l.fd);
    if (signal_fd_ >= 0)
        close(signal_fd_);
    if (epoll_ >= 0)
        close(epoll_);
    if (client_fd_ >= 0)
        close(client_fd_);
}

void Master::init_log(const config::CoreSettings &s)
{
    // In inetd mode standard error may be the client's socket: only -e
    // logs there.
    bool to_stderr = !opt_.detach && (opt_.log_to_stderr || (!inetd_ && s.log_target == "stderr"));
    log::init(to_stderr ? log::Target::Stderr : log::Target::Syslog,
              std::max(log::level_from_name(s.log_level), log::Err), "modpop3d", s.log_facility);
}

// load - read and check the configuration, load the modules and make
// their instances: everything a generation needs except listeners and
// workers. nullptr with `diags` filled on any error.
std::unique_ptr<Generation> Master::load(config::Diagnostics &diags)
{
    auto g = std::make_unique<Generation>();
    bool ok = config::load_configuration(opt_.config_file, g->conf, diags);
    g->loader = std::make_unique<modload::Loader>(g->conf.core.module_dir);
    g->modules = std::make_unique<modload::ModuleSet>();
    ok = g->modules->configure(g->conf.text, *g->loader, diags) && ok;
    if (ok)
        ok = g->modules->instantiate(diags);
    std::string why, key;
    if (ok && !check_privileges(g->conf.core, why, &key)) {
        diags.error(g->conf.global.location_of(key), why);
        ok = false;
    }
    if (!ok)
        return nullptr;
    g->size = inetd_ ? 1 : config::worker_count(g->conf.core);
    g->positions.resize(static_cast<std::size_t>(g->size));
    return g;
}

// systemd_options - a socket systemd passed takes the options of the
// configured listener on the same port (TLS, plaintext policy, domain).
void systemd_options(const config::CoreSettings &s, address::ListenSpec &spec)
{
    for (const auto &configured : s.listeners)
        if (configured.port == spec.port)
            spec.options = configured.options;
    // POP3S's port (RFC 8314) is implicit TLS unless a listen: key says
    // otherwise, as modpop3d.socket passes 110 and 995 alike.
    if (spec.options.tls == address::TlsMode::unset && spec.port == 995 &&
        !s.tls_certificate.empty())
        spec.options.tls = address::TlsMode::implicit;
    if (spec.options.tls == address::TlsMode::unset)
        spec.options.tls =
            s.tls_certificate.empty() ? address::TlsMode::none : address::TlsMode::stls;
}

// bind - the generation's listeners: sockets already bound for the same
// "listen:" text are shared, new ones are bound now (as root). Systemd's
// sockets, when activated, replace the listen: keys for good.
bool Master::bind(Generation &g, std::string &why)
{
    std::vector<std::string> fresh;
    if (systemd_) {
        for (auto &[text, l] : bound_)
            g.listeners.push_back(l);
    } else {
        for (const auto &spec : g.conf.core.listeners) {
            const std::string &text = spec.text;
            if (auto it = bound_.find(text); it != bound_.end()) {
                net::Listener l = it->second;
                l.spec = spec; // the same socket; this generation's options
                g.listeners.push_back(l);
                continue;
            }
            net::Listener l;
            if (!net::open_listener(spec, l, why)) {
                for (const auto &t : fresh) {
                    close(bound_[t].fd);
                    bound_.erase(t);
                }
                g.listeners.clear();
                return false;
            }
            bound_[text] = l;
            fresh.push_back(text);
            g.listeners.push_back(l);
        }
    }
    if (systemd_)
        for (auto &l : g.listeners)
            systemd_options(g.conf.core, l.spec);
    for (const auto &l : g.listeners) {
        std::shared_ptr<tls::Context> ctx;
        std::vector<std::string> warnings;
        if (!build_tls_context(g.conf.core, l.spec, ctx, why, warnings)) {
            // A TLS listener never starts without its certificate.
            for (const auto &t : fresh) {
                close(bound_[t].fd);
                bound_.erase(t);
            }
            g.listeners.clear();
            g.tls.clear();
            return false;
        }
        for (const auto &w : warnings)
            log::writef(log::Warning, "", "event=tls_warning why=%s", log::quote(w).c_str());
        g.tls.push_back(std::move(ctx));
    }
    for (const auto &l : g.listeners)
        g.listener_names += (g.listener_names.empty() ? "" : ",") + l.spec.text;
    return true;
}

// close_unused_listeners - sockets no live or starting generation uses.
// Retiring workers keep their own copies until they stop accepting.
void Master::close_unused_listeners()
{
    if (systemd_)
        return;
    for (auto it = bound_.begin(); it != bound_.end();) {
        bool used = false;
        for (Generation *g : {current_, pending_})
            if (g != nullptr)
                for (const auto &l : g->listeners)
                    used = used || l.fd == it->second.fd;
        if (used) {
            ++it;
        } else {
            log::writef(log::Info, "", "event=listener_closed listener=%s",
                        log::quote(it->first).c_str());
            close(it->second.fd);
            it = bound_.erase(it);
        }
    }
}

bool Master::spawn(Generation &g, std::size_t position)
{
    auto free_slot = std::find(slot_used_.begin(), slot_used_.end(), false);
    if (free_slot == slot_used_.end()) {
        log::writef(log::Err, "", "event=worker_not_started why=\"no free worker slot\"");
        return false;
    }
    unsigned slot = static_cast<unsigned>(free_slot - slot_used_.begin());
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        log::writef(log::Err, "", "event=worker_not_started why=%s",
                    log::quote(std::strerror(errno)).c_str());
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log::writef(log::Err, "", "event=worker_not_started why=%s",
                    log::quote(std::strerror(errno)).c_str());
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        close(fds[0]);
        worker_main(g, position, slot, fds[1]);
    }
    close(fds[1]);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fds[0];
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fds[0], &ev);
    *free_slot = true;
    Worker w;
    w.pid = pid;
    w.slot = slot;
    w.position = position;
    w.gen = &g;
    w.ready_fd = fds[0];
    w.started_ms = now_ms();
    workers_[pid] = w;
    g.positions[position].running = true;
    g.positions[position].restart_due_ms = 0;
    ++g.alive;
    log::writef(lifecycle(), "", "event=worker_started pid=%d slot=%u generation=%u", pid, slot,
                g.id);
    return true;
}

void Master::close_master_fds(const Generation *listeners_of)
{
    close(epoll_);
    close(signal_fd_);
    for (auto &[pid, w] : workers_)
        if (w.ready_fd >= 0)
            close(w.ready_fd);
    if (detached_.report_fd >= 0)
        close(detached_.report_fd);
    if (client_fd_ >= 0 && listeners_of == nullptr)
        close(client_fd_); // inetd mode: only the worker serves the client
    for (auto &[text, l] : bound_) {
        bool mine = false;
        if (listeners_of != nullptr)
            for (const auto &gl : listeners_of->listeners)
                mine = mine || gl.fd == l.fd;
        if (!mine)
            close(l.fd);
    }
}

// close_foreign_fds - in a child: every channel of every generation but
// `keep`.
void Master::close_foreign_fds(const std::vector<int> &keep)
{
    for (auto &gen : gens_)
        for (int fd : gen->channel_fds())
            if (fd >= 0 && std::find(keep.begin(), keep.end(), fd) == keep.end())
                close(fd);
}

bool Master::make_channels(Generation &g)
{
    auto pair = [](Generation::Pair &p) {
        int fds[2];
        if (!ipc::seqpacket_pair(fds))
            return false;
        p.child = fds[0];
        p.peer = fds[1];
        return true;
    };
    g.auth_channels.resize(g.positions.size());
    g.control.resize(g.positions.size());
    bool ok = true;
    for (std::size_t i = 0; i < g.positions.size(); ++i)
        ok = ok && pair(g.auth_channels[i]) && pair(g.control[i]);
    Generation::Pair grants;
    ok = ok && pair(grants);
    g.grant_auth = grants.child;
    g.grant_master = grants.peer;
    if (!ok) {
        log::writef(log::Err, "", "event=channels_failed why=%s",
                    log::quote(std::strerror(errno)).c_str());
        g.close_channels();
        return false;
    }
    auto watch = [&](int fd, Endpoint e) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
        channel_of_[fd] = e;
    };
    watch(g.grant_master, Endpoint{&g, true, 0});
    g.to_auth->set_socket(g.grant_master);
    g.to_auth->on_backlog([this, fd = g.grant_master] { watch_writable(fd, true); });
    for (std::size_t i = 0; i < g.control.size(); ++i)
        watch(g.control[i].peer, Endpoint{&g, false, i});
    return true;
}

bool Master::spawn_auth(Generation &g)
{
    pid_t pid = fork();
    if (pid < 0) {
        log::writef(log::Err, "", "event=auth_not_started why=%s",
                    log::quote(std::strerror(errno)).c_str());
        return false;
    }
    if (pid == 0) {
        close_master_fds(nullptr); // the auth process never sees a client
        AuthProcessRole role;
        std::vector<int> keep{g.grant_auth};
        for (const auto &p : g.auth_channels) {
            role.channels.push_back(p.peer);
            keep.push_back(p.peer);
        }
        close_foreign_fds(keep);
        role.master_channel = g.grant_auth;
        prctl(PR_SET_NAME, "modpop3d-auth");
        role.fast_uid = fast_path_uid(g.conf.core);
        role.quiet = inetd_;
        unsetenv("NOTIFY_SOCKET");
        int rc = run_auth_process(g.conf, *g.modules, std::move(role));
        _exit(rc);
    }
    g.auth_pid = pid;
    g.auth_started_ms = now_ms();
    g.auth_restart_due_ms = 0;
    auths_[pid] = &g;
    log::writef(lifecycle(), "", "event=auth_started pid=%d generation=%u root=%d", pid, g.id,
                getuid() == 0 && auth_needs_root(*g.modules) ? 1 : 0);
    return true;
}

void Master::watch_writable(int fd, bool writable)
{
    epoll_event ev{};
    ev.events = EPOLLIN | (writable ? uint32_t{EPOLLOUT} : 0u);
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
}

void Master::on_grant(Generation &g)
{
    for (int i = 0; i < 64; ++i) {
        ipc::Message m;
        std::vector<int> fds;
        ipc::Io r = ipc::receive_message(g.grant_master, m, fds, true);
        for (int fd : fds)
            close(fd);
        if (r == ipc::Io::again || r == ipc::Io::closed)
            return;
        auto slot = m.number("slot", g.positions.size() - 1);
        const std::string token = m.value("token");
        Grant grant;
        grant.gen = &g;
        for (const auto &[k, v] : m.fields)
            if (k.size() > 2 && k.compare(0, 2, "r.") == 0)
                grant.result[k.substr(2)] = v;
        auto uid = ipc::parse_number(grant.result["uid"], UINT32_MAX - 1);
        auto gid = ipc::parse_number(grant.result["gid"], UINT32_MAX - 1);
        if (r != ipc::Io::ok || m.type != "grant" || !slot || token.size() != 32 || !uid ||
            *uid == 0 || m.value("user").empty()) {
            log::write(log::Err, "", "event=grant_refused why=\"malformed grant\"");
            continue;
        }
        if (!gid) {
            // No gid in the result: the user's primary group, if the
            // system knows the uid.
            passwd *pw = getpwuid(static_cast<uid_t>(*uid));
            if (pw == nullptr) {
                log::writef(log::Err, "", "event=grant_refused uid=%llu why=\"no gid\"",
                            static_cast<unsigned long long>(*uid));
                continue;
            }
            gid = pw->pw_gid;
        }
        grant.slot = *slot;
        grant.user = m.value("user");
        grant.uid = static_cast<uid_t>(*uid);
        grant.gid = static_cast<gid_t>(*gid);
        grant.expires_ms = now_ms() + grant_lifetime_ms;
        uint64_t now = now_ms();
        for (auto it = grants_.begin(); it != grants_.end();)
            it = it->second.expires_ms < now ? grants_.erase(it) : std::next(it);
        if (grants_.size() >= max_grants) {
            log::write(log::Err, "", "event=grant_refused why=\"too many unused grants\"");
            continue;
        }
        grants_[token] = std::move(grant);
    }
}

void Master::on_control(Generation &g, std::size_t position)
{
    for (int i = 0; i < 16; ++i) {
        ipc::Message m;
        std::vector<int> fds;
        ipc::Io r = ipc::receive_message(g.control[position].peer, m, fds, true);
        if (r == ipc::Io::again || r == ipc::Io::closed)
            return;
        auto refuse = [&](const std::string &why) {
            log::writef(log::Err, "", "event=session_refused slot=%zu why=%s", position,
                        log::quote(why).c_str());
            if (r == ipc::Io::ok && m.type == "session" && fds.size() == 1)
                tell_temp_failure(fds[0]); // the client's login gets an answer
            for (int fd : fds)
                close(fd);
        };
        ipc::SessionHandover h;
        std::string why;
        if (r != ipc::Io::ok || m.type != "session" || fds.size() != 1 || !h.from_message(m, why)) {
            refuse(why.empty() ? "malformed hand-over" : why);
            continue;
        }
        h.fd = fds[0];
        // The grant was sent before the answer that named it: read what the
        // auth process has sent so far before looking it up.
        on_grant(g);
        auto it = grants_.find(h.token);
        if (it == grants_.end() || it->second.gen != &g || it->second.slot != position ||
            it->second.expires_ms < now_ms()) {
            refuse("no grant for this worker");
            continue;
        }
        Grant grant = std::move(it->second);
        grants_.erase(it); // a grant serves once
        spawn_session(g, std::move(grant), std::move(h));
    }
}

void Master::spawn_session(Generation &g, Grant grant, ipc::SessionHandover handover)
{
    // The session's own channel to the auth process, for its LOGIN and
    // LOGOUT hooks; the auth process gets its end through the master.
    int hooks[2] = {-1, -1};
    if (ipc::seqpacket_pair(hooks)) {
        if (g.to_auth->send(ipc::Message("channel"), {hooks[1]}) != ipc::Io::ok) {
            close(hooks[0]);
            hooks[0] = -1;
        }
        close(hooks[1]);
    }
    pid_t pid = fork();
    if (pid < 0) {
        log::writef(log::Err, "", "event=session_not_started user=%s why=%s",
                    log::quote(grant.user).c_str(), log::quote(std::strerror(errno)).c_str());
        tell_temp_failure(handover.fd);
        close(handover.fd);
        if (hooks[0] >= 0)
            close(hooks[0]);
        return;
    }
    if (pid == 0) {
        close_master_fds(nullptr); // its one client came with the hand-over
        close_foreign_fds({});
        prctl(PR_SET_NAME, "modpop3d-sess");
        unsetenv("NOTIFY_SOCKET");
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &chld, nullptr);
        ipc::SessionGrant sg;
        sg.user = grant.user;
        sg.uid = grant.uid;
        sg.gid = grant.gid;
        sg.result = std::move(grant.result);
        int rc = run_session_process(g.conf, *g.modules, sg, std::move(handover), limits_.get(),
                                     hooks[0]);
        _exit(rc);
    }
    close(handover.fd);
    if (hooks[0] >= 0)
        close(hooks[0]);
    SessionProcess record{grant.user, ""};
    if (!handover.tls) {
        // The worker stopped counting the connection when it let go of it:
        // it counts here until the session process ends, so max-connections
        // and max-connections-per-ip still see it.
        record.limit_key = net::endpoint_of_text(handover.peer_ip, 0).limit_key;
        if (record.limit_key.empty())
            record.limit_key = handover.peer_ip;
        limits_->admit(ipc::SharedLimits::session_slot, record.limit_key, INT64_MAX, INT64_MAX);
    }
    sessions_[pid] = std::move(record);
    log::writef(log::Debug, "", "event=session_started pid=%d user=%s uid=%u", pid,
                log::quote(grant.user).c_str(), static_cast<unsigned>(grant.uid));
}

// worker_main - the child side of spawn(): shed the master's descriptors,
// drop privileges, initialise the modules, serve; never returns.
void Master::worker_main(Generation &g, std::size_t position, unsigned slot, int ready_fd)
{
    // What the master owns and a worker must not hold: the master's loop,
    // other workers' report pipes, the start-up report pipe, and listeners
    // of other generations (a removed address must stop answering).
    close_master_fds(&g);
    close_foreign_fds({g.auth_channels[position].child, g.control[position].child});
    prctl(PR_SET_NAME, "modpop3d-login"); // ps and /proc/PID/comm tell the roles apart
    unsetenv("NOTIFY_SOCKET");            // the master speaks to systemd
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, nullptr);

    std::string why;
    auto server = std::make_unique<Server>(g.conf, *g.modules);
    Server::WorkerRole role;
    role.limits = limits_.get();
    role.slot = slot;
    role.listeners = g.listeners; // none in inetd mode
    role.tls = g.tls;
    if (inetd_)
        server->serve_inetd(client_fd_);
    role.auth_socket = g.auth_channels[position].child;
    role.control_socket = g.control[position].child;
    role.ready = [ready_fd] {
        ssize_t ignored = write(ready_fd, "R", 1);
        (void)ignored;
        close(ready_fd);
    };
    // Workers enter login-chroot (if set) as they drop root.
    if (!server->become_worker(std::move(role), why) ||
        !drop_privileges(g.conf.core, why, g.conf.core.login_chroot)) {
        log::writef(log::Err, "", "event=worker_failed why=%s", log::quote(why).c_str());
        _exit(worker_setup_failed);
    }
    // Set after the drop (a credential change clears it): a worker whose
    // master is gone drains and exits rather than serving unsupervised.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master_pid_)
        _exit(0);
    // Auth and hook instances live in the auth process: a worker runs no
    // auth module code.
    config::Diagnostics diags;
    if (!g.modules->process_init(diags, 1u << MODPOP3D_KIND_MAILBOX)) {
        for (const auto &l : diags.lines())
            log::writef(log::Err, "", "event=worker_failed why=%s", log::quote(l).c_str());
        _exit(worker_setup_failed);
    }
    int rc = server->run();
    server.reset();
    g.modules.reset(); // instance_free in this process, which ran process_init
    _exit(rc);
}

void Master::on_ready(int fd)
{
    char c = 0;
    ssize_t n = read(fd, &c, 1);
    for (auto &[pid, w] : workers_) {
        if (w.ready_fd != fd)
            continue;
        epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        w.ready_fd = -1;
        if (n == 1 && c == 'R') {
            w.ready = true;
            Generation &g = *w.gen;
            log::writef(log::Info, "", "event=worker_serving pid=%d generation=%u", pid, g.id);
            bool all = true;
            for (auto &[p, o] : workers_)
                if (o.gen == &g && !o.ready)
                    all = false;
            if (all && !g.announced && g.alive == static_cast<std::size_t>(g.size))
                generation_ready(g);
        }
        return; // EOF without 'R': the exit is handled by reap()
    }
}

// generation_ready - every worker of `g` serves: announce the start, or
// complete a reload by retiring the previous generation.
void Master::generation_ready(Generation &g)
{
    g.announced = true;
    if (!started_) {
        started_ = true;
        log::writef(log::Info, "", "event=ready listeners=%s pid=%d workers=%lld generation=%u",
                    log::quote(g.listener_names).c_str(), getpid(), static_cast<long long>(g.size),
                    g.id);
        net::notify("READY=1");
        detach_done(detached_, true);
        return;
    }
    if (&g != pending_)
        return;
    Generation *old = current_;
    current_ = &g;
    pending_ = nullptr;
    g.active = true;
    if (old != nullptr) {
        old->active = false;
        old->retiring = true;
        for (auto &[pid, w] : workers_)
            if (w.gen == old)
                kill(pid, SIGUSR1);
    }
    close_unused_listeners();
    log::writef(log::Info, "", "event=reloaded generation=%u listeners=%s workers=%lld", g.id,
                log::quote(g.listener_names).c_str(), static_cast<long long>(g.size));
    net::notify("READY=1");
    drop_finished_generations();
}

void Master::reap()
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        if (auto a = auths_.find(pid); a != auths_.end()) {
            Generation *g = a->second;
            auths_.erase(a);
            on_auth_exit(*g, pid, status);
            continue;
        }
        if (auto se = sessions_.find(pid); se != sessions_.end()) {
            if (!se->second.limit_key.empty())
                limits_->release(ipc::SharedLimits::session_slot, se->second.limit_key);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                log::writef(log::Warning, "", "event=session_exited pid=%d user=%s %s", pid,
                            log::quote(se->second.user).c_str(),
                            WIFSIGNALED(status)
                                ? ("signal=" + std::to_string(WTERMSIG(status))).c_str()
                                : ("status=" + std::to_string(WEXITSTATUS(status))).c_str());
            sessions_.erase(se);
            if (inetd_)
                inetd_session_exited(status);
            continue;
        }
        auto it = workers_.find(pid);
        if (it == workers_.end())
            continue;
        Worker w = it->second;
        workers_.erase(it);
        on_exit(w, status);
    }
}

void Master::on_exit(Worker w, int status)
{
    Generation &g = *w.gen;
    if (w.ready_fd >= 0) {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, w.ready_fd, nullptr);
        close(w.ready_fd);
    }
    // Whatever the worker counted dies with it.
    limits_->clear_slot(w.slot);
    slot_used_[w.slot] = false;
    g.positions[w.position].running = false;
    --g.alive;
    if (inetd_) {
        inetd_worker_exited(w, status);
        return;
    }
    uint64_t lived = now_ms() - w.started_ms;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::string how = WIFSIGNALED(status) ? "signal=" + std::to_string(WTERMSIG(status))
                                          : "status=" + std::to_string(WEXITSTATUS(status));
    if (!started_) {
        // The first generation could not start: give up, as a single
        // process would have.
        log::writef(log::Err, "", "event=worker_exited pid=%d generation=%u %s", w.pid, g.id,
                    how.c_str());
        if (!stopping_) {
            std::cerr << "modpop3d: a worker exited while starting (" << how << "); see the log\n";
            start_failed_ = true;
            begin_stop(0);
        }
        return;
    }
    if (stopping_ || g.retiring) {
        log::writef(clean ? log::Info : log::Warning, "",
                    "event=worker_exited pid=%d generation=%u %s", w.pid, g.id, how.c_str());
        drop_finished_generations();
        return;
    }
    if (&g == pending_) {
        log::writef(log::Warning, "", "event=worker_exited pid=%d generation=%u %s", w.pid, g.id,
                    how.c_str());
        log::writef(log::Warning, "",
                    "event=reload_failed generation=%u why=\"a new worker exited before it "
                    "served; the running configuration stays\"",
                    g.id);
        abandon_pending();
        return;
    }
    // An active worker died: restart it, at once unless it keeps dying
    // young, then with a doubling back-off.
    auto &pos = g.positions[w.position];
    pos.quick_exits = lived < quick_exit_ms ? pos.quick_exits + 1 : 0;
    uint64_t delay = 0;
    if (pos.quick_exits > 0)
        delay = std::min(backoff_max_ms, backoff_first_ms << std::min(pos.quick_exits - 1, 10u));
    log::writef(log::Warning, "", "event=worker_exited pid=%d generation=%u %s restart_in_ms=%llu",
                w.pid, g.id, how.c_str(), static_cast<unsigned long long>(delay));
    if (pos.quick_exits == 3)
        log::writef(log::Err, "", "event=worker_crash_loop generation=%u", g.id);
    pos.restart_due_ms = now_ms() + delay;
    if (delay == 0)
        restart_due();
}

void Master::inetd_worker_exited(Worker w, int status)
{
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    inetd_failed_ = inetd_failed_ || !clean;
    log::writef(clean ? log::Debug : log::Warning, "",
                "event=worker_exited pid=%d generation=%u %s", w.pid, w.gen->id,
                (WIFSIGNALED(status) ? "signal=" + std::to_string(WTERMSIG(status))
                                     : "status=" + std::to_string(WEXITSTATUS(status)))
                    .c_str());
    // A worker that handed its connection over sent the hand-over before it
    // exited: start that session before deciding that nothing is left.
    if (!stopping_)
        on_control(*w.gen, w.position);
    if (sessions_.empty())
        begin_stop(0);
}

void Master::inetd_session_exited(int status)
{
    inetd_failed_ = inetd_failed_ || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (workers_.empty())
        begin_stop(0); // the auth process goes too
}

void Master::on_auth_exit(Generation &g, pid_t pid, int status)
{
    g.auth_pid = 0;
    std::string how = WIFSIGNALED(status) ? "signal=" + std::to_string(WTERMSIG(status))
                                          : "status=" + std::to_string(WEXITSTATUS(status));
    if (stopping_ || g.retiring || (&g != current_ && &g != pending_)) {
        log::writef(lifecycle(), "", "event=auth_exited pid=%d generation=%u %s", pid, g.id,
                    how.c_str());
        drop_finished_generations();
        return;
    }
    if (!started_) {
        log::writef(log::Err, "", "event=auth_exited pid=%d generation=%u %s", pid, g.id,
                    how.c_str());
        std::cerr << "modpop3d: the auth process exited while starting (" << how
                  << "); see the log\n";
        start_failed_ = true;
        begin_stop(0);
        return;
    }
    // Restarted on the same channels: logins under way were lost (their
    // clients get -ERR [SYS/TEMP] after auth-timeout), new ones go on.
    uint64_t lived = now_ms() - g.auth_started_ms;
    g.auth_quick_exits = lived < quick_exit_ms ? g.auth_quick_exits + 1 : 0;
    uint64_t delay = 0;
    if (g.auth_quick_exits > 0)
        delay = std::min(backoff_max_ms, backoff_first_ms << std::min(g.auth_quick_exits - 1, 10u));
    log::writef(log::Warning, "", "event=auth_exited pid=%d generation=%u %s restart_in_ms=%llu",
                pid, g.id, how.c_str(), static_cast<unsigned long long>(delay));
    g.auth_restart_due_ms = now_ms() + delay;
    if (delay == 0)
        restart_due();
}

void Master::restart_due()
{
    if (stopping_ || current_ == nullptr)
        return;
    uint64_t now = now_ms();
    for (Generation *ag : {current_, pending_})
        if (ag != nullptr && ag->auth_pid == 0 && ag->auth_restart_due_ms != 0 &&
            ag->auth_restart_due_ms <= now && !spawn_auth(*ag))
            ag->auth_restart_due_ms = now + backoff_max_ms;
    Generation &g = *current_;
    for (std::size_t i = 0; i < g.positions.size(); ++i) {
        auto &pos = g.positions[i];
        if (!pos.running && pos.restart_due_ms != 0 && pos.restart_due_ms <= now && !spawn(g, i))
            pos.restart_due_ms = now + backoff_max_ms;
    }
}

int Master::next_timeout() const
{
    uint64_t now = now_ms(), due = now + 1000;
    if (current_ != nullptr && !stopping_)
        for (const auto &pos : current_->positions)
            if (!pos.running && pos.restart_due_ms != 0)
                due = std::min(due, std::max(pos.restart_due_ms, now));
    for (Generation *g : {current_, pending_})
        if (g != nullptr && !stopping_ && g->auth_pid == 0 && g->auth_restart_due_ms != 0)
            due = std::min(due, std::max(g->auth_restart_due_ms, now));
    if (stopping_ && kill_at_ms_ != 0)
        due = std::min(due, std::max(kill_at_ms_, now));
    return static_cast<int>(due - now);
}

void Master::drop_finished_generations()
{
    for (auto it = gens_.begin(); it != gens_.end();) {
        Generation *g = it->get();
        if (g != current_ && g != pending_ && g->alive == 0 && g->auth_pid != 0) {
            kill(g->auth_pid, SIGTERM); // its workers are gone: nobody asks it any more
            ++it;
        } else if (g != current_ && g != pending_ && g->alive == 0) {
            // Its workers and auth process are gone: free its instances
            // here, then its modules (instance_free before dlclose).
            for (int fd : g->channel_fds())
                if (channel_of_.erase(fd) != 0)
                    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
            for (auto gi = grants_.begin(); gi != grants_.end();)
                gi = gi->second.gen == g ? grants_.erase(gi) : std::next(gi);
            g->close_channels();
            g->modules.reset();
            g->loader.reset();
            it = gens_.erase(it);
        } else {
            ++it;
        }
    }
}

// abandon_pending - a reload's generation failed to start: stop its
// workers, keep the running generation.
void Master::abandon_pending()
{
    Generation &p = *pending_;
    p.retiring = true;
    pending_ = nullptr;
    for (auto &[pid, o] : workers_)
        if (o.gen == &p)
            kill(pid, SIGTERM);
    close_unused_listeners();
    net::notify("READY=1");
    drop_finished_generations();
}

void Master::reload()
{
    if (stopping_)
        return;
    if (inetd_) {
        log::write(log::Notice, "",
                   "event=reload_ignored reason=\"inetd mode: each connection reads the "
                   "configuration\"");
        return;
    }
    if (!started_ || pending_ != nullptr) {
        log::write(log::Notice, "", "event=reload_ignored why=\"workers are still starting\"");
        return;
    }
    log::write(log::Info, "", "event=reloading");
    net::notify("RELOADING=1");
    config::Diagnostics diags;
    auto g = load(diags);
    std::string why;
    if (g != nullptr && !bind(*g, why)) {
        diags.plain(why);
        g.reset();
    }
    if (g != nullptr) {
        std::size_t free_slots =
            static_cast<std::size_t>(std::count(slot_used_.begin(), slot_used_.end(), false));
        if (free_slots < static_cast<std::size_t>(g->size)) {
            diags.plain("too many retiring workers still serve sessions (" +
                        std::to_string(free_slots) + " free worker slots); try again later");
            g.reset();
            close_unused_listeners();
        }
    }
    if (g == nullptr) {
        for (const auto &l : diags.lines())
            log::writef(log::Warning, "", "event=reload_failed error=%s", log::quote(l).c_str());
        log::write(log::Warning, "", "event=reload_failed why=\"the running configuration stays\"");
        net::notify("READY=1");
        return;
    }
    g->id = next_gen_++;
    init_log(g->conf.core);
    if (g->modules->of_kind(MODPOP3D_KIND_AUTH).empty())
        log::write(log::Warning, "", "event=no_auth_modules why=\"nobody can log in\"");
    pending_ = g.get();
    gens_.push_back(std::move(g));
    if (!make_channels(*pending_) || !spawn_auth(*pending_)) {
        log::writef(log::Warning, "",
                    "event=reload_failed generation=%u why=\"cannot start its auth process\"",
                    pending_->id);
        abandon_pending();
        return;
    }
    for (std::size_t i = 0; i < pending_->positions.size(); ++i)
        if (!spawn(*pending_, i)) {
            log::writef(log::Warning, "",
                        "event=reload_failed generation=%u why=\"cannot start its workers\"",
                        pending_->id);
            abandon_pending();
            return;
        }
}

void Master::begin_stop(int signo)
{
    if (stopping_)
        return;
    stopping_ = true;
    int64_t longest = 0;
    for (auto &g : gens_)
        longest = std::max(longest, g->conf.core.shutdown_timeout_ms);
    kill_at_ms_ = now_ms() + static_cast<uint64_t>(longest) + kill_grace_ms;
    if (signo != 0) {
        net::notify("STOPPING=1");
        log::writef(log::Info, "", "event=stopping signal=%d workers=%zu", signo, workers_.size());
    }
    for (auto &[pid, w] : workers_)
        kill(pid, SIGTERM);
    for (auto &[pid, user] : sessions_)
        kill(pid, SIGTERM); // they drain like the workers' sessions
    // Once the workers closed their copies, new clients are refused rather
    // than left waiting in a backlog nobody accepts from.
    for (auto &[text, l] : bound_)
        close(l.fd);
    bound_.clear();
}

int Master::run()
{
    master_pid_ = getpid();
    opt_.config_file = absolute(opt_.config_file);
    config::Diagnostics diags;
    auto first = load(diags);
    if (first == nullptr) {
        for (const auto &l : diags.lines())
            std::cerr << "modpop3d: " << l << '\n';
        std::cerr << "modpop3d: not started: fix the configuration (check with modpop3d -t -f "
                  << opt_.config_file << ")\n";
        return 1;
    }
    init_log(first->conf.core);
    if (inetd_ && !opt_.log_to_stderr)
        quiet_stderr(client_fd_);
    for (int fd : inetd_ ? std::vector<int>{} : net::activated_sockets()) {
        net::Listener l;
        l.fd = fd;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
        net::Endpoint e = net::endpoint_of(ss);
        l.spec.address = e.ip;
        l.spec.port = e.port;
        l.spec.text = "systemd:" + (e.ip.find(':') != std::string::npos ? "[" + e.ip + "]" : e.ip) +
                      ":" + std::to_string(e.port);
        bound_[l.spec.text] = l;
        systemd_ = true;
    }
    std::string why;
    if (!inetd_ && !bind(*first, why)) {
        std::cerr << "modpop3d: " << why << '\n';
        return 1;
    }
    if (opt_.detach) {
        // Errors so far went to the terminal; from here on they are logged.
        detached_ = detach();
        master_pid_ = getpid();
        init_log(first->conf.core);
    }
    if (!inetd_ && !first->conf.core.pid_file.empty() &&
        !pid_file_.create(first->conf.core.pid_file, why)) {
        log::writef(log::Err, "", "event=not_started why=%s", log::quote(why).c_str());
        if (!opt_.detach)
            std::cerr << "modpop3d: " << why << '\n';
        detach_done(detached_, false);
        return 1;
    }
    try {
        limits_ = std::make_unique<ipc::SharedLimits>();
    } catch (const std::exception &e) {
        log::writef(log::Err, "", "event=not_started why=%s", log::quote(e.what()).c_str());
        detach_done(detached_, false);
        return 1;
    }
    // Make the dummy hash once here, so that every worker inherits it and
    // the first unknown user costs what a real verification costs.
    password::password_prepare();
    // The installation's key, loaded (or made) before any fork so that every
    // process derives the same keys from it.
    if (std::string key_why;
        !first->conf.core.secret_key_file.empty() &&
        !password::server_secret_load(first->conf.core.secret_key_file, key_why)) {
        log::writef(log::Err, "", "event=not_started why=%s", log::quote(key_why).c_str());
        detach_done(detached_, false);
        return 1;
    }
    (void)password::server_secret_derive("warm-up"); // made here when no file is set
    if (first->modules->of_kind(MODPOP3D_KIND_AUTH).empty())
        log::write(log::Warning, "", "event=no_auth_modules why=\"nobody can log in\"");

    sigset_t mask = master_signals();
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.fd = signal_fd_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, signal_fd_, &sev);

    first->id = next_gen_++;
    first->active = true;
    current_ = first.get();
    gens_.push_back(std::move(first));
    if (!make_channels(*current_) || !spawn_auth(*current_)) {
        start_failed_ = true;
        begin_stop(0);
    }
    for (std::size_t i = 0; i < current_->positions.size() && !stopping_; ++i)
        if (!spawn(*current_, i)) {
            start_failed_ = true;
            begin_stop(0);
        }
    if (inetd_) {
        // The worker has the connection now; the master never reads it.
        close(client_fd_);
        client_fd_ = -1;
        started_ = true; // no "ready" to wait for: one connection, already there
    }

    epoll_event events[32];
    while (!(stopping_ && workers_.empty() && auths_.empty() && sessions_.empty())) {
        int n = epoll_wait(epoll_, events, 32, next_timeout());
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (auto ch = channel_of_.find(fd); ch != channel_of_.end()) {
                Endpoint e = ch->second;
                if (e.grant && (events[i].events & EPOLLOUT) &&
                    e.gen->to_auth->flush() != ipc::Io::again)
                    watch_writable(fd, false);
                if (e.grant)
                    on_grant(*e.gen);
                else
                    on_control(*e.gen, e.position);
                continue;
            }
            if (fd != signal_fd_) {
                on_ready(fd);
                continue;
            }
            signalfd_siginfo si;
            while (read(signal_fd_, &si, sizeof si) == sizeof si) {
                int signo = static_cast<int>(si.ssi_signo);
                if (signo == SIGCHLD)
                    reap();
                else if (signo == SIGHUP)
                    reload();
                else if (signo == SIGTERM || signo == SIGINT)
                    begin_stop(signo);
            }
        }
        reap(); // a SIGCHLD merged with one already read is not lost
        restart_due();
        if (stopping_ && workers_.empty())
            for (auto &[pid, g] : auths_)
                kill(pid, SIGTERM); // no worker left to ask it anything
        if (stopping_ && kill_at_ms_ != 0 && now_ms() >= kill_at_ms_) {
            for (auto &[pid, w] : workers_) {
                log::writef(log::Warning, "", "event=worker_killed pid=%d why=drain_timeout", pid);
                kill(pid, SIGKILL);
            }
            for (auto &[pid, user] : sessions_)
                kill(pid, SIGKILL);
            for (auto &[pid, g] : auths_)
                kill(pid, SIGKILL);
            kill_at_ms_ = 0;
        }
    }
    bool clean = !start_failed_ && !inetd_failed_;
    detach_done(detached_, false); // only when it never served
    pid_file_.remove();
    current_ = pending_ = nullptr;
    drop_finished_generations();
    log::write(lifecycle(), "", "event=stopped");
    return clean ? 0 : 1;
}

} // namespace

int run_master(const MasterOptions &options)
{
    Master m(options);
    return m.run();
}

} // namespace modpop3d::daemon
