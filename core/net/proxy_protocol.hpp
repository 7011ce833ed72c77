// proxy_protocol.hpp - the PROXY protocol header (HAProxy, versions 1 and 2)
// that a load balancer sends before the client's first byte, carrying the
// client's real address. Pure parsing, no I/O.
//
// Accepted only on listeners configured with proxy=yes, and only from
// proxy-trusted-networks; there the header is required (never guessed from
// the data), anywhere else it is never looked for.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace modpop3d::net
{

enum class ProxyStatus { need_more, done, error };

struct ProxyHeader {
    bool local = false; // v2 LOCAL or v1 UNKNOWN: keep the real peer address
    std::string source_ip, dest_ip;
    int source_port = 0, dest_port = 0;
    std::size_t length = 0; // header bytes to consume
    std::string error;      // for ProxyStatus::error
};

// The most a header may take: v1 is at most 107 bytes; v2 is bounded here
// (addresses plus a few TLVs) so a peer cannot make the server buffer more.
inline constexpr std::size_t proxy_max_header = 16 + 216 + 512;

// parse_proxy_header - parse the start of `data`. need_more when `data` is
// a valid prefix of a header (give more bytes), done with `out` filled, or
// error with out.error saying why.
ProxyStatus parse_proxy_header(std::string_view data, ProxyHeader &out);

} // namespace modpop3d::net
