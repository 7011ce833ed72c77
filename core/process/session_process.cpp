// session_process.cpp - the hand-over message and a system user's session
// process (see session_process.hpp).
#include "process/session_process.hpp"

#include "process/privileges.hpp"
#include "util/log.hpp"
#include "worker/server.hpp"

#include <algorithm>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace modpop3d::daemon
{

int run_session_process(config::Configuration &conf, modload::ModuleSet &modules,
                        const ipc::SessionGrant &grant, ipc::SessionHandover handover,
                        ipc::SharedLimits *limits, int auth_socket)
{
    std::string why;
    if (!become_user(grant.user, grant.uid, grant.gid, why)) {
        log::writef(log::Err, "", "event=session_failed user=%s why=%s",
                    log::quote(grant.user).c_str(), log::quote(why).c_str());
        static const char msg[] = "-ERR [SYS/TEMP] Cannot open the maildrop now\r\n";
        ssize_t ignored = write(handover.fd, msg, sizeof msg - 1);
        (void)ignored;
        return 3;
    }
    // A session outlives neither its master nor a drain: SIGTERM from the
    // master (or its death) ends it like a worker's session.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    config::Diagnostics diags;
    if (!modules.process_init(diags, 1u << MODPOP3D_KIND_MAILBOX)) {
        for (const auto &l : diags.lines())
            log::writef(log::Err, "", "event=session_failed why=%s", log::quote(l).c_str());
        return 3;
    }
    auto server = std::make_unique<Server>(conf, modules);
    server->serve_handover(std::move(handover), grant, limits, auth_socket);
    return server->run();
}

} // namespace modpop3d::daemon
