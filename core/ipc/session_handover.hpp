// session_handover.hpp - the messages that move a system user's login out of
// a login worker (process/session_process.hpp): the worker's hand-over of
// the connection and the grant the master checked. They live here, not with
// either process, because both ends (worker/ and process/) speak them.
#pragma once

#include "ipc/message.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <sys/types.h>

namespace modpop3d::ipc
{

// What the worker tells about a connection it hands over ("session"
// message, see auth/auth_protocol.hpp), with the socket it passes.
struct SessionHandover {
    int fd = -1;
    std::string token;
    bool tls = false; // the worker relays TLS: `fd` carries plaintext
    std::string method;
    std::string login;   // as rewritten, for logs
    std::string pending; // client bytes after the login command
    std::string peer_ip, local_ip;
    uint16_t peer_port = 0, local_port = 0;
    std::string listener;
    std::map<std::string, std::string> facts; // the session's facts

    // to_message / from_message - the "session" message (validated).
    Message to_message() const;
    bool from_message(const Message &m, std::string &why);
};

// What the master checked: the grant the auth process made.
struct SessionGrant {
    std::string user;
    uid_t uid = 0;
    gid_t gid = 0;
    std::map<std::string, std::string> result; // the auth module's result
};

} // namespace modpop3d::ipc
