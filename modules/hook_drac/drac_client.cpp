// drac_client.cpp - the ONC RPC side of hook_drac, on libtirpc: our own
// non-blocking socket (so that connect is bounded too: clnt_vc_create would
// block in connect), then clnt_dg_create/clnt_vc_create on it and one
// clnt_call with what is left of the deadline. Every call has its own socket
// and CLIENT, so calls from several threads do not share state.
#include "drac_client.hpp"

extern "C" {
#include "drac.h"
}

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <rpc/pmap_prot.h>
#include <time.h>
#include <unistd.h>

namespace modpop3d::drac
{
namespace
{

constexpr uint16_t portmapper_port = 111;

int64_t now_ms()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

timeval to_timeval(int64_t ms)
{
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    return tv;
}

struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
};

// open_socket - a socket to `ep`, connected (within the deadline for TCP); the
// fd is left blocking, as libtirpc's transports expect (they poll with the
// call's timeout before each read).
std::string open_socket(const netaddr::Endpoint &ep, Transport t, int64_t deadline, Fd &out)
{
    const int type = t == Transport::udp ? SOCK_DGRAM : SOCK_STREAM;
    out.fd = socket(ep.family, type | SOCK_CLOEXEC | (t == Transport::tcp ? SOCK_NONBLOCK : 0), 0);
    if (out.fd < 0)
        return std::string("socket: ") + strerror(errno);
    // UDP is connected too: then an ICMP port-unreachable reaches the call
    // as ECONNREFUSED, and a DRAC server that is down costs no timeout.
    if (t == Transport::udp) {
        if (connect(out.fd, reinterpret_cast<const sockaddr *>(&ep.sa), ep.len) != 0)
            return std::string("connect: ") + strerror(errno);
        return "";
    }
    if (connect(out.fd, reinterpret_cast<const sockaddr *>(&ep.sa), ep.len) != 0) {
        if (errno != EINPROGRESS)
            return std::string("connect: ") + strerror(errno);
        for (;;) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return "no connection within the timeout";
            pollfd p{out.fd, POLLOUT, 0};
            int n = poll(&p, 1, static_cast<int>(left));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return std::string("poll: ") + strerror(errno);
            if (n > 0)
                break;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(out.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0)
            return std::string("connect: ") + strerror(err);
    }
    int flags = fcntl(out.fd, F_GETFL);
    if (flags < 0 || fcntl(out.fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return std::string("fcntl: ") + strerror(errno);
    return "";
}

// call - one RPC to prog/vers/proc at `ep`; "" on an answer.
std::string call(const netaddr::Endpoint &ep, Transport t, rpcprog_t prog, rpcvers_t vers,
                 rpcproc_t proc, xdrproc_t xargs, void *args, xdrproc_t xres, void *res,
                 int64_t deadline)
{
    Fd fd(-1);
    std::string why = open_socket(ep, t, deadline, fd);
    if (!why.empty())
        return why;
    netbuf nb{};
    nb.maxlen = nb.len = ep.len;
    nb.buf = const_cast<sockaddr_storage *>(&ep.sa);
    CLIENT *clnt = t == Transport::udp ? clnt_dg_create(fd.fd, &nb, prog, vers, 0, 0)
                                       : clnt_vc_create(fd.fd, &nb, prog, vers, 0, 0);
    if (clnt == nullptr)
        return std::string("cannot create the RPC client: ") + clnt_sperrno(rpc_createerr.cf_stat);
    int64_t left = deadline - now_ms();
    if (left <= 0) {
        clnt_destroy(clnt);
        return "no time left for the call";
    }
    if (t == Transport::udp) {
        // One retransmission halfway through: a lost datagram costs half
        // the timeout, not all of it.
        timeval retry = to_timeval(left / 2 > 50 ? left / 2 : left);
        clnt_control(clnt, CLSET_RETRY_TIMEOUT, reinterpret_cast<char *>(&retry));
    }
    clnt_stat st = clnt_call(clnt, proc, xargs, static_cast<caddr_t>(args), xres,
                             static_cast<caddr_t>(res), to_timeval(left));
    if (st != RPC_SUCCESS) {
        rpc_err err{};
        clnt_geterr(clnt, &err);
        why = clnt_sperrno(st);
        if ((st == RPC_CANTSEND || st == RPC_CANTRECV) && err.re_errno != 0)
            why += std::string(": ") + strerror(err.re_errno);
    }
    clnt_destroy(clnt); // fd is ours: closed by Fd
    return why;
}

// getport - the portmapper's port for DRACPROG/version on the server's host.
std::string getport(const netaddr::Endpoint &server, Transport t, rpcvers_t vers, int64_t deadline,
                    uint16_t &port)
{
    netaddr::Endpoint pm = server;
    netaddr::set_port(pm, portmapper_port);
    pmap query{};
    query.pm_prog = DRACPROG;
    query.pm_vers = vers;
    query.pm_prot = t == Transport::udp ? IPPROTO_UDP : IPPROTO_TCP;
    query.pm_port = 0;
    u_long answer = 0;
    std::string why =
        call(pm, t, PMAPPROG, PMAPVERS, PMAPPROC_GETPORT, reinterpret_cast<xdrproc_t>(xdr_pmap),
             &query, reinterpret_cast<xdrproc_t>(xdr_u_long), &answer, deadline);
    if (!why.empty())
        return "portmapper: " + why;
    if (answer == 0 || answer > 65535)
        return "portmapper: program 900101 is not registered";
    port = static_cast<uint16_t>(answer);
    return "";
}

} // namespace

const char *status_name(int status)
{
    switch (status) {
    case ADD_SUCCESS:
        return "success";
    case ADD_PERM:
        return "perm";
    case ADD_SYSERR:
        return "syserr";
    default:
        return "unknown";
    }
}

Result add(const netaddr::Endpoint &server, Transport transport,
           const netaddr::ClientAddress &client, int64_t timeout_ms)
{
    const int64_t deadline = now_ms() + timeout_ms;
    Result r;
    const rpcvers_t vers = client.family == AF_INET6 ? DRACVERS6 : DRACVERS;
    netaddr::Endpoint ep = server;
    if (ep.port == 0) {
        uint16_t port = 0;
        r.why = getport(server, transport, vers, deadline, port);
        if (!r.why.empty())
            return r;
        netaddr::set_port(ep, port);
    }
    r.port = ep.port;
    addstat status = ADD_UNKNOWN;
    if (client.family == AF_INET) {
        drac_add_parm arg{};
        // DRAC's wire form: the address read as a big-endian number.
        arg.ip_addr = (static_cast<u_long>(client.bytes[0]) << 24) |
                      (static_cast<u_long>(client.bytes[1]) << 16) |
                      (static_cast<u_long>(client.bytes[2]) << 8) | client.bytes[3];
        r.why = call(ep, transport, DRACPROG, DRACVERS, DRACPROC_ADD,
                     reinterpret_cast<xdrproc_t>(xdr_drac_add_parm), &arg,
                     reinterpret_cast<xdrproc_t>(xdr_addstat), &status, deadline);
    } else {
        drac_add_parm6 arg{};
        std::memcpy(arg.ip_addr6, client.bytes, sizeof arg.ip_addr6);
        r.why = call(ep, transport, DRACPROG, DRACVERS6, DRACPROC_ADD6,
                     reinterpret_cast<xdrproc_t>(xdr_drac_add_parm6), &arg,
                     reinterpret_cast<xdrproc_t>(xdr_addstat), &status, deadline);
    }
    if (r.why.empty()) {
        r.called = true;
        r.status = static_cast<int>(status);
    }
    return r;
}

} // namespace modpop3d::drac
