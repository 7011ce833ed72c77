// auth_remote.cpp - requests to the auth process (see auth_remote.hpp).
#include "auth/auth_remote.hpp"

#include "auth/auth_protocol.hpp"
#include "modload/host_services.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <poll.h>
#include <string_view>
#include <unistd.h>

namespace modpop3d::daemon
{

namespace
{

uint64_t steady_ms()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

} // namespace

RemoteAuth::RemoteAuth(int socket, Facts facts, int64_t timeout_ms)
    : socket_(socket), facts_(facts), timeout_ms_(timeout_ms),
      loop_thread_(std::this_thread::get_id()), outbox_(socket)
{
    uint64_t start = 0;
    modload::host_table()->random_bytes(&start, sizeof start);
    next_id_ = (start >> 2) + 1; // never near wrapping
}

AuthAnswer RemoteAuth::answer_of(ipc::Message &m)
{
    AuthAnswer answer;
    answer.status = MODPOP3D_E_TEMP;
    int32_t status = MODPOP3D_E_TEMP;
    if (!authproto::status_of(m, status)) {
        log::write(log::Err, "", "event=auth_ipc_error why=\"answer without a valid status\"");
        m.wipe();
        return answer;
    }
    answer.status = status;
    answer.instance = m.value("instance");
    authproto::take_result(m, answer.result);
    m.wipe(); // a lookup's answer holds a secret
    return answer;
}

bool RemoteAuth::drain()
{
    for (;;) {
        ipc::Message m;
        std::vector<int> fds;
        ipc::Io r = ipc::receive_message(socket_, m, fds, true);
        for (int fd : fds)
            close(fd); // answers carry none
        if (r == ipc::Io::again)
            return true;
        if (r == ipc::Io::closed)
            return false;
        if (r != ipc::Io::ok || m.type != "answer") {
            log::write(log::Err, "", "event=auth_ipc_error why=\"malformed answer\"");
            continue;
        }
        auto id = m.number("id");
        std::lock_guard lock(mutex_);
        auto it = id ? pending_.find(*id) : pending_.end();
        if (it == pending_.end()) {
            m.wipe();
            continue; // timed out already, or a predecessor's
        }
        std::shared_ptr<Pending> p = std::move(it->second);
        pending_.erase(it);
        p->answer = std::move(m);
        p->done = true;
        if (p->callback)
            deferred_.push_back(std::move(p));
        else
            arrived_.notify_all();
    }
}

bool RemoteAuth::on_writable()
{
    ipc::Io r = outbox_.flush();
    if (r == ipc::Io::ok || r == ipc::Io::again)
        return r == ipc::Io::again;
    log::write(log::Err, "", "event=auth_ipc_error why=\"cannot reach the auth process\"");
    return false; // the requests that were waiting time out
}

bool RemoteAuth::on_readable()
{
    bool open = drain();
    run_deferred();
    return open;
}

void RemoteAuth::run_deferred()
{
    std::vector<std::shared_ptr<Pending>> ready;
    {
        std::lock_guard lock(mutex_);
        if (deferred_.empty())
            return;
        ready.swap(deferred_);
    }
    for (auto &p : ready) {
        AuthAnswer temp; // the request could not be sent
        temp.status = MODPOP3D_E_TEMP;
        p->callback(p->done ? answer_of(p->answer) : std::move(temp));
    }
}

void RemoteAuth::expire()
{
    uint64_t now = steady_ms();
    std::vector<std::shared_ptr<Pending>> late;
    {
        std::lock_guard lock(mutex_);
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second->callback && it->second->deadline_ms <= now) {
                late.push_back(std::move(it->second));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto &p : late) {
        log_timeout(p->what, p->timeout_ms);
        AuthAnswer temp;
        temp.status = MODPOP3D_E_TEMP;
        p->callback(std::move(temp));
    }
}

void RemoteAuth::log_timeout(const char *what, uint64_t timeout_ms) const
{
    if (std::string_view(what) == "hook")
        log::writef(log::Warning, "",
                    "event=hook_timeout why=\"no verdict from the LOGIN hooks\" timeout_ms=%llu",
                    static_cast<unsigned long long>(timeout_ms));
    else
        log::writef(log::Warning, "",
                    "event=auth_timeout why=\"no answer from the auth process\" timeout_ms=%llu",
                    static_cast<unsigned long long>(timeout_ms));
}

bool RemoteAuth::send(ipc::Message &request, const std::shared_ptr<Pending> &pending)
{
    uint64_t id = next_id_++;
    request.fields.emplace_back("id", std::to_string(id)); // receivers look keys up by name
    if (pending) {
        pending->id = id;
        std::lock_guard lock(mutex_);
        pending_[id] = pending;
    }
    // Queued, never dropped, when the auth process is behind (a burst of
    // logins fills the socket buffer); the event loop sends the rest.
    ipc::Io sent = outbox_.send(request);
    request.wipe();
    if (sent == ipc::Io::ok)
        return true;
    log::write(log::Err, "", "event=auth_ipc_error why=\"cannot reach the auth process\"");
    std::lock_guard lock(mutex_);
    pending_.erase(id);
    return false;
}

void RemoteAuth::wait_on_loop(const std::shared_ptr<Pending> &p, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = steady_ms();
        if (now >= deadline_ms)
            return;
        // The request itself may still wait for room in the socket.
        bool sending = outbox_.waiting() && outbox_.flush() == ipc::Io::again;
        pollfd pfd{socket_, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
        int n = poll(&pfd, 1, static_cast<int>(std::min<uint64_t>(deadline_ms - now, 1000)));
        if (n < 0 && errno != EINTR)
            return;
        bool open = drain(); // other logins' answers wait in deferred_
        std::lock_guard lock(mutex_);
        if (p->done || !open)
            return;
    }
}

AuthAnswer RemoteAuth::call(ipc::Message request, bool wait)
{
    AuthAnswer temp;
    temp.status = MODPOP3D_E_TEMP;
    auto pending = wait ? std::make_shared<Pending>() : nullptr;
    if (!send(request, pending) || !wait)
        return temp;
    uint64_t deadline = steady_ms() + static_cast<uint64_t>(timeout_ms_);
    bool answered;
    if (std::this_thread::get_id() == loop_thread_) {
        wait_on_loop(pending, deadline);
        std::lock_guard lock(mutex_);
        answered = pending->done;
    } else {
        // A pool thread: the event loop reads the answer and wakes it.
        std::unique_lock lock(mutex_);
        answered = arrived_.wait_for(lock, std::chrono::milliseconds(timeout_ms_),
                                     [&] { return pending->done; });
    }
    if (!answered) {
        {
            std::lock_guard lock(mutex_);
            pending_.erase(pending->id);
        }
        log_timeout("auth", static_cast<uint64_t>(timeout_ms_));
        return temp;
    }
    return answer_of(pending->answer);
}

namespace
{

ipc::Message login_request(modpop3d_session &session, bool apop, const std::string &user,
                           const std::string &secret, const std::string &timestamp)
{
    // One round trip: the auth process runs the hooks, and makes the grant
    // of a system user's session, itself.
    ipc::Message m("auth");
    m.add("op", apop ? "apop" : "plain").add("user", user).add("secret", secret);
    if (apop)
        m.add("timestamp", timestamp);
    authproto::put_facts(m, session);
    return m;
}

} // namespace

AuthAnswer RemoteAuth::login(modpop3d_session &session, bool apop, const std::string &user,
                             const std::string &secret, const std::string &timestamp)
{
    return call(login_request(session, apop, user, secret, timestamp));
}

void RemoteAuth::login_async(modpop3d_session &session, bool apop, const std::string &user,
                             const std::string &secret, const std::string &timestamp, Done done)
{
    ipc::Message m = login_request(session, apop, user, secret, timestamp);
    auto pending = std::make_shared<Pending>();
    pending->callback = std::move(done);
    pending->timeout_ms = static_cast<uint64_t>(timeout_ms_);
    pending->deadline_ms = steady_ms() + pending->timeout_ms;
    if (!send(m, pending)) {
        // Answered from the event loop like any other, never from inside
        // the caller.
        std::lock_guard lock(mutex_);
        deferred_.push_back(std::move(pending));
    }
}

AuthAnswer RemoteAuth::lookup_credentials(modpop3d_session &session, const std::string &user,
                                          const std::vector<std::string> &schemes)
{
    ipc::Message m("auth");
    std::string list;
    for (const auto &s : schemes)
        list += (list.empty() ? "" : " ") + s;
    m.add("op", "lookup").add("user", user).add("schemes", list);
    authproto::put_facts(m, session);
    return call(std::move(m));
}

namespace
{

ipc::Message hooks_request(uint32_t event, modpop3d_session &session,
                           const modpop3d_event_info &info)
{
    ipc::Message m("auth");
    m.add("op", "hooks").add("event", std::to_string(event));
    m.add("i.messages", std::to_string(info.messages))
        .add("i.retrieved", std::to_string(info.retrieved))
        .add("i.deleted", std::to_string(info.deleted))
        .add("i.octets", std::to_string(info.octets))
        .add("i.retrieved_octets", std::to_string(info.retrieved_octets))
        .add("i.deleted_octets", std::to_string(info.deleted_octets))
        .add("i.duration_usec", std::to_string(info.duration_usec));
    if (info.mailbox_path != nullptr)
        m.add("i.mailbox_path", info.mailbox_path);
    authproto::put_facts(m, session);
    return m;
}

} // namespace

int32_t RemoteAuth::run_hooks(uint32_t event, modpop3d_session &session,
                              const modpop3d_event_info &info)
{
    if (!has_hooks(event))
        return MODPOP3D_OK;
    // Only AUTH_OK and LOGIN can veto: other events are not waited for.
    bool veto = event == MODPOP3D_EV_AUTH_OK || event == MODPOP3D_EV_LOGIN;
    AuthAnswer a = call(hooks_request(event, session, info), veto);
    return veto ? a.status : MODPOP3D_OK;
}

void RemoteAuth::hooks_async(uint32_t event, modpop3d_session &session,
                             const modpop3d_event_info &info, int64_t timeout_ms, Done done)
{
    ipc::Message m = hooks_request(event, session, info);
    auto pending = std::make_shared<Pending>();
    pending->callback = std::move(done);
    pending->timeout_ms = static_cast<uint64_t>(timeout_ms);
    pending->deadline_ms = steady_ms() + pending->timeout_ms;
    pending->what = "hook";
    if (!send(m, pending)) {
        std::lock_guard lock(mutex_);
        deferred_.push_back(std::move(pending));
    }
}

int32_t RemoteAuth::finish_sasl_login(modpop3d_session &session, int32_t status,
                                      const std::string &instance)
{
    const bool on_login = facts_.on_login && status == MODPOP3D_OK && !instance.empty();
    if (!on_login)
        return run_auth_hooks(session, status);
    ipc::Message m("auth");
    m.add("op", "auth_hooks").add("status", std::to_string(status)).add("instance", instance);
    authproto::put_facts(m, session);
    return call(std::move(m)).status;
}

int32_t RemoteAuth::run_auth_hooks(modpop3d_session &session, int32_t status)
{
    if (!has_hooks(status == MODPOP3D_OK ? MODPOP3D_EV_AUTH_OK : MODPOP3D_EV_AUTH_FAIL))
        return status;
    ipc::Message m("auth");
    m.add("op", "auth_hooks").add("status", std::to_string(status));
    authproto::put_facts(m, session);
    return call(std::move(m)).status;
}

} // namespace modpop3d::daemon
