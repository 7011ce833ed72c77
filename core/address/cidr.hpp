// cidr.hpp - address ranges ("10.0.0.0/8", "2001:db8::/32", "192.0.2.1")
// for the networks an operator trusts (plaintext logins without TLS, and the
// senders of PROXY headers).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace modpop3d::address
{

struct Cidr {
    std::array<uint8_t, 16> prefix{}; // IPv4 as ::ffff:a.b.c.d
    int bits = 0;                     // of the 128-bit form
};

// parse_cidr_list - blank- or comma-separated ranges; false with `why`
// naming the bad item.
bool parse_cidr_list(const std::string &text, std::vector<Cidr> &out, std::string &why);

// cidr_contains - whether `ip` (numeric text, IPv4 or IPv6) is in a range.
bool cidr_contains(const std::vector<Cidr> &ranges, const std::string &ip);

} // namespace modpop3d::address
