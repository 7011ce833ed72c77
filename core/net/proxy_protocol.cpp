// proxy_protocol.cpp - PROXY protocol v1 and v2 headers (see
// proxy_protocol.hpp).
#include "net/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <vector>

namespace modpop3d::net
{

namespace
{

constexpr char v2_signature[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                   '\n', 'Q',  'U',  'I',  'T',  '\n'};
constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_max = 107; // the specification's bound, CRLF included

ProxyStatus fail(ProxyHeader &out, std::string why)
{
    out.error = std::move(why);
    return ProxyStatus::error;
}

bool parse_port(std::string_view text, int &port)
{
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0'))
        return false;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    return ec == std::errc() && p == text.data() + text.size() && port <= 65535;
}

bool canonical_ip(std::string_view text, int family, std::string &out)
{
    std::string s(text);
    unsigned char buf[16];
    char back[INET6_ADDRSTRLEN];
    if (inet_pton(family, s.c_str(), buf) != 1 ||
        inet_ntop(family, buf, back, sizeof back) == nullptr)
        return false;
    out = back;
    return true;
}

ProxyStatus parse_v1(std::string_view data, ProxyHeader &out)
{
    const std::size_t crlf = data.substr(0, v1_max).find("\r\n");
    if (crlf == std::string_view::npos)
        return data.size() >= v1_max ? fail(out, "PROXY v1 header longer than 107 bytes")
                                     : ProxyStatus::need_more;
    std::string_view line = data.substr(v1_prefix.size(), crlf - v1_prefix.size());
    std::vector<std::string_view> words;
    while (!line.empty()) {
        auto sp = line.find(' ');
        words.push_back(line.substr(0, sp));
        if (sp == std::string_view::npos)
            break;
        line.remove_prefix(sp + 1);
    }
    out.length = crlf + 2;
    if (!words.empty() && words[0] == "UNKNOWN") {
        out.local = true; // the rest of the line is to be ignored
        return ProxyStatus::done;
    }
    if (words.size() != 5 || (words[0] != "TCP4" && words[0] != "TCP6"))
        return fail(out, "malformed PROXY v1 header");
    int family = words[0] == "TCP4" ? AF_INET : AF_INET6;
    if (!canonical_ip(words[1], family, out.source_ip) ||
        !canonical_ip(words[2], family, out.dest_ip) || !parse_port(words[3], out.source_port) ||
        !parse_port(words[4], out.dest_port))
        return fail(out, "bad address or port in PROXY v1 header");
    return ProxyStatus::done;
}

ProxyStatus parse_v2(std::string_view data, ProxyHeader &out)
{
    if (data.size() < 16)
        return ProxyStatus::need_more;
    const auto *b = reinterpret_cast<const unsigned char *>(data.data());
    const unsigned version = b[12] >> 4, command = b[12] & 0x0f;
    const unsigned family = b[13] >> 4, transport = b[13] & 0x0f;
    const std::size_t len = (std::size_t{b[14]} << 8) | b[15];
    if (version != 2 || command > 1)
        return fail(out, "unsupported PROXY v2 version or command");
    if (16 + len > proxy_max_header)
        return fail(out, "PROXY v2 header too long");
    if (data.size() < 16 + len)
        return ProxyStatus::need_more;
    out.length = 16 + len;
    if (command == 0) { // LOCAL: a health check from the proxy itself
        out.local = true;
        return ProxyStatus::done;
    }
    const unsigned char *a = b + 16;
    char text[INET6_ADDRSTRLEN];
    if (family == 1 && transport == 1) { // TCP over IPv4
        if (len < 12)
            return fail(out, "PROXY v2 IPv4 addresses truncated");
        out.source_ip = inet_ntop(AF_INET, a, text, sizeof text);
        out.dest_ip = inet_ntop(AF_INET, a + 4, text, sizeof text);
        out.source_port = (a[8] << 8) | a[9];
        out.dest_port = (a[10] << 8) | a[11];
        return ProxyStatus::done;
    }
    if (family == 2 && transport == 1) { // TCP over IPv6
        if (len < 36)
            return fail(out, "PROXY v2 IPv6 addresses truncated");
        out.source_ip = inet_ntop(AF_INET6, a, text, sizeof text);
        out.dest_ip = inet_ntop(AF_INET6, a + 16, text, sizeof text);
        out.source_port = (a[32] << 8) | a[33];
        out.dest_port = (a[34] << 8) | a[35];
        return ProxyStatus::done;
    }
    if (family == 0) { // UNSPEC: unknown origin, keep the real peer
        out.local = true;
        return ProxyStatus::done;
    }
    return fail(out, "PROXY v2 address family not TCP over IPv4 or IPv6");
}

} // namespace

ProxyStatus parse_proxy_header(std::string_view data, ProxyHeader &out)
{
    out = ProxyHeader{};
    // Decide the version from as many bytes as are there; a prefix of
    // either form asks for more, anything else is an error at once.
    const std::size_t n1 = std::min(data.size(), v1_prefix.size());
    if (data.substr(0, n1) == v1_prefix.substr(0, n1))
        return data.size() < v1_prefix.size() ? ProxyStatus::need_more : parse_v1(data, out);
    const std::size_t n2 = std::min(data.size(), sizeof v2_signature);
    if (std::memcmp(data.data(), v2_signature, n2) == 0)
        return data.size() < sizeof v2_signature ? ProxyStatus::need_more : parse_v2(data, out);
    return fail(out, "no PROXY header where one is required");
}

} // namespace modpop3d::net
