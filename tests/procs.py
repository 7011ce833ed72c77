"""Processes of a running daemon, read from /proc, and steering a connection
to one worker (used by the process and TLS tests).

A connection is steered to a chosen worker by stopping (SIGSTOP) the other
workers while it is accepted: a stopped process is not waiting in
epoll_wait, so with EPOLLEXCLUSIVE only a running worker is woken."""
import contextlib
import os
import signal
import time

BOUND = 15.0  # seconds any wait in this file may take


def comm(pid):
    """A process's name: modpop3d (master), modpop3d-login (workers),
    modpop3d-auth, modpop3d-sess (a system user's session)."""
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def children(pid, name="modpop3d-login"):
    """Pids whose parent is `pid` (from /proc/*/stat), with that name
    (None: any); by default the daemon's login workers."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and (name is None or stat[stat.index("(") + 1:
                                                            stat.rindex(")")] == name):
            out.append(int(entry))
    return sorted(out)


def ids(pid, key):
    """(real, effective, saved, filesystem) uid or gid of a process."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return tuple(int(v) for v in line.split()[1:5])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def state(pid):
    """A process's state letter (R, S, T, Z...), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat[stat.rindex(")") + 2]


def dead(pid):
    """True once `pid` has exited: reaped (gone from /proc) or a zombie.
    One read, so a process reaped between two checks cannot raise."""
    return state(pid) in (None, "Z")


def wait_for(what, predicate, timeout=BOUND):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def workers_of(d, count):
    """The daemon's worker pids, once there are exactly `count`."""
    return wait_for(f"{count} workers", lambda: (lambda c: c if len(c) == count else None)(
        children(d.proc.pid)))


def auth_of(d):
    """The daemon's auth process pid."""
    return wait_for("the auth process", lambda: (lambda c: c[0] if len(c) == 1 else None)(
        children(d.proc.pid, "modpop3d-auth")))


@contextlib.contextmanager
def only(running, all_workers):
    """Stop every worker but `running` for the duration of the block."""
    stopped = [p for p in all_workers if p != running]
    try:
        for p in stopped:
            os.kill(p, signal.SIGSTOP)
        for p in stopped:
            wait_for(f"{p} stopped", lambda p=p: state(p) == "T")
        yield
    finally:
        for p in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGCONT)
