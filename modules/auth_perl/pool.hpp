// pool.hpp - the Perl helper processes of one auth_perl instance, seen from
// the auth process.
//
// Why processes: the interpreter must never run as root nor in a process
// that handles client bytes; one script stuck in a loop must not stop other
// logins; a leaking script must not grow the daemon. So the auth process
// runs no Perl at all. At process_init it forks a small "spawner" (before
// its thread pool starts, so the fork is of a single-threaded process),
// which drops to the helpers' identity, closes every inherited descriptor,
// starts one interpreter and runs `start` in it, once. Then it only forks
// helpers on request: each helper is a copy of that loaded interpreter and
// answers calls over its own socketpair (frame.hpp). So a running
// generation never re-reads the script (a broken file on disk does not
// hurt it; a reload reads the new one after `modpop3d -t`'s checks), and a
// fresh helper costs a fork, not a compile. The spawner hands the auth
// process its end of the socketpair (SCM_RIGHTS) and is the helpers'
// parent: it alone reaps them, so killing a helper by pid can never hit a
// recycled pid.
//
// The pool lends one idle helper per call (starting one when fewer than
// `max_helpers` exist), so concurrent logins run in different helpers. A
// call that does not answer within `timeout` gets its helper SIGKILLed; a
// helper that answered `max_use` calls is retired (end of file: it runs
// `finish` and exits) and a fresh one starts on demand.
#pragma once

#include "frame.hpp"
#include "interp.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <vector>

namespace modpop3d::auth_perl
{

// Who helpers run as; with switch_ids false the caller's own ids.
struct Identity {
    bool switch_ids = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

// drop_identity - in a single-threaded child: setgroups, setresgid,
// setresuid, no_new_privs; refuses to go on as root. False on failure.
bool drop_identity(const Identity &id);

// sanitize_child - in a freshly forked child: default signal dispositions
// and mask, stdin/stdout/stderr on /dev/null, every other descriptor
// closed except `keep`, a minimal environment, cwd "/", SIGKILL when the
// parent dies. Returns the new number of `keep` (moved to 3).
int sanitize_child(int keep, pid_t parent);

struct PoolOptions {
    Identity id;
    Script script;
    unsigned max_helpers = 4;
    unsigned max_use = 1000;
    int64_t timeout_ms = 5000;
};

// level (syslog number), text
using LogFn = std::function<void(int, const std::string &)>;

class Pool
{
  public:
    Pool(PoolOptions opt, LogFn log);
    ~Pool();
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    // start - fork the spawner and wait until it loaded the script. False
    // with `why` (the Perl error when the start code failed); call() then
    // tries again every 5 s and answers failed meanwhile.
    bool start(std::string &why);

    enum class Result {
        ok,         // `reply` holds the returned hash
        perl_error, // the script died or returned no hashref: `why` says so
        failed,     // timeout, helper crash, no helper: `why` says so
    };
    // call - run `sub` with `request` in some helper. Every text that goes
    // to the log or to `why` has `redact` (the password) replaced.
    Result call(const std::string &sub, const Pairs &request, Pairs &reply, std::string &why,
                const std::string &redact = {});

    // How many helpers were started so far (tests, logs).
    unsigned spawned() const;

  private:
    struct Helper {
        pid_t pid = -1;
        int fd = -1;
        unsigned uses = 0;
    };
    bool acquire(Helper &h, std::string &why, const std::string &redact);
    void release(Helper &h);
    void discard(Helper &h, bool kill_now);
    bool spawn(Helper &h, std::string &why, const std::string &redact);
    bool control(char op, pid_t pid, pid_t *ret_pid, int *ret_fd);
    Pool::Result exchange(Helper &h, uint64_t deadline, const std::string &sub, Pairs &reply,
                          std::string &why, const std::string &redact, bool *alive);
    void forward_log(const Frame &f, const std::string &redact);
    void stop();

    PoolOptions opt_;
    LogFn log_;
    pid_t owner_ = 0; // the process that started the spawner
    uint64_t last_start_us_ = 0;
    pid_t spawner_ = -1;    // its pid
    int ctl_ = -1;          // SOCK_SEQPACKET to the spawner
    std::mutex ctl_mu_;     // one control exchange at a time
    mutable std::mutex mu_; // idle_, live_
    std::condition_variable freed_;
    std::vector<Helper> idle_;
    unsigned live_ = 0; // helpers existing or being started
    unsigned spawned_ = 0;
};

} // namespace modpop3d::auth_perl
