// hook_exec.cpp - the hook_exec module: run a program at chosen session
// events (AUTH_OK, AUTH_FAIL, LOGIN, LOGOUT), without a shell, with the
// session's facts in its environment (hook_env.hpp; never the password), as
// a configured unprivileged user, killed after a timeout. With `veto: yes`
// its exit status decides an AUTH_OK or LOGIN: 0 lets the login go on, 75
// (EX_TEMPFAIL) defers it (-ERR [SYS/TEMP]), any other status refuses it
// (-ERR [AUTH]); a program that cannot start, is killed by a signal or
// runs past the timeout defers it. Without veto the outcome is only logged.
#include "child_process.hpp"
#include "conf_util.hpp"
#include "hook_env.hpp"
#include "sysuser.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <modpop3d/module.hpp>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace
{

namespace cp = modpop3d::child;
namespace su = modpop3d::sysuser;
using modpop3d::confutil::boolean;
using modpop3d::confutil::integer;
using modpop3d::confutil::str;

// sysexits.h's EX_TEMPFAIL: "try again later".
constexpr int exit_tempfail = 75;

const modpop3d_conf_item schema[] = {
    {"program", MODPOP3D_CONF_PATH, MODPOP3D_CONFF_REQUIRED, nullptr,
     "Absolute path of the program, run without a shell.", nullptr, 0, 0},
    {"args", MODPOP3D_CONF_LIST, 0, nullptr, "Its arguments (no expansion, no shell).", nullptr, 0,
     0},
    {"events", MODPOP3D_CONF_LIST, 0, "login",
     "Events that run it: auth-ok, auth-fail, login, logout.", nullptr, 0, 0},
    {"veto", MODPOP3D_CONF_BOOL, 0, "no",
     "At auth-ok and login, let the exit status refuse (non-zero) or defer (75) the login.",
     nullptr, 0, 0},
    {"user", MODPOP3D_CONF_STRING, 0, nullptr,
     "User (name or number) it runs as; switching needs a root auth process.", nullptr, 0, 0},
    {"group", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group it runs as; default: the user's primary group.", nullptr, 0, 0},
    {"timeout", MODPOP3D_CONF_DURATION, 0, "5s",
     "Longest run; then it is killed (with veto: the login is deferred).", nullptr, 10, 300000},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

struct EventName {
    const char *word;
    uint32_t event;
};
constexpr EventName event_names[] = {
    {"auth-ok", MODPOP3D_EV_AUTH_OK},
    {"auth-fail", MODPOP3D_EV_AUTH_FAIL},
    {"login", MODPOP3D_EV_LOGIN},
    {"logout", MODPOP3D_EV_LOGOUT},
};

std::vector<std::string> list(const modpop3d_host *host, const modpop3d_conf *conf, const char *key)
{
    std::vector<std::string> out;
    const char *item = nullptr;
    for (uint32_t i = 0; i < 4096 && host->conf_list_item(conf, key, i, &item) == MODPOP3D_OK; ++i)
        out.emplace_back(item);
    return out;
}

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    std::string program;
    std::vector<std::string> args;
    uint32_t events = 0;
    bool veto = false;
    std::string user, group;
    int64_t timeout_ms = 5000;
};

int32_t on_event(void *p, modpop3d_session *session, const modpop3d_event_info *info) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&] {
        if (info == nullptr || (info->event & in.events) == 0)
            return MODPOP3D_OK;
        const bool may_veto =
            in.veto && (info->event == MODPOP3D_EV_AUTH_OK || info->event == MODPOP3D_EV_LOGIN);
        const char *ev = modpop3d::hook_env::event_name(info->event);
        cp::SpawnSpec spec;
        spec.program = in.program;
        spec.args = in.args;
        std::string why;
        if (!cp::resolve_identity(in.user, in.group, spec.id, why)) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=hook_exec_failed hook_event=%s "
                         "reason=\"%s\"",
                         ev, why.c_str());
            return may_veto ? MODPOP3D_E_TEMP : MODPOP3D_OK;
        }
        spec.env = modpop3d::hook_env::session_env(in.host, session, info);
        const cp::RunResult r = cp::run(spec, in.timeout_ms);
        const char *user = in.host->session_get(session, "user");
        const std::string who = su::printable(user ? user : "");
        switch (r.kind) {
        case cp::RunResult::exited:
            if (r.code == 0)
                return MODPOP3D_OK;
            in.host->log(in.ictx, may_veto ? MODPOP3D_LOG_NOTICE : MODPOP3D_LOG_WARNING,
                         "event=hook_exec_status hook_event=%s user=%s status=%d%s", ev,
                         who.c_str(), r.code,
                         !may_veto                 ? ""
                         : r.code == exit_tempfail ? " outcome=deferred"
                                                   : " outcome=refused");
            if (!may_veto)
                return MODPOP3D_OK;
            return r.code == exit_tempfail ? MODPOP3D_E_TEMP : MODPOP3D_E_PERM;
        case cp::RunResult::signalled:
            in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                         "event=hook_exec_failed hook_event=%s user=%s signal=%d", ev, who.c_str(),
                         r.code);
            break;
        case cp::RunResult::timeout:
            in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                         "event=hook_exec_failed hook_event=%s user=%s reason=timeout "
                         "timeout_ms=%lld",
                         ev, who.c_str(), static_cast<long long>(in.timeout_ms));
            break;
        case cp::RunResult::spawn_failed:
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=hook_exec_failed hook_event=%s reason=\"cannot start: %s\"", ev,
                         strerror(r.code));
            break;
        }
        return may_veto ? MODPOP3D_E_TEMP : MODPOP3D_OK;
    });
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        int32_t rc = MODPOP3D_OK;
        const std::string program = str(host, conf, "program");
        struct stat st {
        };
        if (stat(program.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            access(program.c_str(), X_OK) != 0)
            rc = host->conf_error(conf, "program", "'%s' is not an executable file",
                                  su::printable(program, 200).c_str());
        const auto events = list(host, conf, "events");
        if (events.empty())
            rc = host->conf_error(conf, "events", "name at least one event");
        for (const auto &e : events) {
            bool known = false;
            for (const auto &n : event_names)
                known = known || e == n.word;
            if (!known)
                rc = host->conf_error(conf, "events",
                                      "unknown event '%s' (auth-ok, auth-fail, login, logout)",
                                      su::printable(e).c_str());
        }
        const std::string user = str(host, conf, "user");
        const std::string group = str(host, conf, "group");
        su::Account acct;
        gid_t gid = 0;
        int err = 0;
        if (!user.empty()) {
            const su::Found f = su::user_spec(user, acct, err);
            if (f == su::Found::no)
                rc = host->conf_error(conf, "user", "no such user '%s'",
                                      su::printable(user).c_str());
            else if (f == su::Found::yes && acct.uid == 0)
                rc = host->conf_error(conf, "user", "the program must not run as root");
        }
        if (!group.empty() && user.empty())
            rc = host->conf_error(conf, "group", "group is only used together with user");
        else if (!group.empty() && su::group_spec(group, gid, err) == su::Found::no)
            rc =
                host->conf_error(conf, "group", "no such group '%s'", su::printable(group).c_str());
        return rc;
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        auto in = std::make_unique<Instance>();
        in->host = host;
        in->ictx = ictx;
        in->program = str(host, conf, "program");
        in->args = list(host, conf, "args");
        for (const auto &e : list(host, conf, "events"))
            for (const auto &n : event_names)
                if (e == n.word)
                    in->events |= n.event;
        in->veto = boolean(host, conf, "veto", false);
        in->user = str(host, conf, "user");
        in->group = str(host, conf, "group");
        in->timeout_ms = integer(host, conf, "timeout", 5000);
        *ret = in.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    auto *in = static_cast<Instance *>(p);
    modpop3d::guard_void(in->host, in->ictx, [&] { delete in; });
}

// The mask is the module's, not the instance's (modpop3d_hook_ops is
// static): all four events reach on_event, which ignores those the
// instance's `events` does not name.
const modpop3d_hook_ops ops = {
    sizeof(modpop3d_hook_ops),
    MODPOP3D_EV_AUTH_OK | MODPOP3D_EV_AUTH_FAIL | MODPOP3D_EV_LOGIN | MODPOP3D_EV_LOGOUT,
    on_event,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_HOOK,
    // One child per call, no shared state: any number of calls at once.
    MODPOP3D_MODF_BLOCKING | MODPOP3D_MODF_THREAD_SAFE,
    "hook_exec",
    "0.1.0",
    "run a program at session events (auth-ok, auth-fail, login, logout)",
    schema,
    sizeof(modpop3d_conf_item),
    0,
    conf_check,
    instance_new,
    nullptr,
    instance_free,
    &ops,
};

} // namespace

MODPOP3D_MODULE_DEFINE(descriptor)
