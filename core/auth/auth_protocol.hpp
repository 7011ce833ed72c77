// auth_protocol.hpp - the messages between login workers, the auth process
// and the master (ipc::Message over SOCK_SEQPACKET), in one place so that
// both ends agree.
//
// worker -> auth   "auth"   id op=plain|apop|lookup|auth_hooks|hooks
//                           user secret timestamp schemes status event
//                           i.messages ... (hook event info)
//                           f.KEY=VALUE (the session's facts)
// auth -> worker   "answer" id status instance r.KEY=VALUE (the result)
//                           A successful plain/apop login of a user whose
//                           uid is not the fast path's carries r.grant=TOKEN.
// auth -> master   "grant"  token slot user uid gid home r.KEY=VALUE
//                           (sent before the answer that names it)
// worker -> master "session" token + the client's socket (SCM_RIGHTS) and
//                           what the session process needs to continue
//                           (see session_process.hpp)
#pragma once

#include "auth/auth_service.hpp"
#include "ipc/message.hpp"
#include "modload/host_services.hpp"

#include <string>

namespace modpop3d::daemon::authproto
{

// put_facts / take_facts - a session's facts as f.KEY fields.
inline void put_facts(ipc::Message &m, const modpop3d_session &s)
{
    for (const auto &[k, v] : s.facts)
        m.add("f." + k, v);
}
inline void take_facts(const ipc::Message &m, modpop3d_session &s)
{
    for (const auto &[k, v] : m.fields)
        if (k.size() > 2 && k.compare(0, 2, "f.") == 0)
            s.set(k.substr(2), v);
}

// put_result / take_result - an answer's result map as r.KEY fields.
inline void put_result(ipc::Message &m, const std::map<std::string, std::string> &r)
{
    for (const auto &[k, v] : r)
        m.add("r." + k, v);
}
inline void take_result(const ipc::Message &m, std::map<std::string, std::string> &r)
{
    for (const auto &[k, v] : m.fields)
        if (k.size() > 2 && k.compare(0, 2, "r.") == 0)
            r[k.substr(2)] = v;
}

// status_of - a status field, checked: only the modapi's codes pass.
inline bool status_of(const ipc::Message &m, int32_t &status)
{
    const std::string *v = m.get("status");
    if (v == nullptr || v->empty() || v->size() > 4)
        return false;
    try {
        std::size_t used = 0;
        int n = std::stoi(*v, &used);
        if (used != v->size() || n > 0 || n < -64)
            return false;
        status = n;
        return true;
    } catch (...) {
        return false;
    }
}

} // namespace modpop3d::daemon::authproto
