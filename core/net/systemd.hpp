// systemd.hpp - socket activation and readiness notification, speaking the
// two small protocols of sd_listen_fds(3) and sd_notify(3) directly so that
// the core needs no libsystemd.
#pragma once

#include <string>
#include <vector>

namespace modpop3d::net
{

// activated_sockets - the listening sockets systemd passed (fds 3...), when
// LISTEN_PID names this process; empty otherwise. The variables are
// removed from the environment so that children do not inherit them.
std::vector<int> activated_sockets();

// notify - send `state` ("READY=1", "STOPPING=1", ...) to $NOTIFY_SOCKET;
// does nothing without it.
void notify(const std::string &state);

} // namespace modpop3d::net
