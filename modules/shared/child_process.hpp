// child_process.hpp - starting, talking to and stopping helper programs for
// the modules that run one (auth_other, hook_exec, hook_popbsmtp): fork +
// execve with a fixed argv (never a shell), a given environment (empty by
// default), chosen descriptors and an optional identity switch;
// deadline-bounded pipe I/O that never raises SIGPIPE; SIGTERM-then-SIGKILL
// termination with reaping; run() for "start it, wait for it, kill it after
// the timeout". Compiled into each module that uses it (files() in
// modules/meson.build: child_process_src).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace modpop3d::child
{

// now_us - CLOCK_MONOTONIC in microseconds (deadlines).
uint64_t now_us();

// Who the child runs as. With switch_ids false it keeps the caller's ids.
struct Identity {
    bool switch_ids = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

struct SpawnSpec {
    std::string program;           // absolute path, executed directly (no shell)
    std::vector<std::string> args; // argv[1..]; argv[0] is `program`
    std::vector<std::string> env;  // "NAME=value" items; empty: an empty environment
    Identity id;
    // Descriptors the child gets as 0, 1 and 3 (-1: /dev/null for 0 and 1,
    // nothing for 3). Its fd 2 is always /dev/null: in inetd mode the
    // daemon's own stderr may be the client's socket.
    int fd0 = -1;
    int fd1 = -1;
    int fd3 = -1;
};

// spawn - start the child. Returns its pid, or -1 with `err` set. Only
// async-signal-safe calls run between fork and execve (the caller may have
// other threads).
pid_t spawn(const SpawnSpec &spec, int &err);

// reap_if_exited - true when `pid` has exited (it is reaped then) or is
// not our child any more.
bool reap_if_exited(pid_t pid);

// wait_exit - wait for `pid` until `deadline_us`. Returns 1 and sets
// `status` (waitpid status) when it exited, 0 on timeout, -1 when it is not
// our child (someone else reaped it).
int wait_exit(pid_t pid, uint64_t deadline_us, int &status);

// terminate - SIGTERM, up to `grace_ms` to exit, then SIGKILL; always reaps
// (bounded: gives up after a further 5 s).
void terminate(pid_t pid, int grace_ms);

enum class Io { ok, timeout, closed, error };

// write_all - write everything before the deadline. `fd` must be
// non-blocking. A closed reader gives Io::closed, never SIGPIPE.
Io write_all(int fd, const char *data, std::size_t len, uint64_t deadline_us);

// read_some - wait for bytes until the deadline and read at most `cap`.
// Io::closed at end of file.
Io read_some(int fd, char *buf, std::size_t cap, std::size_t &got, uint64_t deadline_us);

// drain - read whatever is already waiting on `fd` (non-blocking) and
// return how many bytes were there; -1 when the writer has gone.
long drain(int fd);

// resolve_identity - who a helper runs as, from a configured `user` and
// `group` (names or numbers; group defaults to the user's primary group).
// Never root: with `user` empty the helper keeps the caller's ids, which
// must then not be root; switching needs a root caller. False with `why`
// (for the log) when that is not possible.
bool resolve_identity(const std::string &user, const std::string &group, Identity &id,
                      std::string &why);

// How one run() ended.
struct RunResult {
    enum Kind { exited, signalled, timeout, spawn_failed } kind = spawn_failed;
    int code = 0; // exit status (exited), signal number (signalled), errno (spawn_failed)
};

// run - spawn `spec` and wait for it to end, at most `timeout_ms`; then
// SIGTERM, a short grace, SIGKILL (always reaped). Blocks the calling
// thread for that long at most (plus the kill grace).
RunResult run(const SpawnSpec &spec, int64_t timeout_ms);

} // namespace modpop3d::child
