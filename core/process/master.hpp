// master.hpp - the root master process (DESIGN.md "Processes and
// privileges"): it reads and checks the configuration, loads the modules
// (dlopen, conf_check, instance_new), binds the listeners (or takes
// systemd's), maps the shared limit tables and forks `workers` worker
// processes. Each worker drops to mail-user, runs the modules'
// process_init and serves with its own Server event loop on the inherited
// listeners. The master never reads client bytes; it keeps root only to
// supervise (restart crashed workers with a back-off), to reload on SIGHUP
// (rebinding needs root) and to drain on SIGTERM/SIGINT.
//
// Reload (SIGHUP): the whole configuration is read and checked again, with
// the modules' conf_check and instance_new, into a new "generation". On any
// error the running generation stays and the errors are logged as
// FILE:LINE. Otherwise new listeners are bound, the new generation's
// workers are forked, and once every one of them serves, the old workers
// are told to retire (SIGUSR1: stop accepting; their sessions finish
// undisturbed, bounded by their own timeouts) and removed listeners are
// closed. A generation's modules are freed in the master when its last
// worker has exited.
//
// The auth process and system users' session processes are further
// children of this master, connected by socketpairs made before fork
// (framed messages, SCM_RIGHTS for client fds).
//
// inetd mode as root (MasterOptions::inetd_fd, see process/inetd.hpp): the
// same process model for one connection already accepted. No listeners, no
// pid file, no reload: one login worker serves that connection, beside the
// generation's auth process, and the master forks a session process if the
// login is a system user's. The master exits when the worker and the
// session have ended; its start and stop lines are logged at debug level
// (one connection is no news), its errors as in the daemon.
//
// DIAGNOSTICS (key=value lines):
//   event=ready listeners=... pid= workers= generation=   every worker serves
//   event=worker_started pid= slot= generation=   forked (not yet mail-user)
//   event=worker_serving pid= generation=          privileges dropped, modules ready
//   event=worker_exited pid= generation= status=|signal= restart_in_ms=
//   event=worker_crash_loop generation=                   (level err)
//   event=reloading / event=reloaded generation= / event=reload_failed error=
//   event=stopping signal= workers= / event=stopped
#pragma once

#include <string>

namespace modpop3d::daemon
{

struct MasterOptions {
    std::string config_file;
    bool log_to_stderr = false; // -e
    bool detach = false;        // -d
    // inetd mode as root: the one connection, already accepted (not on
    // standard input any more: see process/inetd.hpp); -1 for the daemon.
    int inetd_fd = -1;
};

// run_master - the daemon's main; returns the process exit status.
int run_master(const MasterOptions &options);

} // namespace modpop3d::daemon
