// listener.hpp - listening sockets from "listen:" values.
//
// A value is ADDR:PORT with ADDR an IPv4 address, a bracketed IPv6 address
// ("[::1]:110") or "*" (all IPv6 and IPv4 addresses), then optional
// per-listener options as NAME=VALUE words:
//   tls=none|stls|implicit     (default: stls when tls-certificate is set)
//   certificate=PATH key=PATH chain=PATH   this listener's own certificate
//   tls-legacy=yes             accept TLS 1.0/1.1 and security level 1 here
//   plaintext-auth=tls-or-loopback|tls|always
//   domain=DOMAIN              appended to login names without a domain
//   proxy=yes                  a PROXY v1/v2 header is required first
//                              (from proxy-trusted-networks only)
// Sockets are non-blocking, close-on-exec, SO_REUSEADDR, and IPv6 ones are
// IPv6-only so that "0.0.0.0:110" and "[::]:110" can be given together.
#pragma once

#include "net/cidr.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace modpop3d::net
{

enum class TlsMode : uint8_t { unset, none, stls, implicit };

struct ListenOptions {
    TlsMode tls = TlsMode::unset;
    std::string certificate, key, chain; // empty: the global tls-* keys
    bool tls_legacy = false;
    std::string plaintext_auth; // empty: the global plaintext-auth
    std::string domain;
    bool proxy = false;
    // allow= / deny=: client ranges admitted on this listener (empty allow:
    // any); a client in deny is refused even when allow names it.
    std::vector<Cidr> allow, deny;
};

struct ListenSpec {
    std::string address; // numeric, without brackets
    int port = 0;
    std::string text; // the address part as written
    ListenOptions options;
};

// listener_admits - whether allow= / deny= let client `ip` in.
bool listener_admits(const ListenOptions &o, const std::string &ip);

// parse_listen - false with `why` set for a malformed value.
bool parse_listen(const std::string &text, ListenSpec &out, std::string &why);

struct Listener {
    int fd = -1;
    ListenSpec spec;
};

// open_listener - bind and listen; false with `why` (naming the address and
// the errno text) on failure.
bool open_listener(const ListenSpec &spec, Listener &out, std::string &why);

// Text form of a peer or local address, and whether it is loopback.
struct Endpoint {
    std::string ip;
    int port = 0;
    bool loopback = false;
    std::string limit_key; // IPv4 address, or the /64 prefix of an IPv6 address
};

// set_accept_options - options every connection accepted on `listen_fd`
// inherits from it, set once instead of once per connection (Linux copies
// TCP_NODELAY from a listening socket to the sockets accept() returns).
void set_accept_options(int listen_fd);

// bound_endpoint - the listening socket's own address when it is a specific
// one, which is then every accepted connection's local address; nullopt for
// a wildcard address (ask each connection's getsockname()).
std::optional<Endpoint> bound_endpoint(int listen_fd);

Endpoint endpoint_of(const sockaddr_storage &ss);
// endpoint_of_text - the same from a numeric address (a PROXY header's).
Endpoint endpoint_of_text(const std::string &ip, int port);

} // namespace modpop3d::net
