// reply.hpp - POP3 reply lines, bounded to 512 octets (RFC 1939 section 3,
// RFC 2449 section 4: a response line including CRLF never exceeds 512).
//
// Every line the engine writes goes through these helpers. They never echo
// a CR, LF or NUL from their text (such bytes become spaces) and they cut
// the text, never the status indicator or the response code, to fit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace modpop3d::pop3::reply
{

// The longest reply line, CRLF included.
inline constexpr std::size_t max_line = 512;

// ok - "+OK text\r\n" ("+OK\r\n" when text is empty).
void ok(std::string &out, std::string_view text);

// err - "-ERR [code] text\r\n"; without a code "-ERR text\r\n". Free text
// never starts with '[' (RFC 2449 section 8: it would read as a code), so a
// leading '[' in code-less text is written as '('.
void err(std::string &out, std::string_view code, std::string_view text);

// line - one line of a multi-line response body, dot-stuffed, cut to fit.
void line(std::string &out, std::string_view text);

// end - the ".\r\n" that ends a multi-line response.
void end(std::string &out);

// continuation - a SASL challenge line "+ base64\r\n" (RFC 5034 section 4;
// "+ " for an empty challenge). Not bounded: challenges may be long.
void continuation(std::string &out, std::string_view base64);

} // namespace modpop3d::pop3::reply
