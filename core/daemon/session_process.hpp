// session_process.hpp - a system user's session (DESIGN.md "Processes and
// privileges"): when the auth process grants a login whose uid is not the
// fast path's (auth_passwd, auth_pam, a flat file with uids), the login
// worker hands the connection to the master, which checks the grant and
// forks a process that becomes that user (setgroups+setgid+setuid, never
// root) and continues the POP3 session: it opens the maildrop, answers the
// pending PASS/APOP/AUTH, then serves TRANSACTION and UPDATE.
//
// Plain TCP connections are passed as they are. TLS connections stay with
// the worker, which relays the decrypted stream over a socketpair: the
// session process sees plaintext and never holds the TLS keys.
#pragma once

#include "config/core_config.hpp"
#include "daemon/shared_limits.hpp"
#include "ipc/message.hpp"
#include "modload/module_set.hpp"

#include <map>
#include <string>
#include <sys/types.h>

namespace modpop3d::daemon
{

// What the worker tells about a connection it hands over ("session"
// message, see auth_protocol.hpp), with the socket it passes.
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
    ipc::Message to_message() const;
    bool from_message(const ipc::Message &m, std::string &why);
};

// What the master checked: the grant the auth process made.
struct SessionGrant {
    std::string user;
    uid_t uid = 0;
    gid_t gid = 0;
    std::map<std::string, std::string> result; // the auth module's result
};

// run_session_process - the child's main after the master forked it (still
// root): become the user, initialise the mailbox instances and serve the
// one session. Returns the exit status.
// `limits` is the master's table (LOGIN-DELAY is claimed there);
// `auth_socket` the session's channel to the auth process (its hooks).
int run_session_process(config::Configuration &conf, modload::ModuleSet &modules,
                        const SessionGrant &grant, SessionHandover handover, SharedLimits *limits,
                        int auth_socket);

} // namespace modpop3d::daemon
