// session_handover.cpp - the "session" hand-over message (see
// session_handover.hpp).
#include "ipc/session_handover.hpp"

#include <algorithm>

namespace modpop3d::ipc
{

Message SessionHandover::to_message() const
{
    Message m("session");
    m.add("token", token).add("tls", tls ? "1" : "0").add("method", method).add("login", login);
    m.add("pending", pending).add("peer_ip", peer_ip).add("peer_port", std::to_string(peer_port));
    m.add("local_ip", local_ip).add("local_port", std::to_string(local_port));
    m.add("listener", listener);
    for (const auto &[k, v] : facts)
        m.add("f." + k, v);
    return m;
}

bool SessionHandover::from_message(const Message &m, std::string &why)
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

} // namespace modpop3d::ipc
