// whoson_client.cpp - the WHOSON wire exchange (see whoson_client.hpp):
// non-blocking sockets, one poll() deadline for connect, send and receive,
// so that a server that never answers costs a login at most the timeout.
#include "whoson_client.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <time.h>
#include <unistd.h>

namespace modpop3d::whoson
{
namespace
{

// A WHOSON reply is one short line; anything longer is not one.
constexpr std::size_t max_reply = 1024;

int64_t now_ms()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Fd - closes on scope exit.
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

// wait_for - poll one fd until `events` or the deadline; 1 ready, 0 timeout,
// -1 error (errno set).
int wait_for(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        pollfd p{fd, events, 0};
        int n = poll(&p, 1, static_cast<int>(left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        return 1;
    }
}

Reply failed(Outcome o, const std::string &why)
{
    Reply r;
    r.outcome = o;
    r.text = why;
    return r;
}

} // namespace

const char *outcome_name(Outcome o)
{
    switch (o) {
    case Outcome::positive:
        return "positive";
    case Outcome::negative:
        return "negative";
    case Outcome::error:
        return "error";
    case Outcome::timeout:
        return "timeout";
    case Outcome::io:
        return "io";
    case Outcome::malformed:
        return "malformed";
    }
    return "unknown";
}

std::string request_line(const std::string &verb, const std::string &address,
                         const std::string &argument)
{
    std::string line = verb + " " + address;
    if (!argument.empty())
        line += " " + argument;
    return line + "\r\n\r\n";
}

bool parse_reply(const std::string &data, Reply &out)
{
    // The reply ends with an empty line. Accept bare LF as well: a
    // line-oriented server written in a hurry sends "\n\n".
    auto end = data.find("\r\n\r\n");
    std::size_t line_end = end;
    if (end == std::string::npos) {
        end = data.find("\n\n");
        line_end = end;
        if (end == std::string::npos)
            return false;
    }
    std::string line = data.substr(0, line_end);
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.empty() || line.find_first_of("\r\n") != std::string::npos) {
        out = failed(Outcome::malformed, "not a one-line reply");
        return true;
    }
    switch (line[0]) {
    case '+':
        out.outcome = Outcome::positive;
        break;
    case '-':
        out.outcome = Outcome::negative;
        break;
    case '*':
        out.outcome = Outcome::error;
        break;
    default:
        out = failed(Outcome::malformed, "reply starts with neither '+', '-' nor '*'");
        return true;
    }
    out.text = line.substr(1);
    return true;
}

Reply exchange(const netaddr::Endpoint &server, Transport transport, const std::string &request,
               int64_t timeout_ms)
{
    const int64_t deadline = now_ms() + timeout_ms;
    const int type = transport == Transport::udp ? SOCK_DGRAM : SOCK_STREAM;
    Fd s(socket(server.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (s.fd < 0)
        return failed(Outcome::io, std::string("socket: ") + strerror(errno));
    // A connected UDP socket only accepts datagrams from the server and
    // reports ICMP port-unreachable as ECONNREFUSED.
    if (connect(s.fd, reinterpret_cast<const sockaddr *>(&server.sa), server.len) != 0) {
        if (errno != EINPROGRESS)
            return failed(Outcome::io, std::string("connect: ") + strerror(errno));
        int w = wait_for(s.fd, POLLOUT, deadline);
        if (w == 0)
            return failed(Outcome::timeout, "no connection within the timeout");
        int err = 0;
        socklen_t len = sizeof err;
        if (w < 0 || getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0)
            return failed(Outcome::io, std::string("connect: ") + strerror(err));
    }
    std::size_t sent = 0;
    while (sent < request.size()) {
        ssize_t n = send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n >= 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return failed(Outcome::io, std::string("send: ") + strerror(errno));
        int w = wait_for(s.fd, POLLOUT, deadline);
        if (w == 0)
            return failed(Outcome::timeout, "request not sent within the timeout");
        if (w < 0)
            return failed(Outcome::io, std::string("poll: ") + strerror(errno));
    }
    std::string got;
    char buf[512];
    for (;;) {
        Reply r;
        if (parse_reply(got, r))
            return r;
        if (got.size() > max_reply)
            return failed(Outcome::malformed, "reply too long");
        int w = wait_for(s.fd, POLLIN, deadline);
        if (w == 0)
            return failed(Outcome::timeout, "no reply within the timeout");
        if (w < 0)
            return failed(Outcome::io, std::string("poll: ") + strerror(errno));
        ssize_t n = recv(s.fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0)
            return failed(Outcome::io, std::string("recv: ") + strerror(errno));
        if (n == 0)
            return failed(Outcome::io, "connection closed before a complete reply");
        if (transport == Transport::udp) {
            // One datagram is the whole reply.
            Reply d;
            if (parse_reply(std::string(buf, static_cast<std::size_t>(n)), d))
                return d;
            return failed(Outcome::malformed, "datagram without the closing empty line");
        }
        got.append(buf, static_cast<std::size_t>(n));
    }
}

} // namespace modpop3d::whoson
