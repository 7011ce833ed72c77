// auth_process.cpp - the auth process's loop (see auth_process.hpp).
#include "process/auth_process.hpp"

#include "auth/auth_chain.hpp"
#include "auth/auth_protocol.hpp"
#include "ipc/message.hpp"
#include "ipc/outbox.hpp"
#include "password/password_digest.hpp"
#include "process/privileges.hpp"
#include "util/log.hpp"
#include "util/thread_pool.hpp"
#include "util/words.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace modpop3d::daemon
{

namespace
{

constexpr uint64_t pool_tag = 1ull << 62;
constexpr uint64_t signal_tag = 1ull << 61;
constexpr uint64_t master_tag = 1ull << 60;

std::string random_token()
{
    unsigned char rnd[16];
    modload::host_table()->random_bytes(rnd, sizeof rnd);
    return password::digest::hex_encode(password::digest::as_text(rnd, sizeof rnd));
}

class AuthServer
{
  public:
    AuthServer(config::Configuration &conf, modload::ModuleSet &modules, AuthProcessRole role)
        : role_(std::move(role)),
          chain_(modules, conf.core.auth_cache_ttl_ms, conf.core.auth_cache_size),
          pool_(static_cast<unsigned>(conf.core.auth_threads))
    {
    }
    int run();

  private:
    void on_request(std::size_t slot);
    // on_writable - a channel whose answers had to wait has room again.
    void on_writable(std::size_t slot);
    void watch(std::size_t slot, bool writable);
    ipc::Outbox &outbox(std::size_t slot);
    // on_master - a session process's channel from the master: it may ask
    // for hooks only (LOGIN, LOGOUT of a system user's session).
    void on_master();
    void drop_channel(std::size_t slot);
    void serve(std::size_t slot, ipc::Message request);
    // reply - send `answer` for request `id` to the channel in `slot`.
    void reply(std::size_t slot, const std::string &id, const AuthAnswer &answer);
    // grant - for a login whose uid is not the fast path's: tell the master
    // and put the token in the answer. False (answer TEMP) when the master
    // cannot be told.
    bool grant(std::size_t slot, AuthAnswer &answer, const std::string &login);
    // needs_grant - whether a successful answer names a uid other than the
    // fast path's (a system user's session, granted through the master).
    bool needs_grant(const AuthAnswer &answer) const;

    AuthProcessRole role_;
    AuthChain chain_;
    ThreadPool pool_;
    std::mutex master_mutex_; // grants are sent from pool threads
    std::size_t workers_ = 0; // channels [0, workers_) are the workers'; then sessions'
    // Per channel: answers waiting for room in the asker's socket buffer (a
    // burst of logins answered at once); never dropped, sent in order.
    std::vector<std::unique_ptr<ipc::Outbox>> outboxes_;
    int epoll_ = -1;
};

bool AuthServer::needs_grant(const AuthAnswer &answer) const
{
    auto uid_it = answer.result.find("uid");
    if (answer.status != MODPOP3D_OK || uid_it == answer.result.end())
        return false;
    auto uid = ipc::parse_number(uid_it->second, UINT32_MAX - 1);
    return !uid || *uid != role_.fast_uid;
}

bool AuthServer::grant(std::size_t slot, AuthAnswer &answer, const std::string &login)
{
    auto uid_it = answer.result.find("uid");
    if (uid_it == answer.result.end())
        return true; // no uid: the fast path's user serves it
    auto uid = ipc::parse_number(uid_it->second, UINT32_MAX - 1);
    if (!uid) {
        answer.status = MODPOP3D_E_INTERNAL; // result_set() checked it: cannot happen
        return true;
    }
    if (*uid == role_.fast_uid)
        return true;
    std::string user = answer.result.count("user") ? answer.result["user"] : login;
    if (*uid == 0) {
        log::writef(log::Err, answer.instance, "event=auth_refused user=%s why=\"uid 0\"",
                    log::quote(user).c_str());
        answer.status = MODPOP3D_E_PERM;
        return true;
    }
    std::string token = random_token();
    ipc::Message g("grant");
    g.add("token", token).add("slot", std::to_string(slot)).add("user", user);
    authproto::put_result(g, answer.result);
    std::lock_guard lock(master_mutex_);
    if (ipc::send_message(role_.master_channel, g) != ipc::Io::ok)
        return false;
    answer.result["grant"] = token;
    log::writef(log::Debug, "", "event=grant user=%s uid=%llu slot=%zu", log::quote(user).c_str(),
                static_cast<unsigned long long>(*uid), slot);
    return true;
}

void AuthServer::reply(std::size_t slot, const std::string &id, const AuthAnswer &answer)
{
    ipc::Message a("answer");
    a.add("id", id).add("status", std::to_string(answer.status));
    a.add("instance", answer.instance);
    authproto::put_result(a, answer.result);
    if (slot >= role_.channels.size() || role_.channels[slot] < 0)
        return;                       // a session process that has gone
    ipc::Io r = outbox(slot).send(a); // queued when the asker's buffer is full
    a.wipe();
    if (r != ipc::Io::ok && r != ipc::Io::closed) // closed: the asker has exited
        log::writef(log::Warning, "", "event=auth_ipc_error why=\"cannot answer worker slot %zu\"",
                    slot);
}

void AuthServer::serve(std::size_t slot, ipc::Message request)
{
    if (request.value("op") == "plain") {
        // A client polling again within auth-cache-ttl: answered here, with
        // no thread hop, when the cache has it and no hook must run.
        AuthAnswer cached;
        const std::string user = request.value("user");
        const std::string *secret = request.get("secret");
        // A system user's grant goes to the master from a pool thread: this
        // loop never waits for the master's socket.
        if (secret != nullptr && chain_.login_cached(user, *secret, cached) &&
            !needs_grant(cached)) {
            reply(slot, request.value("id"), cached);
            request.wipe();
            return;
        }
    }
    auto session = std::make_shared<modpop3d_session>();
    authproto::take_facts(request, *session);
    auto answer = std::make_shared<AuthAnswer>();
    answer->status = MODPOP3D_E_INTERNAL;
    const std::string id = request.value("id");
    auto req = std::make_shared<ipc::Message>(std::move(request));
    pool_.submit(
        [this, slot, session, answer, req] {
            const std::string op = req->value("op");
            const std::string user = req->value("user");
            try {
                if (op == "plain" || op == "apop") {
                    *answer = chain_.login(*session, op == "apop", user, req->value("secret"),
                                           req->value("timestamp"));
                    if (answer->status == MODPOP3D_OK && !grant(slot, *answer, user)) {
                        log::write(
                            log::Err, "",
                            "event=auth_ipc_error why=\"cannot send a grant to the master\"");
                        answer->status = MODPOP3D_E_TEMP;
                        answer->result.clear();
                    }
                } else if (op == "lookup") {
                    *answer = chain_.lookup_credentials(*session, user,
                                                        util::split_words(req->value("schemes")));
                } else if (op == "auth_hooks") {
                    int32_t status = MODPOP3D_E_INTERNAL;
                    authproto::status_of(*req, status);
                    // With "instance": a SASL login the worker checked,
                    // whose on_login runs here too.
                    answer->status =
                        chain_.finish_sasl_login(*session, status, req->value("instance"));
                } else if (op == "hooks") {
                    modpop3d_event_info info{};
                    info.struct_size = sizeof info;
                    info.event =
                        static_cast<uint32_t>(req->number("event", UINT32_MAX).value_or(0));
                    auto n = [&](const char *k) { return req->number(k).value_or(0); };
                    info.messages = static_cast<uint32_t>(n("i.messages"));
                    info.retrieved = static_cast<uint32_t>(n("i.retrieved"));
                    info.deleted = static_cast<uint32_t>(n("i.deleted"));
                    info.octets = n("i.octets");
                    info.retrieved_octets = n("i.retrieved_octets");
                    info.deleted_octets = n("i.deleted_octets");
                    info.duration_usec = n("i.duration_usec");
                    const std::string *path = req->get("i.mailbox_path");
                    info.mailbox_path = path ? path->c_str() : nullptr;
                    answer->status = chain_.run_hooks(info.event, *session, info);
                }
            } catch (...) {
                answer->status = MODPOP3D_E_TEMP; // no memory: try again later
                answer->result.clear();
            }
            req->wipe();
        },
        [this, slot, id, answer] { reply(slot, id, *answer); });
}

void AuthServer::on_request(std::size_t slot)
{
    for (int i = 0; i < 64; ++i) {
        ipc::Message m;
        std::vector<int> fds;
        ipc::Io r = ipc::receive_message(role_.channels[slot], m, fds, true);
        for (int fd : fds)
            close(fd); // requests carry none
        if (r == ipc::Io::closed && slot >= workers_)
            drop_channel(slot); // the session process ended
        if (r == ipc::Io::again || r == ipc::Io::closed)
            return;
        static const char *const ops[] = {"plain", "apop", "lookup", "auth_hooks", "hooks"};
        bool known_op = false;
        for (const char *op : ops)
            known_op = known_op || m.value("op") == op;
        if (slot >= workers_)
            known_op = m.value("op") == "hooks"; // a session logs nobody in
        if (r != ipc::Io::ok || m.type != "auth" || !m.number("id") || !known_op || !fds.empty()) {
            m.wipe();
            log::writef(log::Err, "", "event=auth_ipc_error slot=%zu why=\"malformed request\"",
                        slot);
            continue;
        }
        serve(slot, std::move(m));
    }
}

ipc::Outbox &AuthServer::outbox(std::size_t slot)
{
    if (outboxes_.size() <= slot)
        outboxes_.resize(slot + 1);
    if (!outboxes_[slot]) {
        outboxes_[slot] = std::make_unique<ipc::Outbox>();
        outboxes_[slot]->on_backlog([this, slot] { watch(slot, true); });
    }
    outboxes_[slot]->set_socket(role_.channels[slot]);
    return *outboxes_[slot];
}

void AuthServer::watch(std::size_t slot, bool writable)
{
    epoll_event ev{};
    ev.events = EPOLLIN | (writable ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = slot;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, role_.channels[slot], &ev);
}

void AuthServer::on_writable(std::size_t slot)
{
    if (slot >= role_.channels.size() || role_.channels[slot] < 0)
        return;
    ipc::Outbox &box = outbox(slot);
    ipc::Io r = box.flush();
    if (r == ipc::Io::again)
        return; // still full: EPOLLOUT stays
    watch(slot, false);
    if (r != ipc::Io::ok && r != ipc::Io::closed)
        log::writef(log::Warning, "", "event=auth_ipc_error why=\"cannot answer worker slot %zu\"",
                    slot);
}

void AuthServer::drop_channel(std::size_t slot)
{
    if (slot < outboxes_.size() && outboxes_[slot])
        outboxes_[slot]->clear();
    epoll_ctl(epoll_, EPOLL_CTL_DEL, role_.channels[slot], nullptr);
    close(role_.channels[slot]);
    role_.channels[slot] = -1;
}

void AuthServer::on_master()
{
    for (int i = 0; i < 64; ++i) {
        ipc::Message m;
        std::vector<int> fds;
        ipc::Io r = ipc::receive_message(role_.master_channel, m, fds, true);
        if (r != ipc::Io::ok)
            return;
        if (m.type != "channel" || fds.size() != 1) {
            for (int fd : fds)
                close(fd);
            log::write(log::Err, "",
                       "event=auth_ipc_error why=\"malformed message from the master\"");
            continue;
        }
        std::size_t slot = workers_;
        while (slot < role_.channels.size() && role_.channels[slot] >= 0)
            ++slot;
        if (slot == role_.channels.size())
            role_.channels.push_back(-1);
        role_.channels[slot] = fds[0];
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = slot;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, fds[0], &ev);
    }
}

int AuthServer::run()
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    epoll_ = epoll;
    workers_ = role_.channels.size();
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    auto add = [&](int fd, uint64_t tag) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = tag;
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
    };
    add(sfd, signal_tag);
    add(pool_.event_fd(), pool_tag);
    chain_.log_cache();
    for (std::size_t i = 0; i < role_.channels.size(); ++i)
        add(role_.channels[i], i);
    add(role_.master_channel, master_tag);
    log::writef(role_.quiet ? log::Debug : log::Info, "",
                "event=auth_serving pid=%d uid=%u channels=%zu", getpid(),
                static_cast<unsigned>(getuid()), role_.channels.size());
    epoll_event events[32];
    for (;;) {
        int n = epoll_wait(epoll, events, 32, -1);
        for (int i = 0; i < n; ++i) {
            uint64_t tag = events[i].data.u64;
            if (tag == signal_tag) {
                close(epoll);
                close(sfd);
                return 0; // requests in flight are answered TEMP by the workers' timeout
            }
            if (tag == pool_tag)
                pool_.run_completions();
            else if (tag == master_tag)
                on_master();
            else if (tag < role_.channels.size()) {
                if (events[i].events & EPOLLOUT)
                    on_writable(static_cast<std::size_t>(tag));
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_request(static_cast<std::size_t>(tag));
            }
        }
    }
}

} // namespace

bool auth_needs_root(const modload::ModuleSet &modules)
{
    for (uint32_t kind : {MODPOP3D_KIND_AUTH, MODPOP3D_KIND_HOOK})
        for (const auto *i : modules.of_kind(kind))
            if (i->module->desc->flags & MODPOP3D_MODF_NEEDS_ROOT)
                return true;
    return false;
}

int run_auth_process(config::Configuration &conf, modload::ModuleSet &modules, AuthProcessRole role)
{
    std::string why;
    if (!(getuid() == 0 && auth_needs_root(modules)) && !drop_privileges(conf.core, why)) {
        log::writef(log::Err, "", "event=auth_failed why=%s", log::quote(why).c_str());
        return 3;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    config::Diagnostics diags;
    if (!modules.process_init(diags, 1u << MODPOP3D_KIND_AUTH | 1u << MODPOP3D_KIND_HOOK)) {
        for (const auto &l : diags.lines())
            log::writef(log::Err, "", "event=auth_failed why=%s", log::quote(l).c_str());
        return 3;
    }
    AuthServer server(conf, modules, std::move(role));
    return server.run();
}

} // namespace modpop3d::daemon
