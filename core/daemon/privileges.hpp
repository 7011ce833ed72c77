// privileges.hpp - becoming `mail-user` for good, in every process that
// serves clients (workers, inetd mode). Sessions never run as root.
#pragma once

#include "config/core_config.hpp"

#include <string>

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

} // namespace modpop3d::daemon
