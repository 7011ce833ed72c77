// auth_remote.cpp - requests to the auth process (see auth_remote.hpp).
#include "daemon/auth_remote.hpp"

#include "daemon/auth_protocol.hpp"
#include "modload/host_services.hpp"
#include "util/log.hpp"

#include <chrono>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace modpop3d::daemon
{

RemoteAuth::RemoteAuth(int socket, Facts facts, int64_t timeout_ms)
    : socket_(socket), facts_(facts), timeout_ms_(timeout_ms)
{
    uint64_t start = 0;
    modload::host_table()->random_bytes(&start, sizeof start);
    next_id_ = (start >> 2) + 1; // never near wrapping
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    reader_ = std::thread([this] { read_answers(); });
}

RemoteAuth::~RemoteAuth()
{
    uint64_t one = 1;
    ssize_t ignored = write(stop_fd_, &one, sizeof one);
    (void)ignored;
    reader_.join();
    close(stop_fd_);
}

void RemoteAuth::read_answers()
{
    for (;;) {
        pollfd p[2] = {{socket_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        if (poll(p, 2, -1) < 0)
            continue; // EINTR
        if (p[1].revents)
            return;
        ipc::Message m;
        std::vector<int> fds;
        ipc::Io r = ipc::receive_message(socket_, m, fds, true);
        for (int fd : fds)
            close(fd); // answers carry none
        if (r == ipc::Io::again)
            continue;
        if (r != ipc::Io::ok || m.type != "answer") {
            if (r == ipc::Io::closed)
                return; // the master closed it: we are going away
            log::write(log::Err, "", "event=auth_ipc_error why=\"malformed answer\"");
            continue;
        }
        auto id = m.number("id");
        std::lock_guard lock(mutex_);
        auto it = id ? pending_.find(*id) : pending_.end();
        if (it == pending_.end())
            continue; // timed out already, or a predecessor's
        it->second->answer = std::move(m);
        it->second->done = true;
        pending_.erase(it);
        arrived_.notify_all();
    }
}

AuthAnswer RemoteAuth::call(ipc::Message request, bool wait)
{
    AuthAnswer answer;
    answer.status = MODPOP3D_E_TEMP;
    uint64_t id = next_id_++;
    request.fields.emplace_back("id", std::to_string(id)); // receivers look keys up by name
    Pending pending;
    if (wait) {
        std::lock_guard lock(mutex_);
        pending_[id] = &pending;
    }
    ipc::Io sent;
    {
        std::lock_guard lock(send_mutex_);
        sent = ipc::send_message(socket_, request);
    }
    request.wipe();
    if (sent != ipc::Io::ok) {
        log::write(log::Err, "", "event=auth_ipc_error why=\"cannot reach the auth process\"");
        std::lock_guard lock(mutex_);
        pending_.erase(id);
        return answer;
    }
    if (!wait)
        return answer;
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, std::chrono::milliseconds(timeout_ms_),
                           [&] { return pending.done; })) {
        pending_.erase(id);
        log::writef(log::Warning, "",
                    "event=auth_timeout why=\"no answer from the auth process\" "
                    "timeout_ms=%lld",
                    static_cast<long long>(timeout_ms_));
        return answer;
    }
    lock.unlock();
    const ipc::Message &m = pending.answer;
    int32_t status = MODPOP3D_E_TEMP;
    if (!authproto::status_of(m, status)) {
        log::write(log::Err, "", "event=auth_ipc_error why=\"answer without a valid status\"");
        return answer;
    }
    answer.status = status;
    answer.instance = m.value("instance");
    authproto::take_result(m, answer.result);
    pending.answer.wipe(); // a lookup's answer holds a secret
    return answer;
}

AuthAnswer RemoteAuth::login(modpop3d_session &session, bool apop, const std::string &user,
                             const std::string &secret, const std::string &timestamp)
{
    // One round trip: the auth process runs the hooks, and makes the grant
    // of a system user's session, itself.
    ipc::Message m("auth");
    m.add("op", apop ? "apop" : "plain").add("user", user).add("secret", secret);
    if (apop)
        m.add("timestamp", timestamp);
    authproto::put_facts(m, session);
    return call(std::move(m));
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

int32_t RemoteAuth::run_hooks(uint32_t event, modpop3d_session &session,
                              const modpop3d_event_info &info)
{
    if (!has_hooks(event))
        return MODPOP3D_OK;
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
    // Only AUTH_OK and LOGIN can veto: other events are not waited for.
    bool veto = event == MODPOP3D_EV_AUTH_OK || event == MODPOP3D_EV_LOGIN;
    AuthAnswer a = call(std::move(m), veto);
    return veto ? a.status : MODPOP3D_OK;
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
