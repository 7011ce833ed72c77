// privileges.hpp - becoming `mail-user` for good, in every process that
// serves clients (workers, inetd mode). Sessions never run as root.
#pragma once

#include "config/core_config.hpp"

#include <string>
#include <sys/types.h>

namespace modpop3d::daemon
{

// check_privileges - what drop_privileges would refuse, checked without
// changing anything (the master checks before it forks any worker).
bool check_privileges(const config::CoreSettings &s, std::string &why);

// drop_privileges - setgroups+setgid+setuid to mail-user (and mail-group),
// then prove root cannot be regained. As root, a missing or root mail-user
// is refused; when not root, mail-user (if set) must be the current user
// and nothing changes.
bool drop_privileges(const config::CoreSettings &s, std::string &why);

// fast_path_uid - the uid virtual-mail sessions run as in the workers:
// mail-user's, or the current user's when that is not set.
uid_t fast_path_uid(const config::CoreSettings &s);

// become_user - a system user's session process: supplementary groups of
// `user` (or only `gid` when it has none here), gid, uid; refuses uid 0 and
// proves root cannot be regained. Only as root.
bool become_user(const std::string &user, uid_t uid, gid_t gid, std::string &why);

} // namespace modpop3d::daemon
