// listen_spec.cpp - "listen:" values (see listen_spec.hpp).
#include "address/listen_spec.hpp"

#include "util/words.hpp"

#include <arpa/inet.h>
#include <charconv>

namespace modpop3d::address
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

} // namespace modpop3d::address
