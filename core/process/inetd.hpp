// inetd.hpp - inetd mode's main (modpop3d -i): one connection, already
// accepted, on standard input (and output); the process ends with it.
//
// Started as root, the connection gets the daemon's process model
// (DESIGN.md "Processes and privileges"): this process becomes a master of
// one connection (process/master.hpp, MasterOptions::inetd_fd) that never
// reads client bytes. It forks the auth process (root only when a module
// needs it) and one login worker (mail-user, login-chroot) that serves the
// connection and asks the auth process; a system user's login (auth_passwd,
// auth_pam, a result naming another uid) is handed to a session process the
// master forks as that user, exactly as in the daemon. Virtual users stay
// on the fast path in the worker.
//
// Not started as root, one process serves the session with the auth chain
// in-process; a result naming another uid than its own is refused (it
// cannot become that user).
//
// Logging: syslog, or standard error with -e only (standard error may be
// the client's socket). The exit status is 0 when the session ended
// normally, 1 otherwise.
#pragma once

#include <string>

namespace modpop3d::daemon
{

// serve_inetd_session - load and check the configuration, load the modules,
// take the connection on standard input and serve it (see above). Returns
// the process exit status. The daemon's main is run_master (master.hpp).
int serve_inetd_session(const std::string &config_file, bool foreground_stderr);

} // namespace modpop3d::daemon
