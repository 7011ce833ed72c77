// cidr.cpp - address ranges (see cidr.hpp).
#include "address/cidr.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace modpop3d::address
{

namespace
{

// to_v6 - IPv4 becomes IPv4-mapped IPv6, so one comparison serves both.
bool to_v6(const std::string &ip, std::array<uint8_t, 16> &out, bool &was_v4)
{
    in_addr a4;
    in6_addr a6;
    if (inet_pton(AF_INET, ip.c_str(), &a4) == 1) {
        out.fill(0);
        out[10] = out[11] = 0xff;
        std::memcpy(out.data() + 12, &a4, 4);
        was_v4 = true;
        return true;
    }
    if (inet_pton(AF_INET6, ip.c_str(), &a6) == 1) {
        std::memcpy(out.data(), &a6, 16);
        was_v4 = false;
        return true;
    }
    return false;
}

bool matches(const Cidr &c, const std::array<uint8_t, 16> &a)
{
    int full = c.bits / 8, rest = c.bits % 8;
    if (std::memcmp(c.prefix.data(), a.data(), static_cast<std::size_t>(full)) != 0)
        return false;
    if (rest == 0)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (c.prefix[static_cast<std::size_t>(full)] & mask) ==
           (a[static_cast<std::size_t>(full)] & mask);
}

} // namespace

bool parse_cidr_list(const std::string &text, std::vector<Cidr> &out, std::string &why)
{
    out.clear();
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ' || text[i] == ',' || text[i] == '\t') {
            ++i;
            continue;
        }
        std::size_t end = text.find_first_of(" ,\t", i);
        if (end == std::string::npos)
            end = text.size();
        std::string item = text.substr(i, end - i);
        i = end;
        std::string addr = item;
        int bits = -1;
        if (auto slash = item.find('/'); slash != std::string::npos) {
            addr = item.substr(0, slash);
            std::string b = item.substr(slash + 1);
            auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
            if (ec != std::errc() || p != b.data() + b.size() || b.empty()) {
                why = "'" + item + "': the prefix length is not a number";
                return false;
            }
        }
        Cidr c;
        bool v4 = false;
        if (!to_v6(addr, c.prefix, v4)) {
            why = "'" + item + "' is not a numeric IPv4 or IPv6 address or range";
            return false;
        }
        int max = v4 ? 32 : 128;
        if (bits < 0)
            bits = max;
        if (bits > max) {
            why = "'" + item + "': the prefix length is larger than " + std::to_string(max);
            return false;
        }
        c.bits = v4 ? bits + 96 : bits;
        out.push_back(c);
    }
    return true;
}

bool cidr_contains(const std::vector<Cidr> &ranges, const std::string &ip)
{
    std::array<uint8_t, 16> a{};
    bool v4 = false;
    if (!to_v6(ip, a, v4))
        return false;
    for (const Cidr &c : ranges)
        if (matches(c, a))
            return true;
    return false;
}

} // namespace modpop3d::address
