// command.cpp - POP3 command line parsing and strict numbers.
#include "pop3/command.hpp"

#include "util/ascii.hpp"

#include <array>

namespace modpop3d::pop3
{

namespace
{

struct Keyword {
    std::string_view name;
    Verb verb;
    // Accepted argument counts; rest_of_line means "one argument: the
    // whole remainder of the line".
    uint8_t min_args;
    uint8_t max_args;
    bool rest_of_line;
};

constexpr std::array<Keyword, 15> keywords{{
    {"USER", Verb::user, 1, 1, true},
    {"PASS", Verb::pass, 1, 1, true},
    {"APOP", Verb::apop, 2, 2, false},
    {"QUIT", Verb::quit, 0, 0, false},
    {"STAT", Verb::stat, 0, 0, false},
    {"LIST", Verb::list, 0, 1, false},
    {"RETR", Verb::retr, 1, 1, false},
    {"DELE", Verb::dele, 1, 1, false},
    {"NOOP", Verb::noop, 0, 0, false},
    {"RSET", Verb::rset, 0, 0, false},
    {"TOP", Verb::top, 2, 2, false},
    {"UIDL", Verb::uidl, 0, 1, false},
    {"CAPA", Verb::capa, 0, 0, false},
    {"AUTH", Verb::auth, 0, 2, false},
    {"STLS", Verb::stls, 0, 0, false},
}};

const Keyword *find_keyword(std::string_view name) noexcept
{
    for (const Keyword &k : keywords)
        if (util::iequals(k.name, name))
            return &k;
    return nullptr;
}

} // namespace

Verb verb_of(std::string_view keyword) noexcept
{
    const Keyword *k = find_keyword(keyword);
    return k ? k->verb : Verb::unknown;
}

std::string_view verb_name(Verb verb) noexcept
{
    for (const Keyword &k : keywords)
        if (k.verb == verb)
            return k.name;
    return "UNKNOWN";
}

ParseResult parse_command(std::string_view line)
{
    ParseResult result;
    if (line.empty()) {
        result.error = ParseError::empty;
        return result;
    }
    if (line.find('\0') != std::string_view::npos) {
        result.error = ParseError::nul_byte;
        return result;
    }
    const std::size_t space = line.find(' ');
    const std::string_view name = line.substr(0, space);
    const Keyword *k = find_keyword(name);
    if (!k) {
        result.error = ParseError::unknown;
        return result;
    }
    result.command.verb = k->verb;
    std::vector<std::string_view> &args = result.command.args;
    if (space != std::string_view::npos) {
        std::string_view rest = line.substr(space + 1);
        if (k->rest_of_line) {
            args.push_back(rest);
        } else {
            while (true) {
                const std::size_t next = rest.find(' ');
                args.push_back(rest.substr(0, next));
                if (next == std::string_view::npos)
                    break;
                rest.remove_prefix(next + 1);
            }
        }
    }
    bool ok = args.size() >= k->min_args && args.size() <= k->max_args;
    for (std::string_view a : args)
        if (a.empty())
            ok = false; // double space, trailing space, "USER " with nothing
    if (!ok)
        result.error = ParseError::syntax;
    return result;
}

std::optional<uint32_t> parse_number(std::string_view text, uint32_t max) noexcept
{
    if (text.empty())
        return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
        if (value > max)
            return std::nullopt;
    }
    return static_cast<uint32_t>(value);
}

} // namespace modpop3d::pop3
