// listen_spec.hpp - "listen:" values parsed and checked, with no socket in
// sight (the config parses them; net/listener binds them).
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
#pragma once

#include "address/cidr.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace modpop3d::address
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

} // namespace modpop3d::address
