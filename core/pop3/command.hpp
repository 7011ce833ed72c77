// command.hpp - parse one POP3 command line (RFC 1939 section 3, RFC 2449).
//
// The line reaches the parser without its CRLF (or bare LF). Keywords are
// case-insensitive; arguments are separated by exactly one space, with no
// leading or trailing space and no empty argument. USER and PASS take the
// rest of the line as one argument (passwords may contain spaces). A NUL
// anywhere is an error, never a silent truncation. Numbers are strict:
// decimal digits only, no sign, no overflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace modpop3d::pop3
{

enum class Verb : uint8_t {
    user,
    pass,
    apop,
    quit,
    stat,
    list,
    retr,
    dele,
    noop,
    rset,
    top,
    uidl,
    capa,
    auth,
    stls,
    unknown,
};

enum class ParseError : uint8_t {
    none,
    empty,    // an empty line
    nul_byte, // a NUL somewhere in the line
    syntax,   // known keyword, wrong argument count or spacing
    unknown,  // not a POP3 keyword this engine knows
};

// A parsed command. The views point into the line given to parse_command.
struct Command {
    Verb verb = Verb::unknown;
    std::vector<std::string_view> args;
};

struct ParseResult {
    ParseError error = ParseError::none;
    Command command; // valid when error is none; verb set also for syntax errors
};

// verb_of - the verb for a keyword (any case), Verb::unknown if none.
Verb verb_of(std::string_view keyword) noexcept;

// verb_name - the upper-case keyword of a verb ("UNKNOWN" for unknown).
std::string_view verb_name(Verb verb) noexcept;

// parse_command - split and check one command line (without line end).
ParseResult parse_command(std::string_view line);

// parse_number - strict decimal: one or more digits, no sign, no spaces,
// value at most `max`. "4294967297" is an error, not 1.
std::optional<uint32_t> parse_number(std::string_view text, uint32_t max = UINT32_MAX) noexcept;

} // namespace modpop3d::pop3
