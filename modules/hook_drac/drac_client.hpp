// drac_client.hpp - one DRAC "add this address" call (DRACPROC_ADD of
// drac.x) with a deadline, over UDP or TCP, to a known port or to the port
// the server's portmapper names.
#pragma once

#include "netaddr.hpp"

#include <cstdint>
#include <string>

namespace modpop3d::drac
{

enum class Transport { udp, tcp };

struct Result {
    bool called = false; // the server answered the call
    int status = -1;     // its addstat when called (ADD_SUCCESS = 0)
    std::string why;     // what failed when not called
    uint16_t port = 0;   // the port that was called (after a portmapper lookup)
};

// add - ask the DRAC server at `server` to authorise relaying from `client`.
// With server.port == 0 the port is asked of the portmapper (port 111, IPv4
// only) first. Everything - lookup, connect, call and retransmissions - ends
// within `timeout_ms`.
Result add(const netaddr::Endpoint &server, Transport transport,
           const netaddr::ClientAddress &client, int64_t timeout_ms);

// status_name - "success", "perm", "syserr" or "unknown".
const char *status_name(int status);

} // namespace modpop3d::drac
