"""The master and its worker processes: privileges read from /proc, worker
count, restart of a killed worker, limits shared by all workers, SIGHUP
reload (broken and changed configurations), SIGTERM drain under load, and
daemon mode with its pid file.

Connections are steered to a chosen worker by stopping (SIGSTOP) the other
workers while it is accepted: a stopped process is not waiting in
epoll_wait, so with EPOLLEXCLUSIVE only a running worker is woken."""
import contextlib
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import DEFAULT_MODULES, SESSION_GID, SESSION_UID, _start_daemon, free_port
from pop3wire import Conn, login_retrying, stuffed_body

from procs import BOUND, auth_of, children, ids, only, state, wait_for, workers_of  # noqa: F401


def conn_on(d, worker, all_workers, port=None):
    """A connection accepted by `worker` (its greeting read)."""
    with only(worker, all_workers):
        return Conn(d.host, port or d.port)


def rewrite(conf, **changes):
    """Change core keys of a configuration file; returns the new text."""
    text = conf.read_text()
    for key, value in changes.items():
        key = key.replace("_", "-")
        text, n = re.subn(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.M)
        if n == 0:
            text = f"{key}: {value}\n" + text
    conf.write_text(text)
    return text


# ---------------------------------------------------------------- processes

def test_auth_process_runs_as_mail_user_when_no_module_needs_root(start_daemon):
    """auth_test does not ask for root: the auth process drops to mail-user
    like the workers; a login whose uid is mail-user's is served in the
    worker (no session process); the process roles have their own names."""
    d = start_daemon(core={"workers": "2"})
    auth = auth_of(d)
    assert ids(auth, "Uid") == (SESSION_UID,) * 4
    assert ids(auth, "Gid") == (SESSION_GID,) * 4
    d.wait_log(f"event=auth_serving pid={auth} uid={SESSION_UID} channels=2")
    assert f"event=auth_started pid={auth} generation=1 root=0" in d.log_text()
    with Conn(d.host, d.port) as c:
        c.login()
        assert children(d.proc.pid, "modpop3d-sess") == []
        assert c.cmd("STAT").startswith("+OK 3 ")
        assert c.cmd("QUIT").startswith("+OK Logging out")
    assert sorted(children(d.proc.pid, None)) == sorted(workers_of(d, 2) + [auth])


def test_auth_process_killed_is_restarted_and_logins_resume(start_daemon):
    d = start_daemon(core={"auth-timeout": "1s"})
    first = auth_of(d)
    os.kill(first, signal.SIGSTOP)  # hung: a login waits auth-timeout, then TEMP
    with Conn(d.host, d.port) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS secret").startswith("-ERR [SYS/TEMP]")
    os.kill(first, signal.SIGKILL)
    d.wait_log(f"event=auth_exited pid={first} generation=1 signal=9")
    second = wait_for("a new auth process", lambda: (
        lambda c: c[0] if len(c) == 1 and c[0] != first else None)(
            children(d.proc.pid, "modpop3d-auth")))
    # Named modpop3d-auth from the fork on, it is root until it has set up:
    # read its uid once it says it serves.
    d.wait_log(f"event=auth_serving pid={second} ")
    assert ids(second, "Uid") == (SESSION_UID,) * 4
    c, _ = login_retrying(d.host, d.port)
    with c:
        assert c.cmd("QUIT").startswith("+OK Logging out")
    d.wait_log("event=auth_timeout")


def test_master_and_workers_and_their_uids(start_daemon):
    d = start_daemon(core={"workers": "3"})
    workers = workers_of(d, 3)
    assert ids(d.proc.pid, "Uid") == (os.getuid(),) * 4  # root stays root in the master
    for w in workers:
        assert ids(w, "Uid") == (SESSION_UID,) * 4
        assert ids(w, "Gid") == (SESSION_GID,) * 4
    text = d.log_text()
    assert len(re.findall(r"event=worker_started pid=\d+ slot=\d+ generation=1", text)) == 3
    assert f"pid={d.proc.pid} workers=3 generation=1" in text
    # Every worker serves: steer one session to each.
    for w in workers:
        with conn_on(d, w, workers) as c:
            c.login()
            assert c.cmd("QUIT").startswith("+OK Logging out")


def test_workers_auto_is_the_cpu_count(start_daemon):
    d = start_daemon(core={"workers": "auto"})
    cpus = min(os.cpu_count() or 1, 64)
    assert len(workers_of(d, cpus)) == cpus


def test_killed_worker_is_restarted_and_other_sessions_survive(start_daemon):
    d = start_daemon(core={"workers": "2"})
    a, b = workers_of(d, 2)
    victim = conn_on(d, a, [a, b])
    survivor = conn_on(d, b, [a, b])
    with victim, survivor:
        victim.login()
        survivor.login()
        os.kill(a, signal.SIGKILL)
        d.wait_log(f"event=worker_exited pid={a} generation=1 signal=9 restart_in_ms=")
        assert victim.closed()
        # The other worker's session goes on as if nothing happened.
        assert survivor.cmd("STAT").startswith("+OK 3 ")
        retr = survivor.multi("RETR 2")
        assert retr.startswith(b"+OK ") and retr.endswith(stuffed_body(2))
        assert survivor.cmd("DELE 1") == "+OK Message deleted\r\n"
        assert survivor.cmd("QUIT") == "+OK Logging out (2 messages left)\r\n"
    now = wait_for("a replacement worker", lambda: (lambda c: c if len(c) == 2 and a not in c
                                                    else None)(children(d.proc.pid)))
    new = [p for p in now if p != b][0]
    d.wait_log(f"event=worker_serving pid={new} ")  # forked, then dropped privileges
    assert ids(new, "Uid") == (SESSION_UID,) * 4
    with conn_on(d, new, now) as c:
        c.login()
        assert c.cmd("QUIT").startswith("+OK Logging out")


@pytest.mark.parametrize("key,reason", [("max-connections-per-ip", "limit_ip"),
                                        ("max-connections", "limit_total")])
def test_connection_limits_hold_across_workers(start_daemon, key, reason):
    d = start_daemon(core={"workers": "3", key: "2"})
    w = workers_of(d, 3)
    first = conn_on(d, w[0], w)
    second = conn_on(d, w[1], w)
    with first, second:
        # A third worker has no connection of its own, yet refuses: the
        # count is shared.
        with conn_on(d, w[2], w) as third:
            assert third.greeting == b"-ERR [SYS/TEMP] Too many connections, try later\r\n"
            assert third.closed()
        d.wait_log(f"event=refused rip=127.0.0.1 reason={reason}")
        assert first.cmd("QUIT").startswith("+OK")
        assert first.closed()

        # The count drops when the first session ends: the third worker now
        # admits one (bounded retry while the first worker notices the close).
        def admitted():
            c = conn_on(d, w[2], w)
            if c.greeting.startswith(b"+OK"):
                return c
            c.close()
            return None

        with wait_for("a free connection slot", admitted) as again:
            again.login()
            assert again.cmd("QUIT").startswith("+OK Logging out")


def test_killed_worker_does_not_leak_its_counts(start_daemon):
    d = start_daemon(core={"workers": "2", "max-connections-per-ip": "2"})
    a, b = workers_of(d, 2)
    held = [conn_on(d, a, [a, b]), conn_on(d, a, [a, b])]
    try:
        with conn_on(d, b, [a, b]) as refused:
            assert refused.greeting.startswith(b"-ERR [SYS/TEMP]")
        os.kill(a, signal.SIGKILL)
        d.wait_log(f"event=worker_exited pid={a} ")
        # The master cleared the dead worker's counts: b admits again.
        with conn_on(d, b, [b]) as c:
            assert c.greeting == b"+OK modpop3d ready\r\n"
            c.login()
            assert c.cmd("QUIT").startswith("+OK")
    finally:
        for c in held:
            c.close()


def test_failed_login_delays_count_across_workers(start_daemon):
    # Each failure from one address makes the next answer wait longer, on
    # whichever worker it lands: the second failure, on the other worker,
    # counts as the address's second (and waits 2 x 1s).
    d = start_daemon(core={"workers": "2", "auth-failure-delay": "1s",
                           "max-auth-failures": "5"})
    a, b = workers_of(d, 2)
    for worker in (a, b):
        with conn_on(d, worker, [a, b]) as c:
            assert c.cmd("USER alice") == "+OK Send your password\r\n"
            c.send("PASS wrong\r\n")
            assert c.line().startswith(b"-ERR [AUTH]")
    lines = d.log_lines("auth_failed")
    assert len(lines) == 2
    pids = {re.search(r"\[(\d+)\]", l).group(1) for l in lines}
    assert pids == {str(a), str(b)}
    # The shared counter sets the delay and is logged with each failure.
    assert lines[0].endswith("failures=1") and lines[1].endswith("failures=2"), lines


def test_login_delay_holds_across_workers(start_daemon):
    d = start_daemon(core={"workers": "2", "login-delay": "1h"})
    a, b = workers_of(d, 2)
    with conn_on(d, a, [a, b]) as c:
        c.login()
        assert c.cmd("QUIT").startswith("+OK Logging out")
    # The other worker never saw alice log in, yet refuses her.
    with conn_on(d, b, [a, b]) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS secret") == "-ERR [LOGIN-DELAY] Too soon since the last login\r\n"
    # A refused login records nothing: bob is still free on either worker.
    with conn_on(d, b, [a, b]) as c:
        c.login("bob", "hunter2")
        assert c.cmd("QUIT").startswith("+OK Logging out")


def test_workers_leave_when_the_master_dies(binary, test_module_dir, workdir):
    d = _start_daemon(binary, test_module_dir, workdir, "orphans", {"workers": "2"},
                      DEFAULT_MODULES)
    try:
        workers = workers_of(d, 2)
        d.proc.kill()
        d.proc.wait(timeout=BOUND)
        wait_for("the workers gone", lambda: not any(alive(p) for p in workers))
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(timeout=BOUND)


# ---------------------------------------------------------------- reload

@pytest.mark.parametrize("broken", ["max-connections: lots",  # a core key
                                    "count: many",  # a module's key
                                    "[no_such_module]"])  # a module that is not there
def test_reload_with_a_broken_config_keeps_serving(start_daemon, broken):
    d = start_daemon(core={"workers": "2"})
    before = workers_of(d, 2)
    lines = d.conf.read_text().splitlines()
    if broken.startswith("count:"):
        lines[lines.index("count: 3")] = broken  # in [mailbox_memory]
    else:
        lines.append(broken)
    d.conf.write_text("\n".join(lines) + "\n")
    bad_line = lines.index(broken) + 1
    os.kill(d.proc.pid, signal.SIGHUP)
    log = d.wait_log("event=reload_failed why=")
    assert f"{d.conf}:{bad_line}" in log
    assert children(d.proc.pid) == before
    c, _ = login_retrying(d.host, d.port)
    with c:
        assert c.cmd("QUIT").startswith("+OK Logging out")


def test_reload_applies_new_config_and_old_sessions_finish(start_daemon):
    d = start_daemon(core={"workers": "2", "implementation": "first-config"})
    old_workers = workers_of(d, 2)
    old = Conn(d.host, d.port)
    with old:
        old.login()
        assert b"IMPLEMENTATION first-config" in old.multi("CAPA")
        new_port = free_port()
        rewrite(d.conf, implementation="second-config", listen=f"127.0.0.1:{new_port}")
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log("event=reloaded generation=2")
        # New connections: the new address and the new configuration.
        c, _ = login_retrying(d.host, new_port)
        with c:
            assert b"IMPLEMENTATION second-config" in c.multi("CAPA")
            assert c.cmd("QUIT").startswith("+OK Logging out")
        # The removed address stops answering once the old workers retired.
        def refused():
            try:
                socket.create_connection((d.host, d.port), timeout=2).close()
                return False
            except ConnectionRefusedError:
                return True
        wait_for("the old address closed", refused)
        # The session opened before the reload is undisturbed.
        assert old.cmd("STAT").startswith("+OK 3 ")
        assert old.multi("RETR 1").startswith(b"+OK")
        assert old.cmd("DELE 1") == "+OK Message deleted\r\n"
        assert old.cmd("QUIT") == "+OK Logging out (2 messages left)\r\n"
        assert old.closed()
    text = d.wait_log("reason=quit retrieved=1")
    assert re.search(r"event=logout user=alice rip=127.0.0.1 .*reason=quit retrieved=1 "
                     r"retrieved_octets=\d+ deleted=1 ", text)
    # The old generation's workers leave once their sessions ended.
    for p in old_workers:
        d.wait_log(f"event=worker_exited pid={p} generation=1 status=0")
    remaining = workers_of(d, 2)
    assert not set(remaining) & set(old_workers)


def test_reload_applies_changed_module_settings(start_daemon):
    d = start_daemon(core={"workers": "1"})
    d.conf.write_text(d.conf.read_text().replace("users: alice:secret bob:hunter2",
                                                 "users: alice:secret carol:pw"))
    os.kill(d.proc.pid, signal.SIGHUP)
    d.wait_log("event=reloaded generation=2")
    c, _ = login_retrying(d.host, d.port, "carol", "pw")
    with c:
        assert c.cmd("QUIT").startswith("+OK Logging out")


# ---------------------------------------------------------------- drain

def test_sigterm_drains_sessions_under_load(start_daemon):
    users = [f"user{i}" for i in range(6)]  # one maildrop each: no IN-USE
    d = start_daemon(core={"workers": "2", "shutdown-timeout": "20s"},
                     modules=DEFAULT_MODULES.replace(
                         "users: alice:secret bob:hunter2",
                         "users: " + " ".join(f"{u}:pw" for u in users)))
    w = workers_of(d, 2)
    sessions = [conn_on(d, w[i % 2], w) for i in range(6)]
    for c, u in zip(sessions, users):
        c.login(u, "pw")
    d.proc.send_signal(signal.SIGTERM)
    wait_for("every process stopping",
             lambda: len(d.log_lines("stopping")) == 3)
    # New clients are refused; running sessions finish their work.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((d.host, d.port), timeout=5).close()
    for c in sessions:
        assert c.multi("RETR 3").startswith(b"+OK")
        assert c.cmd("QUIT").startswith("+OK Logging out")
        c.close()
    assert d.terminate() == 0
    text = d.log_text()
    assert "event=stopped" in text
    assert len(re.findall(r"event=logout user=user\d .*reason=quit", text)) == 6


def test_sigterm_drain_is_bounded(start_daemon):
    d = start_daemon(core={"workers": "2", "shutdown-timeout": "1s"})
    w = workers_of(d, 2)
    held = [conn_on(d, p, w) for p in w]
    for c in held:
        c.login()
    assert d.terminate(timeout=BOUND) == 0
    for c in held:
        assert c.closed()
        c.close()
    assert len(d.log_lines("drain_timeout")) == 2


# ---------------------------------------------------------------- daemon mode

def daemon_conf(workdir, test_module_dir, pid_file, port):
    conf = workdir / "d.conf"
    conf.write_text(f"module-dir: {test_module_dir}\nlisten: 127.0.0.1:{port}\n"
                    f"pid-file: {pid_file}\nworkers: 2\nauth-failure-delay: 0\n"
                    + ("mail-user: nobody\n" if os.getuid() == 0 else "")
                    + DEFAULT_MODULES.format(uid=SESSION_UID, gid=SESSION_GID))
    return conf


def run_detached(binary, conf):
    return subprocess.run([binary, "-d", "-f", str(conf)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)


def stop_detached(pid, pid_file):
    os.kill(pid, signal.SIGTERM)
    wait_for("the daemon gone", lambda: not os.path.exists(f"/proc/{pid}"))
    assert not pid_file.exists()


def alive(pid):
    return os.path.exists(f"/proc/{pid}") and state(pid) != "Z"


@pytest.mark.parametrize("stale", [False, True])
def test_daemon_mode_writes_and_removes_the_pid_file(binary, test_module_dir, workdir, stale):
    pid_file = workdir / "modpop3d.pid"
    port = free_port()
    conf = daemon_conf(workdir, test_module_dir, pid_file, port)
    if stale:
        gone = subprocess.Popen(["true"])
        gone.wait()
        pid_file.write_text(f"{gone.pid}\n")
    r = run_detached(binary, conf)
    assert r.returncode == 0, r.stderr
    pid = int(pid_file.read_text())
    try:
        assert alive(pid)
        assert os.getsid(pid) not in (pid, os.getsid(0))  # detached, not a session leader
        with open(f"/proc/{pid}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[1]) != os.getpid()
        workers = wait_for("2 workers", lambda: (lambda c: c if len(c) == 2 else None)(
            children(pid)))
        for w in workers:
            assert ids(w, "Uid") == (SESSION_UID,) * 4
        c, _ = login_retrying("127.0.0.1", port)
        with c:
            assert c.cmd("QUIT").startswith("+OK Logging out")
        stop_detached(pid, pid_file)
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_daemon_mode_refuses_a_live_pid_file(binary, test_module_dir, workdir):
    pid_file = workdir / "modpop3d.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # this test runner: alive
    conf = daemon_conf(workdir, test_module_dir, pid_file, free_port())
    r = run_detached(binary, conf)
    assert r.returncode == 1
    assert pid_file.read_text() == f"{os.getpid()}\n"


def test_pid_file_in_the_foreground(start_daemon, workdir):
    pid_file = workdir / "fg.pid"
    d = start_daemon(core={"pid-file": str(pid_file)})
    assert pid_file.read_text() == f"{d.proc.pid}\n"
    assert d.terminate() == 0
    assert not pid_file.exists()
