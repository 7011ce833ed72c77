// hook_drac.cpp - the hook_drac module: after each login, asks a DRAC server
// (rpc.dracd) to let the client's address relay mail for a while, as
// tpop3d's dracauth() call did. The address is the client's (the one a
// PROXY header named, behind a balancer); IPv4 goes by DRAC version 1,
// IPv6 by version 2.
//
// A DRAC server that is down, refuses or never answers costs a login at most
// the timeout and never refuses it: the outcome is logged and the login goes
// on (relaying is a convenience for the user, not a condition of his login).
#include "conf_util.hpp"
#include "drac_client.hpp"
#include "netaddr.hpp"

#include <memory>
#include <modpop3d/module.hpp>
#include <string>

namespace
{

namespace dc = modpop3d::drac;
namespace na = modpop3d::netaddr;

const modpop3d_conf_item schema[] = {
    {"server", MODPOP3D_CONF_STRING, 0, "127.0.0.1",
     "DRAC server: numeric IPv4 or IPv6 address with :PORT to call that port directly "
     "(IPv6 as [ADDRESS]:PORT); an IPv4 address without a port asks its portmapper.",
     nullptr, 0, 0},
    {"transport", MODPOP3D_CONF_ENUM, 0, "udp", "udp (as DRAC's own dracauth) or tcp.", "udp|tcp",
     0, 0},
    {"timeout", MODPOP3D_CONF_DURATION, 0, "2s",
     "Longest time one notification may take, portmapper lookup included; the login goes on "
     "regardless.",
     nullptr, 10, 60000},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    na::Endpoint server;
    dc::Transport transport = dc::Transport::udp;
    int64_t timeout_ms = 2000;
};

std::string parse_server(const std::string &spec, na::Endpoint &ep)
{
    std::string why = na::parse_endpoint(spec, ep);
    if (why.empty() && ep.port == 0 && ep.family == AF_INET6)
        why = "an IPv6 server needs a port ([ADDRESS]:PORT): the portmapper is asked over "
              "IPv4 only";
    return why;
}

int32_t on_event(void *p, modpop3d_session *session, const modpop3d_event_info *info) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&] {
        if (info->event != MODPOP3D_EV_LOGIN)
            return MODPOP3D_OK;
        na::ClientAddress client;
        if (!na::parse_client(in.host->session_get(session, "client_ip"), client)) {
            in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                         "event=drac_skipped why=\"no client address\"");
            return MODPOP3D_OK;
        }
        const uint64_t t0 = in.host->now_usec();
        dc::Result r = dc::add(in.server, in.transport, client, in.timeout_ms);
        const unsigned long long ms = (in.host->now_usec() - t0) / 1000;
        if (r.called && r.status == 0) {
            in.host->log(in.ictx, MODPOP3D_LOG_DEBUG, "event=drac rip=%s ms=%llu",
                         client.text.c_str(), ms);
            return MODPOP3D_OK;
        }
        if (r.called) // the server answered, but did not add the address
            in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                         "event=drac_failed rip=%s server=%s status=%s ms=%llu%s",
                         client.text.c_str(), in.server.text.c_str(), dc::status_name(r.status), ms,
                         r.status == 1 ? " why=\"this host is not in the server's allow list\""
                                       : "");
        else
            in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                         "event=drac_failed rip=%s server=%s ms=%llu why=\"%s\"",
                         client.text.c_str(), in.server.text.c_str(), ms, r.why.c_str());
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
            str(host, conf, "transport", "udp") == "tcp" ? dc::Transport::tcp : dc::Transport::udp;
        inst->timeout_ms = modpop3d::confutil::integer(host, conf, "timeout", 2000);
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
    MODPOP3D_EV_LOGIN,
    on_event,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_HOOK,
    // Each call has its own socket and RPC client; the instance is
    // read-only after instance_new.
    MODPOP3D_MODF_BLOCKING | MODPOP3D_MODF_THREAD_SAFE,
    "hook_drac",
    "0.1.0",
    "DRAC client: authorise each login's client address for SMTP relaying (POP-before-SMTP)",
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
