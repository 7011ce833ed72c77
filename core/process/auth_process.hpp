// auth_process.hpp - the daemon's auth process (DESIGN.md "Processes and
// privileges"): it hosts the auth_* and hook_* instances of one
// configuration generation, answers the login workers' requests
// (auth_protocol.hpp) on a thread pool, so that one slow or hung backend
// never stalls other logins, and makes the grants of system users'
// sessions.
//
// It keeps root only when a loaded auth or hook module says it needs it
// (MODPOP3D_MODF_NEEDS_ROOT: shadow, PAM); otherwise it becomes mail-user
// like the workers.
//
// Grants: a successful USER/PASS, AUTH PLAIN/LOGIN or APOP login whose
// result names a uid other than the fast path's (`fast_uid`, the workers'
// uid) is served by a session process the master forks with that uid. The
// grant (token, user, uid, gid, home, result) goes from here to the master
// first, then the answer with the token to the worker: a login process
// never names a uid itself. A result naming uid 0 is refused.
//
// DIAGNOSTICS:
//   event=auth_serving pid= uid= channels=
//   event=grant user= uid= slot=                       (debug)
//   event=auth_refused user= why="uid 0"
//   event=auth_ipc_error why=                          malformed request
#pragma once

#include "config/core_config.hpp"
#include "modload/module_set.hpp"

#include <sys/types.h>
#include <vector>

namespace modpop3d::daemon
{

struct AuthProcessRole {
    std::vector<int> channels; // one per worker position, its auth end
    int master_channel = -1;   // grants go here
    uid_t fast_uid = 0;        // sessions with this uid stay in the workers
    bool quiet = false;        // inetd mode: "auth_serving" at debug level
};

// needs_root - some auth or hook instance's module needs root.
bool auth_needs_root(const modload::ModuleSet &modules);

// run_auth_process - the child's main after fork: drop privileges (unless
// a module needs root), process_init of the auth and hook instances, serve
// until SIGTERM or the master's death. Returns the exit status.
int run_auth_process(config::Configuration &conf, modload::ModuleSet &modules,
                     AuthProcessRole role);

} // namespace modpop3d::daemon
