// sql_hosts.cpp - host list parsing and back-off (see header).
#include "sql_hosts.hpp"

#include <charconv>

namespace modpop3d::sql
{

std::string Target::label() const
{
    if (!socket.empty())
        return socket;
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return port != 0 ? h + ":" + std::to_string(port) : h;
}

namespace
{

bool parse_port(std::string_view s, unsigned &port)
{
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535)
        return false;
    port = v;
    return true;
}

bool parse_one(std::string_view e, Target &t, std::string &why)
{
    if (e.front() == '/') {
        t.socket = std::string(e);
        return true;
    }
    if (e.front() == '[') {
        const auto close = e.find(']');
        if (close == std::string_view::npos || close == 1) {
            why = "'" + std::string(e) + "': unterminated [address]";
            return false;
        }
        t.host = std::string(e.substr(1, close - 1));
        std::string_view rest = e.substr(close + 1);
        if (rest.empty())
            return true;
        if (rest.front() != ':' || !parse_port(rest.substr(1), t.port)) {
            why = "'" + std::string(e) + "': bad port";
            return false;
        }
        return true;
    }
    const auto colon = e.find(':');
    if (colon != std::string_view::npos && e.find(':', colon + 1) == std::string_view::npos) {
        t.host = std::string(e.substr(0, colon));
        if (t.host.empty() || !parse_port(e.substr(colon + 1), t.port)) {
            why = "'" + std::string(e) + "': bad host:port";
            return false;
        }
        return true;
    }
    t.host = std::string(e); // a name, or a bare IPv6 address
    return true;
}

} // namespace

bool parse_hosts(std::string_view text, std::vector<Target> &out, std::string &why)
{
    out.clear();
    std::size_t i = 0;
    while (i < text.size()) {
        const auto end = text.find_first_of(" \t;,", i);
        const std::string_view e =
            text.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
        i = end == std::string_view::npos ? text.size() : end + 1;
        if (e.empty())
            continue;
        Target t;
        if (!parse_one(e, t, why))
            return false;
        out.push_back(std::move(t));
    }
    if (out.empty()) {
        why = "no host given";
        return false;
    }
    if (out.size() > 16) {
        why = "more than 16 hosts";
        return false;
    }
    return true;
}

uint64_t Backoff::failed(uint64_t now)
{
    ++failures_;
    uint64_t d = base_;
    for (uint32_t i = 1; i < failures_ && d < max_; ++i)
        d *= 2;
    if (d > max_)
        d = max_;
    next_try_ = now + d;
    return d;
}

} // namespace modpop3d::sql
