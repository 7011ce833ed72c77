// listener.cpp - listening sockets (see listener.hpp).
#include "net/listener.hpp"

#include "util/words.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

namespace modpop3d::net
{

bool open_listener(const address::ListenSpec &spec, Listener &out, std::string &why)
{
    sockaddr_storage ss{};
    socklen_t len = 0;
    bool v6 = spec.address.find(':') != std::string::npos;
    if (v6) {
        auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(static_cast<uint16_t>(spec.port));
        inet_pton(AF_INET6, spec.address.c_str(), &s6->sin6_addr);
        len = sizeof *s6;
    } else {
        auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(static_cast<uint16_t>(spec.port));
        inet_pton(AF_INET, spec.address.c_str(), &s4->sin_addr);
        len = sizeof *s4;
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        why = "socket() for " + spec.text + ": " + std::strerror(errno);
        return false;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0 || listen(fd, 1024) != 0) {
        why = "cannot listen on " + spec.text + ": " + std::strerror(errno);
        close(fd);
        return false;
    }
    out.fd = fd;
    out.spec = spec;
    return true;
}

void set_accept_options(int listen_fd)
{
    // Replies are whole when written (the engine buffers them), so Nagle
    // could only hold a reply back until the client's delayed ACK.
    int one = 1;
    setsockopt(listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::optional<Endpoint> bound_endpoint(int listen_fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(listen_fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return std::nullopt;
    if (ss.ss_family == AF_INET) {
        if (reinterpret_cast<const sockaddr_in *>(&ss)->sin_addr.s_addr == htonl(INADDR_ANY))
            return std::nullopt;
    } else if (ss.ss_family == AF_INET6) {
        const in6_addr &a = reinterpret_cast<const sockaddr_in6 *>(&ss)->sin6_addr;
        if (IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_V4MAPPED(&a))
            return std::nullopt; // a mapped wildcard too: ask each connection
    } else {
        return std::nullopt;
    }
    return endpoint_of(ss);
}

Endpoint endpoint_of(const sockaddr_storage &ss)
{
    Endpoint e;
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        auto *s4 = reinterpret_cast<const sockaddr_in *>(&ss);
        inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
        e.port = ntohs(s4->sin_port);
        e.loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
        e.ip = buf;
        e.limit_key = e.ip;
    } else if (ss.ss_family == AF_INET6) {
        auto *s6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
        e.port = ntohs(s6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            in_addr a4;
            std::memcpy(&a4, s6->sin6_addr.s6_addr + 12, 4);
            inet_ntop(AF_INET, &a4, buf, sizeof buf);
            e.loopback = (ntohl(a4.s_addr) >> 24) == 127;
            e.ip = buf;
            e.limit_key = e.ip;
        } else {
            inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
            e.loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
            e.ip = buf;
            // Per-/64 limits: one IPv6 client usually owns a whole /64.
            in6_addr prefix = s6->sin6_addr;
            std::memset(prefix.s6_addr + 8, 0, 8);
            inet_ntop(AF_INET6, &prefix, buf, sizeof buf);
            e.limit_key = std::string(buf) + "/64";
        }
    }
    return e;
}

} // namespace modpop3d::net

namespace modpop3d::net
{

Endpoint endpoint_of_text(const std::string &ip, int port)
{
    sockaddr_storage ss{};
    auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
    auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(static_cast<uint16_t>(port));
    } else if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(static_cast<uint16_t>(port));
    }
    return endpoint_of(ss);
}

} // namespace modpop3d::net
