// ldap_entry.cpp - attribute mapping and stored-password schemes (see
// ldap_entry.hpp).
#include "ldap_entry.hpp"

#include <algorithm>

namespace modpop3d::ldap
{

namespace
{

std::string lower(std::string_view s)
{
    std::string out(s);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool istarts_with(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == lower(prefix);
}

bool digits_only(std::string_view s, std::size_t max_len)
{
    return !s.empty() && s.size() <= max_len &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A value that goes into a result as one word: no white space or controls.
bool one_word(std::string_view s)
{
    return !s.empty() && s.size() <= 4096 && std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
    });
}

} // namespace

void Entry::add(std::string_view name, std::string value)
{
    attrs[lower(name)].push_back(std::move(value));
}

const std::vector<std::string> *Entry::all(const std::string &name) const
{
    if (name.empty())
        return nullptr;
    const auto it = attrs.find(lower(name));
    return it == attrs.end() || it->second.empty() ? nullptr : &it->second;
}

const std::string *Entry::first(const std::string &name) const
{
    const auto *v = all(name);
    return v == nullptr ? nullptr : &v->front();
}

std::vector<std::string> attributes(const AttrMap &map, bool with_password)
{
    std::vector<std::string> out;
    auto add = [&](const std::string &a) {
        if (a.empty())
            return;
        for (const auto &have : out)
            if (lower(have) == lower(a))
                return;
        out.push_back(a);
    };
    for (const std::string *a : {&map.mailbox, &map.mailbox_type, &map.home, &map.uid, &map.gid,
                                 &map.login_delay, &map.expire})
        add(*a);
    if (with_password)
        add(map.password);
    return out;
}

std::optional<std::string> mailbox_spec(std::string_view value, const std::string *type)
{
    std::string_view path = value;
    std::string prefix;
    const auto colon = value.find(':');
    if (!value.empty() && value.front() != '/' && colon != std::string_view::npos) {
        prefix = std::string(value.substr(0, colon));
        path = value.substr(colon + 1);
    }
    if (path.empty() || path.front() != '/' || !one_word(path) ||
        path.find("$(") != std::string_view::npos)
        return std::nullopt;
    if (prefix.empty() && type != nullptr)
        prefix = lower(*type);
    if (prefix.empty())
        prefix = path.back() == '/' ? "maildir" : "bsd";
    const bool word = !prefix.empty() && prefix.size() <= 32 &&
                      std::all_of(prefix.begin(), prefix.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                      });
    if (!word)
        return std::nullopt;
    return prefix + ":" + std::string(path);
}

bool map_entry(const Entry &e, const AttrMap &map, Mapped &out, std::string &error)
{
    out = Mapped{};
    if (const std::string *mbox = e.first(map.mailbox)) {
        out.mailbox = mailbox_spec(*mbox, e.first(map.mailbox_type));
        if (!out.mailbox) {
            error = map.mailbox + " (or " + map.mailbox_type + ") is not a usable mailbox";
            return false;
        }
    }
    if (const std::string *home = e.first(map.home)) {
        if (home->empty() || home->front() != '/' || !one_word(*home) ||
            home->find("$(") != std::string::npos) {
            error = map.home + " is not an absolute path without white space";
            return false;
        }
        out.home = *home;
    }
    if (const std::string *uid = e.first(map.uid)) {
        if (!one_word(*uid)) {
            error = map.uid + " is not a user name or number";
            return false;
        }
        out.uid = *uid;
    }
    if (const std::string *gid = e.first(map.gid)) {
        if (!one_word(*gid)) {
            error = map.gid + " is not a group name or number";
            return false;
        }
        out.gid = *gid;
    }
    if (const std::string *delay = e.first(map.login_delay)) {
        if (!digits_only(*delay, 9)) {
            error = map.login_delay + " is not a number of seconds";
            return false;
        }
        out.login_delay = *delay;
    }
    if (const std::string *expire = e.first(map.expire)) {
        if (!digits_only(*expire, 9) && lower(*expire) != "never") {
            error = map.expire + " is not a number of days or NEVER";
            return false;
        }
        out.expire = lower(*expire) == "never" ? "never" : *expire;
    }
    return true;
}

std::string with_scheme(std::string_view stored, std::string_view default_scheme)
{
    if (!stored.empty() && stored.front() == '{' && stored.find('}') != std::string_view::npos)
        return std::string(stored);
    return "{" + std::string(default_scheme) + "}" + std::string(stored);
}

std::optional<std::string> credential_for(std::string_view stored, std::string_view scheme)
{
    if (scheme == "PLAIN") {
        for (std::string_view p : {"{PLAIN}", "{PLAINTEXT}", "{CLEARTEXT}"})
            if (istarts_with(stored, p) && stored.size() > p.size())
                return "{PLAIN}" + std::string(stored.substr(p.size()));
        return std::nullopt;
    }
    if (scheme == "SCRAM-SHA-256") {
        constexpr std::string_view p = "{SCRAM-SHA-256}";
        if (istarts_with(stored, p) && stored.size() > p.size())
            return "{SCRAM-SHA-256}" + std::string(stored.substr(p.size()));
    }
    return std::nullopt;
}

} // namespace modpop3d::ldap
