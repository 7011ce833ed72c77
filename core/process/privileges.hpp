// privileges.hpp - becoming `mail-user` for good, in every process that
// serves clients (workers, inetd mode), and locking those processes into
// `login-chroot` on the way. Sessions never run as root.
#pragma once

#include "config/core_config.hpp"

#include <string>
#include <sys/types.h>

namespace modpop3d::daemon
{

// check_privileges - what drop_privileges would refuse, checked without
// changing anything (the master checks before it forks any worker). `key`,
// when given, receives the configuration key the refusal is about
// (mail-user or login-chroot), for the FILE:LINE of the message.
bool check_privileges(const config::CoreSettings &s, std::string &why, std::string *key = nullptr);

// drop_privileges - setgroups+setgid+setuid to mail-user (and mail-group),
// then prove root cannot be regained. As root, a missing or root mail-user
// is refused; when not root, mail-user (if set) must be the current user
// and nothing changes.
// With a `chroot_dir` (workers and inetd pass login-chroot; other processes
// nothing), the process enters it between looking the user up (which reads
// /etc/passwd) and setuid (chroot(2) needs root): see enter_chroot.
bool drop_privileges(const config::CoreSettings &s, std::string &why,
                     const std::string &chroot_dir = {});

// enter_chroot - chroot(2) to `dir` (checked first with
// config::check_chroot_dir), then chdir("/") so that no directory
// outside stays reachable. Needs root. What the process will need from
// outside is prepared first: the time zone (tzset: log time stamps). The
// syslog socket is already open (log::init uses LOG_NDELAY) and inherited.
bool enter_chroot(const std::string &dir, std::string &why);

// fast_path_uid - the uid virtual-mail sessions run as in the workers:
// mail-user's, or the current user's when that is not set.
uid_t fast_path_uid(const config::CoreSettings &s);

// become_user - a system user's session process: supplementary groups of
// `user` (or only `gid` when it has none here), gid, uid; refuses uid 0 and
// proves root cannot be regained. Only as root.
bool become_user(const std::string &user, uid_t uid, gid_t gid, std::string &why);

} // namespace modpop3d::daemon
