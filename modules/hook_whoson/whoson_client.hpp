// whoson_client.hpp - one WHOSON request/reply exchange with a deadline.
//
// The WHOSON protocol (Eugene Crosser's draft, port 9876, as whosond and
// gowhoson speak it): a request is one line "VERB ADDRESS [ARGUMENT]"
// followed by an empty line, CRLF-terminated; the reply is one line whose
// first character says the outcome - '+' positive, '-' negative, '*' error -
// also followed by an empty line. Over UDP one request is one datagram;
// over TCP we open a connection per request and close it after the reply
// (the server takes the close as the end of the session).
#pragma once

#include "netaddr.hpp"

#include <cstdint>
#include <string>

namespace modpop3d::whoson
{

enum class Transport { udp, tcp };

enum class Outcome {
    positive, // '+'
    negative, // '-'
    error,    // '*'
    timeout,  // no complete reply before the deadline
    io,       // socket error (refused, unreachable, reset)
    malformed // a reply that is not a WHOSON reply
};

struct Reply {
    Outcome outcome = Outcome::io;
    std::string text; // the reply line without its status character, or why it failed
};

// request_line - "VERB ADDRESS[ ARGUMENT]\r\n\r\n".
std::string request_line(const std::string &verb, const std::string &address,
                         const std::string &argument);

// parse_reply - the outcome of a complete reply (everything received so far);
// false when more bytes are needed.
bool parse_reply(const std::string &data, Reply &out);

// exchange - send `request` to `server` and wait for the reply, for at most
// `timeout_ms` milliseconds in all (connect, send and receive).
Reply exchange(const netaddr::Endpoint &server, Transport transport, const std::string &request,
               int64_t timeout_ms);

const char *outcome_name(Outcome o);

} // namespace modpop3d::whoson
