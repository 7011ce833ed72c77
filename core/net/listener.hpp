// listener.hpp - listening sockets from "listen:" values.
//
// Sockets are non-blocking, close-on-exec, SO_REUSEADDR, and IPv6 ones are
// IPv6-only so that "0.0.0.0:110" and "[::]:110" can be given together.
// The value syntax and its parser live in address/listen_spec.
#pragma once

#include "address/listen_spec.hpp"

#include <optional>
#include <string>
#include <sys/socket.h>

namespace modpop3d::net
{

struct Listener {
    int fd = -1;
    address::ListenSpec spec;
};

// open_listener - bind and listen; false with `why` (naming the address and
// the errno text) on failure.
bool open_listener(const address::ListenSpec &spec, Listener &out, std::string &why);

// Text form of a peer or local address, and whether it is loopback.
struct Endpoint {
    std::string ip;
    int port = 0;
    bool loopback = false;
    std::string limit_key; // IPv4 address, or the /64 prefix of an IPv6 address
};

// set_accept_options - options every connection accepted on `listen_fd`
// inherits from it, set once instead of once per connection (Linux copies
// TCP_NODELAY from a listening socket to the sockets accept() returns).
void set_accept_options(int listen_fd);

// bound_endpoint - the listening socket's own address when it is a specific
// one, which is then every accepted connection's local address; nullopt for
// a wildcard address (ask each connection's getsockname()).
std::optional<Endpoint> bound_endpoint(int listen_fd);

Endpoint endpoint_of(const sockaddr_storage &ss);
// endpoint_of_text - the same from a numeric address (a PROXY header's).
Endpoint endpoint_of_text(const std::string &ip, int port);

} // namespace modpop3d::net
