"""hook_exec through the real daemon: the program runs at the chosen events
with the session's facts in its environment and never the password, as the
configured user; with veto its exit status refuses (1) or defers (75) a
login at auth-ok and at login; a program past its timeout is killed and
defers a vetoing login, and only costs a log line otherwise; `modpop3d -t`
names FILE:LINE for bad keys."""
import os
import pathlib
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e_auth"))

from conftest import SESSION_GID, SESSION_UID, run  # noqa: E402
from e2ehelp import (AUTH_FAILED, LOGGED_IN_EMPTY, TEMP_FAILED, real_daemon,  # noqa: E402,F401
                     try_login)
from pop3wire import Conn  # noqa: E402

PASSWORD = "Exec-Pw-93"
# A root auth process refuses to run a program as root: name nobody then.
USER_LINE = "user: nobody\n" if os.getuid() == 0 else ""
LOGIN_TEMP = "-ERR [SYS/TEMP] "


@pytest.fixture
def setup(workdir):
    users = workdir / "users"
    users.write_text(f"alice:{{PLAIN}}{PASSWORD}:{SESSION_UID}:{SESSION_GID}:/nonexistent:empty:\n")
    out = workdir / "out"
    out.mkdir()
    os.chown(out, SESSION_UID, SESSION_GID)
    return users, out


def script(workdir, name, body):
    p = workdir / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return p


def modules(users, hook):
    return f"[auth_flatfile]\nfile: {users}\ncheck-interval: 0\n[mailbox_empty]\n[hook_exec]\n{hook}"


def read_env(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def wait_file(path, seconds=10):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not written within {seconds}s"
        time.sleep(0.05)
    time.sleep(0.05)  # the writer may still be flushing
    return path


def test_events_environment_and_identity(real_daemon, workdir, setup):
    users, out = setup
    prog = script(workdir, "record.sh",
                  f'env > {out}/$MODPOP3D_EVENT.$$\nid -u > {out}/uid.$MODPOP3D_EVENT\n')
    d = real_daemon(modules(users, f"program: {prog}\nargs: one two\n"
                                   f"events: auth-ok auth-fail login logout\n{USER_LINE}"))
    with Conn(d.host, d.port, source="127.0.0.2") as c:
        assert try_login(c, "alice", "wrong-" + PASSWORD) == AUTH_FAILED
        assert try_login(c, "alice", PASSWORD) == LOGGED_IN_EMPTY
        assert c.cmd("QUIT").startswith("+OK")
    d.wait_log("event=logout user=alice")
    for ev in ("AUTH_FAIL", "AUTH_OK", "LOGIN", "LOGOUT"):
        wait_file(out / f"uid.{ev}")
    files = {p.name.split(".")[0]: p for p in out.iterdir() if not p.name.startswith("uid.")}
    assert set(files) == {"AUTH_FAIL", "AUTH_OK", "LOGIN", "LOGOUT"}, files
    for ev, path in files.items():
        text = path.read_text()
        assert PASSWORD not in text, (ev, text)
        env = read_env(path)
        assert env["MODPOP3D_EVENT"] == ev
        assert env["MODPOP3D_USER"] == "alice"
        assert env["MODPOP3D_CLIENT_IP"] == "127.0.0.2"
        assert env["MODPOP3D_LOCAL_IP"] == "127.0.0.1"
        # Nothing of the daemon's environment reaches the program.
        assert {k for k in env if not k.startswith("MODPOP3D_")} <= {"PATH", "PWD", "SHLVL", "_"}
    assert read_env(files["LOGIN"])["MODPOP3D_MESSAGES"] == "0"
    assert "MODPOP3D_DURATION_MS" in read_env(files["LOGOUT"])
    assert (out / "uid.LOGIN").read_text().strip() == str(SESSION_UID)


def test_only_the_chosen_events_run_it(real_daemon, workdir, setup):
    users, out = setup
    prog = script(workdir, "record.sh", f"touch {out}/$MODPOP3D_EVENT\n")
    d = real_daemon(modules(users, f"program: {prog}\nevents: logout\n{USER_LINE}"))
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PASSWORD) == LOGGED_IN_EMPTY
        c.cmd("QUIT")
    wait_file(out / "LOGOUT")
    assert sorted(p.name for p in out.iterdir()) == ["LOGOUT"]


@pytest.mark.parametrize("event", ["auth-ok", "login"])
def test_veto_refuses_defers_and_admits_by_exit_status(real_daemon, workdir, setup, event):
    users, out = setup
    # The status comes from a file the test writes: one daemon, three answers.
    status = workdir / "status"
    prog = script(workdir, "decide.sh", f"exit $(cat {status})\n")
    d = real_daemon(modules(users, f"program: {prog}\nevents: {event}\nveto: yes\n{USER_LINE}"),
                    allow_err=True)
    status.write_text("1\n")
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PASSWORD) == AUTH_FAILED
    status.write_text("75\n")
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PASSWORD).startswith(LOGIN_TEMP)
    status.write_text("0\n")
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PASSWORD) == LOGGED_IN_EMPTY
    assert "outcome=refused" in d.log_text() and "outcome=deferred" in d.log_text()


def test_a_hanging_program_is_killed_at_the_timeout(real_daemon, workdir, setup):
    users, out = setup
    prog = script(workdir, "hang.sh", f"echo $$ > {out}/pid\nexec sleep 60\n")
    # With veto the login is deferred; the program does not outlive the timeout.
    d = real_daemon(modules(users, f"program: {prog}\nevents: auth-ok\nveto: yes\n"
                                   f"timeout: 300ms\n{USER_LINE}"))
    t0 = time.monotonic()
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PASSWORD).startswith(LOGIN_TEMP)
    assert time.monotonic() - t0 < 30  # generous: far below the program's 60 s
    pid = int(wait_file(out / "pid").read_text())
    assert not os.path.exists(f"/proc/{pid}") or \
        "zombie" in pathlib.Path(f"/proc/{pid}/status").read_text().lower(), "not killed"
    d.wait_log("reason=timeout timeout_ms=300")
    # Without veto the same program only costs a log line: the login works.
    d2 = real_daemon(modules(users, f"program: {prog}\nevents: auth-ok\ntimeout: 300ms\n"
                                    f"{USER_LINE}"))
    with Conn(d2.host, d2.port) as c:
        assert try_login(c, "alice", PASSWORD) == LOGGED_IN_EMPTY
    d2.wait_log("reason=timeout")


def test_config_check_names_file_and_line(binary, staged_module_dir, workdir):
    conf = workdir / "bad.conf"
    conf.write_text(f"module-dir: {staged_module_dir}\n"
                    "[mailbox_empty]\n"
                    "[hook_exec]\n"
                    "program: /nonexistent/prog\n"
                    "events: login logon\n"
                    "user: root\n"
                    "veto: perhaps\n")
    r = run(binary, "-t", "-f", str(conf))
    text = r.stdout + r.stderr
    assert r.returncode == 1, text
    assert f"{conf}:7:" in text and "veto" in text, text
    conf.write_text(f"module-dir: {staged_module_dir}\n"
                    "[mailbox_empty]\n"
                    "[hook_exec]\n"
                    "program: /nonexistent/prog\n"
                    "events: login logon\n"
                    "user: root\n")
    r = run(binary, "-t", "-f", str(conf))
    text = r.stdout + r.stderr
    assert r.returncode == 1, text
    assert f"{conf}:4: [hook_exec] program: '/nonexistent/prog' is not an executable file" in text
    assert f"{conf}:5: [hook_exec] events: unknown event 'logon'" in text, text
    assert f"{conf}:6: [hook_exec] user: the program must not run as root" in text, text
