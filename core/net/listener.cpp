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

namespace
{

bool parse_option(const std::string &word, ListenOptions &o, std::string &why)
{
    auto eq = word.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == word.size()) {
        why = "'" + word + "' is not a listener option (NAME=VALUE)";
        return false;
    }
    std::string name = word.substr(0, eq), value = word.substr(eq + 1);
    if (name == "tls") {
        if (value == "none")
            o.tls = TlsMode::none;
        else if (value == "stls")
            o.tls = TlsMode::stls;
        else if (value == "implicit")
            o.tls = TlsMode::implicit;
        else {
            why = "tls=" + value + ": expected none, stls or implicit";
            return false;
        }
    } else if (name == "certificate") {
        o.certificate = value;
    } else if (name == "key") {
        o.key = value;
    } else if (name == "chain") {
        o.chain = value;
    } else if (name == "tls-legacy") {
        if (value != "yes" && value != "no") {
            why = "tls-legacy=" + value + ": expected yes or no";
            return false;
        }
        o.tls_legacy = value == "yes";
    } else if (name == "plaintext-auth") {
        if (value != "tls-or-loopback" && value != "tls" && value != "always") {
            why = "plaintext-auth=" + value + ": expected tls-or-loopback, tls or always";
            return false;
        }
        o.plaintext_auth = value;
    } else if (name == "proxy") {
        if (value != "yes" && value != "no") {
            why = "proxy=" + value + ": expected yes or no";
            return false;
        }
        o.proxy = value == "yes";
    } else if (name == "allow" || name == "deny") {
        std::string bad;
        if (!parse_cidr_list(value, name == "allow" ? o.allow : o.deny, bad)) {
            why = name + "=" + value + ": " + bad;
            return false;
        }
    } else if (name == "domain") {
        if (value.find_first_of("@/ \t") != std::string::npos) {
            why = "domain=" + value + ": not a domain name";
            return false;
        }
        o.domain = value;
    } else {
        why = "unknown listener option '" + name +
              "' (known: tls, certificate, key, chain, tls-legacy, plaintext-auth, domain, proxy, "
              "allow, deny)";
        return false;
    }
    return true;
}

} // namespace

bool listener_admits(const ListenOptions &o, const std::string &ip)
{
    if (cidr_contains(o.deny, ip))
        return false;
    return o.allow.empty() || cidr_contains(o.allow, ip);
}

bool parse_listen(const std::string &value, ListenSpec &out, std::string &why)
{
    out = ListenSpec{};
    // The address comes first; options follow, separated by blanks.
    const std::vector<std::string> words = util::split_words(value);
    if (words.empty()) {
        why = "empty listen value: ADDR:PORT, [V6ADDR]:PORT or *:PORT";
        return false;
    }
    for (std::size_t i = 1; i < words.size(); ++i)
        if (!parse_option(words[i], out.options, why))
            return false;
    if (out.options.key.empty() != out.options.certificate.empty()) {
        why = "certificate= and key= go together";
        return false;
    }
    const std::string text = words.front();
    out.text = text;
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 >= text.size()) {
        why = "'" + text + "' needs a port: ADDR:PORT, [V6ADDR]:PORT or *:PORT";
        return false;
    }
    std::string host = text.substr(0, colon);
    std::string port = text.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || ptr != port.data() + port.size() || out.port < 1 || out.port > 65535) {
        why = "'" + port + "' is not a port number (1-65535)";
        return false;
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host == "*")
        host = "::";
    in6_addr a6;
    in_addr a4;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1 && inet_pton(AF_INET, host.c_str(), &a4) != 1) {
        why = "'" + host + "' is not a numeric IPv4 or IPv6 address";
        return false;
    }
    out.address = host;
    return true;
}

bool open_listener(const ListenSpec &spec, Listener &out, std::string &why)
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
