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
#include "ipc/session_handover.hpp"
#include "ipc/shared_limits.hpp"
#include "modload/module_set.hpp"

#include <map>
#include <string>
#include <sys/types.h>

namespace modpop3d::daemon
{

// run_session_process - the child's main after the master forked it (still
// root): become the user, initialise the mailbox instances and serve the
// one session. Returns the exit status.
// `limits` is the master's table (LOGIN-DELAY is claimed there);
// `auth_socket` the session's channel to the auth process (its hooks).
int run_session_process(config::Configuration &conf, modload::ModuleSet &modules,
                        const ipc::SessionGrant &grant, ipc::SessionHandover handover,
                        ipc::SharedLimits *limits, int auth_socket);

} // namespace modpop3d::daemon
