// netaddr.hpp - numeric network addresses for the hook modules that notify a
// server of each login (hook_whoson, hook_drac): parsing a configured
// "ADDRESS[:PORT]" into a sockaddr, and reading a client address fact as
// IPv4 or IPv6 bytes. Header-only, compiled into each module.
//
// Only numeric addresses: a name would have to be resolved, and a login must
// never wait for DNS (these calls sit on the login path).
#pragma once

#include <arpa/inet.h>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>

namespace modpop3d::netaddr
{

// Endpoint - a parsed server address; port 0 when the spec named none.
struct Endpoint {
    sockaddr_storage sa{};
    socklen_t len = 0;
    int family = AF_UNSPEC;
    uint16_t port = 0;
    std::string text; // the address without the port, as written
};

// parse_endpoint - "1.2.3.4", "1.2.3.4:9876", "::1", "[::1]" or "[::1]:9876".
// Returns "" and fills `out`, or a reason for the configuration error.
inline std::string parse_endpoint(const std::string &spec, Endpoint &out)
{
    std::string host = spec;
    std::string port;
    if (!spec.empty() && spec[0] == '[') {
        auto close = spec.find(']');
        if (close == std::string::npos)
            return "missing ']' after the IPv6 address";
        host = spec.substr(1, close - 1);
        std::string rest = spec.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':' || rest.size() == 1)
                return "expected ':PORT' after ']'";
            port = rest.substr(1);
        }
    } else if (spec.find(':') == spec.rfind(':') && spec.find(':') != std::string::npos) {
        // exactly one ':' - IPv4 with a port (a bare IPv6 address has two or more)
        host = spec.substr(0, spec.find(':'));
        port = spec.substr(spec.find(':') + 1);
        if (port.empty())
            return "empty port after ':'";
    }
    out = Endpoint{};
    out.text = host;
    if (!port.empty()) {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
            return "port '" + port + "' is not a number";
        unsigned long p = std::stoul(port);
        if (p == 0 || p > 65535)
            return "port " + port + " is out of range 1-65535";
        out.port = static_cast<uint16_t>(p);
    }
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
        auto *sin = reinterpret_cast<sockaddr_in *>(&out.sa);
        sin->sin_family = AF_INET;
        sin->sin_addr = a4;
        sin->sin_port = htons(out.port);
        out.len = sizeof(sockaddr_in);
        out.family = AF_INET;
    } else if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
        auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&out.sa);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = a6;
        sin6->sin6_port = htons(out.port);
        out.len = sizeof(sockaddr_in6);
        out.family = AF_INET6;
    } else {
        return "'" + host + "' is not a numeric IPv4 or IPv6 address (names are not resolved)";
    }
    return "";
}

// set_port - give a parsed endpoint a port (the default, or the portmapper's answer).
inline void set_port(Endpoint &ep, uint16_t port)
{
    ep.port = port;
    if (ep.family == AF_INET)
        reinterpret_cast<sockaddr_in *>(&ep.sa)->sin_port = htons(port);
    else if (ep.family == AF_INET6)
        reinterpret_cast<sockaddr_in6 *>(&ep.sa)->sin6_port = htons(port);
}

// ClientAddress - a client's address as bytes; an IPv4-mapped IPv6 address
// ("::ffff:192.0.2.1", what a dual-stack listener reports) counts as IPv4,
// since that is the address an MTA will see the same client come from.
struct ClientAddress {
    int family = AF_UNSPEC;
    unsigned char bytes[16] = {};
    std::string text; // canonical text form (IPv4 dotted quad for mapped ones)
};

inline bool parse_client(const char *fact, ClientAddress &out)
{
    out = ClientAddress{};
    if (fact == nullptr)
        return false;
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, fact, &a4) == 1) {
        out.family = AF_INET;
        std::memcpy(out.bytes, &a4, 4);
    } else if (inet_pton(AF_INET6, fact, &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            out.family = AF_INET;
            std::memcpy(out.bytes, a6.s6_addr + 12, 4);
        } else {
            out.family = AF_INET6;
            std::memcpy(out.bytes, a6.s6_addr, 16);
        }
    } else {
        return false;
    }
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(out.family, out.bytes, buf, sizeof buf) == nullptr)
        return false;
    out.text = buf;
    return true;
}

} // namespace modpop3d::netaddr
