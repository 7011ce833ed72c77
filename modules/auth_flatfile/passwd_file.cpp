// passwd_file.cpp - parsing of auth_flatfile's passwd-style files; see
// passwd_file.hpp.
#include "passwd_file.hpp"

#include <charconv>

namespace modpop3d::flatfile
{

namespace
{

constexpr std::string_view blanks = " \t\r";
constexpr std::string_view scram_prefix = "{SCRAM-SHA-256}";

bool istarts_with(std::string_view s, std::string_view prefix) noexcept
{
    if (s.size() < prefix.size())
        return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = s[i], b = prefix[i];
        if (a >= 'a' && a <= 'z')
            a = static_cast<char>(a - 'a' + 'A');
        if (a != b)
            return false;
    }
    return true;
}

// take - cut `s` at the next ':' (or its end); returns the part before.
std::string_view take(std::string_view &s) noexcept
{
    const auto colon = s.find(':');
    std::string_view field = s.substr(0, colon);
    s = colon == std::string_view::npos ? std::string_view() : s.substr(colon + 1);
    return field;
}

// parse_id - an empty field is "unset"; otherwise a decimal uid/gid, not 0
// (root may not own mail) and not (uid_t)-1.
bool parse_id(std::string_view field, std::optional<uint32_t> &out, std::string &why,
              const char *what)
{
    if (field.empty())
        return true;
    uint32_t v = 0;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (ec != std::errc() || ptr != field.data() + field.size() || v == UINT32_MAX) {
        why = std::string("bad ") + what + " field";
        return false;
    }
    if (v == 0) {
        why = std::string(what) + " 0 (root) refused";
        return false;
    }
    out = v;
    return true;
}

} // namespace

bool valid_name(std::string_view name) noexcept
{
    if (name.empty() || name.size() > max_name_length)
        return false;
    for (unsigned char c : name)
        if (c <= 0x20 || c == 0x7f || c == ':')
            return false;
    return true;
}

std::string ascii_lower(std::string_view s)
{
    std::string out(s);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

Table parse_passwd(std::string_view text, bool lowercase, std::vector<Problem> &problems)
{
    Table table;
    unsigned lineno = 0;
    while (!text.empty()) {
        ++lineno;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);

        const auto first = line.find_first_not_of(blanks);
        if (first == std::string_view::npos || line[first] == '#')
            continue;
        if (line.back() == '\r') // CRLF files
            line.remove_suffix(1);
        if (line.find('\0') != std::string_view::npos) {
            problems.push_back({lineno, "NUL byte"});
            continue;
        }

        std::string_view rest = line;
        const std::string_view name = take(rest);
        if (!valid_name(name)) {
            problems.push_back({lineno, "bad user name"});
            continue;
        }
        std::string_view secret;
        if (istarts_with(rest, scram_prefix)) {
            // The verifier's own fields are ':'-separated: keep four of them.
            std::size_t end = scram_prefix.size();
            for (int i = 0; i < 4 && end != std::string_view::npos; ++i) {
                end = rest.find(':', end);
                if (i < 3 && end != std::string_view::npos)
                    ++end;
            }
            secret = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        } else {
            secret = take(rest);
        }
        if (secret.empty()) {
            problems.push_back({lineno, "empty password field"});
            continue;
        }

        Entry e;
        e.secret = std::string(secret);
        e.line = lineno;
        std::string why;
        if (!parse_id(take(rest), e.uid, why, "uid") || !parse_id(take(rest), e.gid, why, "gid")) {
            problems.push_back({lineno, why});
            continue;
        }
        const std::string_view home = take(rest);
        if (!home.empty() && home.front() != '/') {
            problems.push_back({lineno, "home is not an absolute path"});
            continue;
        }
        e.home = std::string(home);
        e.mailbox = std::string(rest);

        std::string key = lowercase ? ascii_lower(name) : std::string(name);
        auto [it, inserted] = table.users.try_emplace(std::move(key), std::move(e));
        if (!inserted)
            problems.push_back(
                {lineno, "duplicate user, line " + std::to_string(it->second.line) + " wins"});
    }
    return table;
}

} // namespace modpop3d::flatfile
