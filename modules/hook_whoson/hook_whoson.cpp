// hook_whoson.cpp - the hook_whoson module: tells a WHOSON server who is
// online, as tpop3d's wso_login did: "LOGIN ADDRESS USER" after each login,
// "LOGOUT ADDRESS" when the session ends. ADDRESS is the client's address
// (the one a PROXY header named, behind a balancer).
//
// A WHOSON server that is down or slow never costs a login more than the
// timeout and never refuses one: the outcome is logged, the login goes on
// (POP-before-SMTP is a convenience for the user, not a condition of his
// login).
#include "conf_util.hpp"
#include "netaddr.hpp"
#include "whoson_client.hpp"

#include <memory>
#include <modpop3d/module.hpp>
#include <string>

namespace
{

namespace ws = modpop3d::whoson;
namespace na = modpop3d::netaddr;

constexpr uint16_t default_port = 9876;

const modpop3d_conf_item schema[] = {
    {"server", MODPOP3D_CONF_STRING, 0, "127.0.0.1",
     "WHOSON server: numeric IPv4 or IPv6 address, optional :PORT (default 9876); "
     "IPv6 with a port as [ADDRESS]:PORT.",
     nullptr, 0, 0},
    {"transport", MODPOP3D_CONF_ENUM, 0, "udp", "udp (one datagram each way) or tcp.", "udp|tcp", 0,
     0},
    {"timeout", MODPOP3D_CONF_DURATION, 0, "2s",
     "Longest wait for the server's reply (connect included); the login goes on regardless.",
     nullptr, 10, 60000},
    {"logout", MODPOP3D_CONF_BOOL, 0, "yes", "Send LOGOUT when the session ends.", nullptr, 0, 0},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    na::Endpoint server;
    ws::Transport transport = ws::Transport::udp;
    int64_t timeout_ms = 2000;
    bool logout = true;
};

// parse_server - the endpoint with the default port filled in.
std::string parse_server(const std::string &spec, na::Endpoint &ep)
{
    std::string why = na::parse_endpoint(spec, ep);
    if (why.empty() && ep.port == 0)
        na::set_port(ep, default_port);
    return why;
}

// safe_word - the user name goes on a space-separated line: it must be one
// printable word.
bool safe_word(const std::string &s)
{
    if (s.empty() || s.size() > 255)
        return false;
    for (unsigned char c : s)
        if (c <= 0x20 || c == 0x7f)
            return false;
    return true;
}

int32_t on_event(void *p, modpop3d_session *session, const modpop3d_event_info *info) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&] {
        const bool login = info->event == MODPOP3D_EV_LOGIN;
        if (!login && !(info->event == MODPOP3D_EV_LOGOUT && in.logout))
            return MODPOP3D_OK;
        na::ClientAddress client;
        if (!na::parse_client(in.host->session_get(session, "client_ip"), client)) {
            in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                         "event=whoson_skipped why=\"no client address\"");
            return MODPOP3D_OK;
        }
        std::string user;
        if (login) {
            const char *u = in.host->session_get(session, "user");
            user = u != nullptr ? u : "";
            if (!safe_word(user)) {
                in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                             "event=whoson_skipped rip=%s why=\"user name is not one printable "
                             "word\"",
                             client.text.c_str());
                return MODPOP3D_OK;
            }
        }
        const char *verb = login ? "LOGIN" : "LOGOUT";
        const uint64_t t0 = in.host->now_usec();
        ws::Reply r = ws::exchange(in.server, in.transport,
                                   ws::request_line(verb, client.text, user), in.timeout_ms);
        const unsigned long long ms = (in.host->now_usec() - t0) / 1000;
        if (r.outcome == ws::Outcome::positive) {
            in.host->log(in.ictx, MODPOP3D_LOG_DEBUG, "event=whoson verb=%s rip=%s ms=%llu", verb,
                         client.text.c_str(), ms);
            return MODPOP3D_OK;
        }
        // A '-' to LOGIN/LOGOUT is unusual but harmless; everything else
        // means the server did not record the login.
        const int32_t level =
            r.outcome == ws::Outcome::negative ? MODPOP3D_LOG_NOTICE : MODPOP3D_LOG_WARNING;
        std::string why;
        for (char c : r.text) // the server's text, made safe for one log line
            why += (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) ? '?' : c;
        in.host->log(in.ictx, level,
                     "event=whoson_failed verb=%s rip=%s server=%s outcome=%s ms=%llu why=\"%s\"",
                     verb, client.text.c_str(), in.server.text.c_str(), ws::outcome_name(r.outcome),
                     ms, why.substr(0, 200).c_str());
        return MODPOP3D_OK;
    });
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        na::Endpoint ep;
        std::string why =
            parse_server(modpop3d::confutil::str(host, conf, "server", "127.0.0.1"), ep);
        if (!why.empty())
            return host->conf_error(conf, "server", "%s", why.c_str());
        return MODPOP3D_OK;
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        using modpop3d::confutil::str;
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        std::string why = parse_server(str(host, conf, "server", "127.0.0.1"), inst->server);
        if (!why.empty())
            return host->conf_error(conf, "server", "%s", why.c_str());
        inst->transport =
            str(host, conf, "transport", "udp") == "tcp" ? ws::Transport::tcp : ws::Transport::udp;
        inst->timeout_ms = modpop3d::confutil::integer(host, conf, "timeout", 2000);
        inst->logout = modpop3d::confutil::boolean(host, conf, "logout", true);
        *ret_inst = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    auto *in = static_cast<Instance *>(p);
    modpop3d::guard_void(in->host, in->ictx, [&] { delete in; });
}

const modpop3d_hook_ops ops = {
    sizeof(modpop3d_hook_ops),
    MODPOP3D_EV_LOGIN | MODPOP3D_EV_LOGOUT,
    on_event,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_HOOK,
    // Each event uses its own socket and the instance is read-only after
    // instance_new: any number of calls may run at once.
    MODPOP3D_MODF_BLOCKING | MODPOP3D_MODF_THREAD_SAFE,
    "hook_whoson",
    "0.1.0",
    "WHOSON client: LOGIN/LOGOUT of each session's client address (POP-before-SMTP)",
    schema,
    sizeof(modpop3d_conf_item),
    0,
    conf_check,
    instance_new,
    nullptr,
    instance_free,
    &ops,
};

} // namespace

MODPOP3D_MODULE_DEFINE(descriptor)
