// hook_popbsmtp.cpp - the hook_popbsmtp module: POP-before-SMTP. After a
// successful login (the LOGIN event: password accepted, maildrop open; run in
// the auth process) it records
// the client's address (the address a PROXY header named, when the listener
// takes one), the user and the time, for `expire`, through one of:
//   relay-map  a map file an MTA reads (relay_map.hpp), optionally built by
//              a command such as postmap; expired entries are dropped on
//              every rewrite and by a pruning thread every prune-interval;
//   program    a program run without a shell, the facts in its environment.
// Recording never refuses a login: a failure is logged (the user can still
// read mail; only relaying waits for the next successful record).
#include "child_process.hpp"
#include "conf_util.hpp"
#include "hook_env.hpp"
#include "relay_map.hpp"
#include "sysuser.hpp"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <memory>
#include <modpop3d/module.hpp>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace
{

namespace pb = modpop3d::popbsmtp;
namespace cp = modpop3d::child;
namespace su = modpop3d::sysuser;
using modpop3d::confutil::integer;
using modpop3d::confutil::str;

const modpop3d_conf_item schema[] = {
    {"mode", MODPOP3D_CONF_ENUM, 0, "relay-map",
     "How a login is recorded: relay-map (a map file an MTA reads) or program.",
     "relay-map|program", 0, 0},
    {"expire", MODPOP3D_CONF_DURATION, 0, "30m",
     "How long a login lets its address relay (whole seconds).", nullptr, 1000,
     int64_t{30} * 86400 * 1000},
    {"map-file", MODPOP3D_CONF_PATH, 0, nullptr,
     "relay-map: the map file; its directory must be writable by the auth process.", nullptr, 0, 0},
    {"map-format", MODPOP3D_CONF_ENUM, 0, "postfix",
     "relay-map: postfix (access(5): ADDR OK), sendmail (Connect:ADDR RELAY) or exim "
     "(lsearch: \"ADDR\": yes).",
     "postfix|sendmail|exim", 0, 0},
    {"map-value", MODPOP3D_CONF_STRING, 0, nullptr,
     "relay-map: the right-hand side of each entry (default OK, RELAY or yes by format).", nullptr,
     0, 0},
    {"map-command", MODPOP3D_CONF_LIST, 0, nullptr,
     "relay-map: program and arguments run after each rewrite, without a shell "
     "(e.g. /usr/sbin/postmap hash:/var/lib/modpop3d/popbsmtp).",
     nullptr, 0, 0},
    {"map-command-timeout", MODPOP3D_CONF_DURATION, 0, "10s",
     "relay-map: longest run of map-command before it is killed.", nullptr, 10, 300000},
    {"refresh-interval", MODPOP3D_CONF_DURATION, 0, "1m",
     "relay-map: an address recorded less than this long ago (by any user) is not "
     "rewritten (at most half of expire); 0: rewrite at every login.",
     nullptr, 0, int64_t{86400} * 1000},
    {"prune-interval", MODPOP3D_CONF_DURATION, 0, "1m",
     "relay-map: how often expired entries are looked for between logins; 0: only at logins.",
     nullptr, 0, int64_t{86400} * 1000},
    {"lock-timeout", MODPOP3D_CONF_DURATION, 0, "5s",
     "relay-map: longest wait for another writer's lock on the map.", nullptr, 10, 300000},
    {"program", MODPOP3D_CONF_PATH, 0, nullptr,
     "program: absolute path of the program, run without a shell.", nullptr, 0, 0},
    {"program-args", MODPOP3D_CONF_LIST, 0, nullptr, "program: its arguments (no expansion).",
     nullptr, 0, 0},
    {"user", MODPOP3D_CONF_STRING, 0, nullptr,
     "program: user (name or number) it runs as; needs a root auth process.", nullptr, 0, 0},
    {"group", MODPOP3D_CONF_STRING, 0, nullptr,
     "program: group it runs as; default: the user's primary group.", nullptr, 0, 0},
    {"timeout", MODPOP3D_CONF_DURATION, 0, "10s",
     "program: longest run before it is killed (the login goes on).", nullptr, 10, 300000},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

std::vector<std::string> list(const modpop3d_host *host, const modpop3d_conf *conf, const char *key)
{
    std::vector<std::string> out;
    const char *item = nullptr;
    for (uint32_t i = 0; i < 4096 && host->conf_list_item(conf, key, i, &item) == MODPOP3D_OK; ++i)
        out.emplace_back(item);
    return out;
}

enum class Mode { relay_map, program };

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    Mode mode = Mode::relay_map;
    int64_t expire_s = 1800;
    pb::MapSettings map;
    int64_t prune_ms = 60000;
    std::string program;
    std::vector<std::string> program_args;
    std::string user, group;
    int64_t timeout_ms = 10000;

    // The pruning thread (relay-map), owned by the process that started it.
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    std::thread *pruner = nullptr;
    pid_t pruner_owner = 0;

    ~Instance() { stop_pruner(); }

    void stop_pruner()
    {
        if (pruner == nullptr)
            return;
        if (pruner_owner == getpid()) {
            {
                std::lock_guard lock(mu);
                stopping = true;
            }
            cv.notify_all();
            pruner->join();
            delete pruner;
        }
        // In a forked child the thread does not exist: leave the object.
        pruner = nullptr;
    }
};

int64_t unix_now()
{
    return static_cast<int64_t>(time(nullptr));
}

// prune_once - drop expired entries now; logs what happened. False only
// when the map itself could not be written (a failing map-command is
// logged, and tried again at the next rewrite).
bool prune_once(Instance &in)
{
    std::string why;
    pb::Stats st;
    const pb::Outcome o = pb::prune(in.map, unix_now(), why, &st);
    if (o == pb::Outcome::failed || o == pb::Outcome::command_failed)
        in.host->log(in.ictx, MODPOP3D_LOG_WARNING, "event=popbsmtp_prune_failed reason=\"%s\"%s",
                     su::printable(why, 300).c_str(),
                     o == pb::Outcome::command_failed ? " map_written=yes" : "");
    else if (o == pb::Outcome::written)
        in.host->log(in.ictx, MODPOP3D_LOG_INFO, "event=popbsmtp_pruned kept=%zu dropped=%zu",
                     st.kept, st.dropped);
    return o != pb::Outcome::failed;
}

void pruner_main(Instance *in)
{
    std::unique_lock lock(in->mu);
    while (!in->stopping) {
        in->cv.wait_for(lock, std::chrono::milliseconds(in->prune_ms),
                        [&] { return in->stopping; });
        if (in->stopping)
            break;
        lock.unlock();
        (void)prune_once(*in);
        lock.lock();
    }
}

void record_in_map(Instance &in, const std::string &addr, const std::string &user)
{
    std::string why;
    pb::Stats st;
    const pb::Outcome o = pb::record(in.map, addr, user, unix_now(), in.expire_s, why, &st);
    if (o == pb::Outcome::written) {
        in.host->log(in.ictx, MODPOP3D_LOG_INFO,
                     "event=popbsmtp_recorded addr=%s user=%s entries=%zu dropped=%zu",
                     addr.c_str(), su::printable(user).c_str(), st.kept, st.dropped);
        return;
    }
    if (o == pb::Outcome::unchanged) {
        in.host->log(in.ictx, MODPOP3D_LOG_DEBUG,
                     "event=popbsmtp_fresh addr=%s user=%s reason=\"recorded less than "
                     "refresh-interval ago\"",
                     addr.c_str(), su::printable(user).c_str());
        return;
    }
    in.host->log(in.ictx, MODPOP3D_LOG_WARNING,
                 "event=popbsmtp_failed addr=%s user=%s reason=\"%s\"%s", addr.c_str(),
                 su::printable(user).c_str(), su::printable(why, 300).c_str(),
                 o == pb::Outcome::command_failed ? " map_written=yes" : "");
}

void record_by_program(Instance &in, modpop3d_session *session, const modpop3d_event_info *info)
{
    cp::SpawnSpec spec;
    spec.program = in.program;
    spec.args = in.program_args;
    std::string why;
    if (!cp::resolve_identity(in.user, in.group, spec.id, why)) {
        in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=popbsmtp_failed reason=\"%s\"", why.c_str());
        return;
    }
    spec.env = modpop3d::hook_env::session_env(in.host, session, info);
    spec.env.push_back("MODPOP3D_EXPIRE=" + std::to_string(in.expire_s));
    spec.env.push_back("MODPOP3D_EXPIRES_AT=" + std::to_string(unix_now() + in.expire_s));
    const cp::RunResult r = cp::run(spec, in.timeout_ms);
    if (r.kind == cp::RunResult::exited && r.code == 0)
        return;
    const char *kind = r.kind == cp::RunResult::exited      ? "exit"
                       : r.kind == cp::RunResult::signalled ? "signal"
                       : r.kind == cp::RunResult::timeout   ? "timeout"
                                                            : "spawn_failed";
    in.host->log(in.ictx, MODPOP3D_LOG_WARNING, "event=popbsmtp_failed outcome=%s code=%d", kind,
                 r.code);
}

int32_t on_event(void *p, modpop3d_session *session, const modpop3d_event_info *info) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&] {
        if (info == nullptr || info->event != MODPOP3D_EV_LOGIN)
            return MODPOP3D_OK;
        const char *ip = in.host->session_get(session, "client_ip");
        const char *user = in.host->session_get(session, "user");
        const std::string addr = pb::canonical_addr(ip ? ip : "");
        if (addr.empty()) {
            // inetd mode on a pipe, or a PROXY LOCAL header: no address.
            in.host->log(in.ictx, MODPOP3D_LOG_INFO,
                         "event=popbsmtp_skipped reason=\"no client "
                         "address\"");
            return MODPOP3D_OK;
        }
        if (in.mode == Mode::relay_map)
            record_in_map(in, addr, user ? user : "");
        else
            record_by_program(in, session, info);
        return MODPOP3D_OK; // never refuses a login
    });
}

bool executable(const std::string &path, std::string &why)
{
    struct stat st {
    };
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
        why = strerror(errno != 0 ? errno : EACCES);
        if (errno == 0 || S_ISDIR(st.st_mode))
            why = "not an executable file";
        return false;
    }
    return true;
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        int32_t rc = MODPOP3D_OK;
        const bool map_mode = str(host, conf, "mode", "relay-map") == "relay-map";
        const std::vector<const char *> map_keys{"map-file", "map-value", "map-command"};
        const std::vector<const char *> program_keys{"program", "program-args", "user", "group"};
        for (const char *k : map_mode ? program_keys : map_keys)
            if (!str(host, conf, k).empty())
                rc = host->conf_error(conf, k, "%s is not used in mode %s", k,
                                      map_mode ? "relay-map" : "program");
        std::string why;
        if (map_mode) {
            const std::string file = str(host, conf, "map-file");
            if (file.empty())
                return host->conf_error(conf, nullptr, "mode relay-map needs map-file");
            const std::string dir = file.substr(0, file.rfind('/') + 1);
            struct stat st {
            };
            if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
                rc = host->conf_error(conf, "map-file", "the directory %s does not exist",
                                      su::printable(dir, 200).c_str());
            const std::string value = str(host, conf, "map-value");
            if (value.find_first_of(" \t\r\n#") != std::string::npos)
                rc = host->conf_error(conf, "map-value", "the value must be one word without '#'");
            const auto cmd = list(host, conf, "map-command");
            if (!cmd.empty() && cmd[0].front() != '/')
                rc = host->conf_error(conf, "map-command",
                                      "the command must start with an absolute path, not '%s'",
                                      su::printable(cmd[0], 200).c_str());
            else if (!cmd.empty() && !executable(cmd[0], why))
                rc = host->conf_error(conf, "map-command", "'%s': %s",
                                      su::printable(cmd[0], 200).c_str(), why.c_str());
        } else {
            const std::string program = str(host, conf, "program");
            if (program.empty())
                return host->conf_error(conf, nullptr, "mode program needs program");
            if (!executable(program, why))
                rc = host->conf_error(conf, "program", "'%s': %s",
                                      su::printable(program, 200).c_str(), why.c_str());
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
                rc = host->conf_error(conf, "group", "no such group '%s'",
                                      su::printable(group).c_str());
        }
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
        in->mode =
            str(host, conf, "mode", "relay-map") == "program" ? Mode::program : Mode::relay_map;
        in->expire_s = std::max<int64_t>(1, integer(host, conf, "expire", 1800000) / 1000);
        in->map.path = str(host, conf, "map-file");
        const std::string fmt = str(host, conf, "map-format", "postfix");
        in->map.format = fmt == "sendmail" ? pb::Format::sendmail
                         : fmt == "exim"   ? pb::Format::exim
                                           : pb::Format::postfix;
        in->map.value = str(host, conf, "map-value");
        in->map.command = list(host, conf, "map-command");
        in->map.command_timeout_ms = integer(host, conf, "map-command-timeout", 10000);
        in->map.lock_timeout_ms = integer(host, conf, "lock-timeout", 5000);
        in->prune_ms = integer(host, conf, "prune-interval", 60000);
        in->map.refresh_s = integer(host, conf, "refresh-interval", 60000) / 1000;
        in->program = str(host, conf, "program");
        in->program_args = list(host, conf, "program-args");
        in->user = str(host, conf, "user");
        in->group = str(host, conf, "group");
        in->timeout_ms = integer(host, conf, "timeout", 10000);
        *ret = in.release();
        return MODPOP3D_OK;
    });
}

int32_t process_init(void *p) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&] {
        if (in.mode != Mode::relay_map)
            return MODPOP3D_OK;
        // Create (and build) the map now: an MTA that finds no map defers
        // mail, and a directory this process cannot write should show at
        // start, not at the first login.
        if (!prune_once(in)) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=popbsmtp_init_failed reason=\"cannot write the relay map as uid "
                         "%u; make its directory writable by that user\"",
                         static_cast<unsigned>(geteuid()));
            return MODPOP3D_E_IO;
        }
        if (in.prune_ms > 0 && in.pruner == nullptr) {
            in.stopping = false;
            in.pruner = new std::thread(pruner_main, &in);
            in.pruner_owner = getpid();
        }
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    auto *in = static_cast<Instance *>(p);
    modpop3d::guard_void(in->host, in->ictx, [&] { delete in; });
}

// LOGIN: the session really began (as tpop3d recorded it), and the hook runs
// on the auth process's thread pool while the worker serves others (the
// login waits at most hook-timeout). Not AUTH_OK: an AUTH_OK hook turns the
// auth cache off.
const modpop3d_hook_ops ops = {
    sizeof(modpop3d_hook_ops),
    MODPOP3D_EV_LOGIN,
    on_event,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_HOOK,
    // File locks and a child process: may block; each call opens its own
    // lock, so calls may run on several threads at once.
    MODPOP3D_MODF_BLOCKING | MODPOP3D_MODF_THREAD_SAFE,
    "hook_popbsmtp",
    "0.1.0",
    "POP-before-SMTP: record login addresses in a relay map or through a program",
    schema,
    sizeof(modpop3d_conf_item),
    0,
    conf_check,
    instance_new,
    process_init,
    instance_free,
    &ops,
};

} // namespace

MODPOP3D_MODULE_DEFINE(descriptor)
