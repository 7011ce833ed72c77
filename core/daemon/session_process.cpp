// session_process.cpp - the hand-over message and a system user's session
// process (see session_process.hpp).
#include "daemon/session_process.hpp"

#include "daemon/privileges.hpp"
#include "daemon/server.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace modpop3d::daemon
{

ipc::Message SessionHandover::to_message() const
{
    ipc::Message m("session");
    m.add("token", token).add("tls", tls ? "1" : "0").add("method", method).add("login", login);
    m.add("pending", pending).add("peer_ip", peer_ip).add("peer_port", std::to_string(peer_port));
    m.add("local_ip", local_ip).add("local_port", std::to_string(local_port));
    m.add("listener", listener);
    for (const auto &[k, v] : facts)
        m.add("f." + k, v);
    return m;
}

bool SessionHandover::from_message(const ipc::Message &m, std::string &why)
{
    auto hex = [](const std::string &t) {
        return t.size() == 32 && std::all_of(t.begin(), t.end(), [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
               });
    };
    token = m.value("token");
    method = m.value("method");
    auto pp = m.number("peer_port", 65535), lp = m.number("local_port", 65535);
    const std::string t = m.value("tls");
    if (!hex(token) || (t != "0" && t != "1") || !pp || !lp || m.value("peer_ip").empty() ||
        m.value("local_ip").empty() ||
        (method != "USER" && method != "APOP" && method != "PLAIN" && method != "LOGIN")) {
        why = "malformed hand-over";
        return false;
    }
    tls = t == "1";
    login = m.value("login");
    pending = m.value("pending");
    peer_ip = m.value("peer_ip");
    local_ip = m.value("local_ip");
    peer_port = static_cast<uint16_t>(*pp);
    local_port = static_cast<uint16_t>(*lp);
    listener = m.value("listener");
    facts.clear();
    for (const auto &[k, v] : m.fields)
        if (k.size() > 2 && k.compare(0, 2, "f.") == 0)
            facts[k.substr(2)] = v;
    return true;
}

int run_session_process(config::Configuration &conf, modload::ModuleSet &modules,
                        const SessionGrant &grant, SessionHandover handover, SharedLimits *limits,
                        int auth_socket)
{
    std::string why;
    if (!become_user(grant.user, grant.uid, grant.gid, why)) {
        log::writef(log::Err, "", "event=session_failed user=%s why=%s",
                    log::quote(grant.user).c_str(), log::quote(why).c_str());
        static const char msg[] = "-ERR [SYS/TEMP] Cannot open the maildrop now\r\n";
        ssize_t ignored = write(handover.fd, msg, sizeof msg - 1);
        (void)ignored;
        return 3;
    }
    // A session outlives neither its master nor a drain: SIGTERM from the
    // master (or its death) ends it like a worker's session.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    config::Diagnostics diags;
    if (!modules.process_init(diags, 1u << MODPOP3D_KIND_MAILBOX)) {
        for (const auto &l : diags.lines())
            log::writef(log::Err, "", "event=session_failed why=%s", log::quote(l).c_str());
        return 3;
    }
    auto server = std::make_unique<Server>(conf, modules);
    server->serve_handover(std::move(handover), grant, limits, auth_socket);
    return server->run();
}

} // namespace modpop3d::daemon
