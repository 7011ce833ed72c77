"""hook_popbsmtp through the real daemon against a real Postfix (the Debian
package's smtpd, started once per run by postfixconf.py with
`check_client_access hash:MAP` and nothing trusted but 127.0.0.1): a RCPT to
an outside domain from 127.0.0.2 is refused before any POP3 login, accepted
after a POP3 login from 127.0.0.2, and refused again once the entry expired
(the module's pruning thread drops it and re-runs postmap). Also: the PROXY
address is the one recorded, a failing or hanging map command and program
cost a login nothing but a log line, program mode's environment, and
`modpop3d -t` on bad keys."""
import os
import pathlib
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e_auth"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from conftest import SESSION_GID, SESSION_UID, free_port, run  # noqa: E402
from e2ehelp import LOGGED_IN_EMPTY, real_daemon, try_login  # noqa: E402,F401
from pop3wire import Conn  # noqa: E402
import postfixconf  # noqa: E402

WHY = postfixconf.unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=WHY or "")

REFUSED = "554 5.7.1 <someone@outside.example>: Relay access denied"
ACCEPTED = "250 2.1.5 Ok"
PASSWORD = "Pbs-Pw-71"


@pytest.fixture(scope="session")
def postfix():
    pf = postfixconf.Postfix(free_port())
    try:
        pf.start()
        yield pf
    finally:
        pf.stop()


@pytest.fixture
def users(workdir):
    path = workdir / "users"
    path.write_text(f"alice:{{PLAIN}}{PASSWORD}:{SESSION_UID}:{SESSION_GID}:/nonexistent:empty:\n")
    return path


def modules(users, hook):
    return f"[auth_flatfile]\nfile: {users}\ncheck-interval: 0\n[mailbox_empty]\n{hook}"


def map_hook(pf, extra=""):
    return (f"[hook_popbsmtp]\nmap-file: {pf.map_path}\nmap-command: {pf.map_command}\n"
            f"{extra}")


def pop3_login(d, source):
    with Conn(d.host, d.port, source=source) as c:
        assert try_login(c, "alice", PASSWORD) == LOGGED_IN_EMPTY
        assert c.cmd("QUIT").startswith("+OK")


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds}s")
        time.sleep(0.2)


def test_relay_refused_before_login_accepted_after_refused_after_expiry(real_daemon, postfix,
                                                                         users):
    assert postfix.rcpt("127.0.0.2") == REFUSED
    d = real_daemon(modules(users, map_hook(postfix, "expire: 2s\nprune-interval: 1s\n")))
    assert postfix.rcpt("127.0.0.2") == REFUSED  # starting the daemon relays nothing
    pop3_login(d, "127.0.0.2")
    # The hook ran (map written, postmap done) before the +OK was sent.
    assert "\n127.0.0.2\tOK\n" in postfix.map_path.read_text()
    assert postfix.rcpt("127.0.0.2") == ACCEPTED
    # Only the address that logged in: 127.0.0.3 is still refused.
    assert postfix.rcpt("127.0.0.3") == REFUSED
    d.wait_log("event=popbsmtp_recorded addr=127.0.0.2 user=alice")
    # After expire (2 s), the pruning thread (every 1 s) drops the entry and
    # rebuilds the map: Postfix refuses again, with no further login.
    wait_for(lambda: "127.0.0.2" not in postfix.map_path.read_text(), 15, "entry pruned")
    assert postfix.rcpt("127.0.0.2") == REFUSED
    d.wait_log("event=popbsmtp_pruned kept=0 dropped=1")


def test_a_new_login_refreshes_and_prunes_at_the_next_write(real_daemon, postfix, users):
    """prune-interval 0: expired entries go at the next login's rewrite."""
    d = real_daemon(modules(users, map_hook(postfix, "expire: 1s\nprune-interval: 0\n")))
    pop3_login(d, "127.0.0.4")
    assert postfix.rcpt("127.0.0.4") == ACCEPTED
    time.sleep(1.5)
    pop3_login(d, "127.0.0.5")
    text = postfix.map_path.read_text()
    assert "127.0.0.4" not in text and "\n127.0.0.5\tOK\n" in text, text
    assert postfix.rcpt("127.0.0.4") == REFUSED
    assert postfix.rcpt("127.0.0.5") == ACCEPTED


def test_the_proxy_address_is_recorded_not_the_balancers(real_daemon, postfix, users):
    proxy_port = free_port()
    d = real_daemon(modules(users, map_hook(postfix, "prune-interval: 0\n")),
                    core={"proxy-trusted-networks": "127.0.0.1/32"},
                    extra=f"listen: 127.0.0.1:{proxy_port} proxy=yes\n")
    with Conn(d.host, proxy_port, greeting=False) as c:
        c.send(b"PROXY TCP4 127.0.0.6 127.0.0.1 40000 110\r\n")
        assert c.line() == b"+OK modpop3d ready\r\n"
        assert try_login(c, "alice", PASSWORD) == LOGGED_IN_EMPTY
    text = postfix.map_path.read_text()
    assert "\n127.0.0.6\tOK\n" in text and "\n127.0.0.1\tOK" not in text, text
    assert postfix.rcpt("127.0.0.6") == ACCEPTED


def test_failing_and_hanging_map_commands_cost_the_login_nothing(real_daemon, workdir, users):
    mapdir = workdir / "map"
    mapdir.mkdir()
    os.chown(mapdir, SESSION_UID, SESSION_GID)
    # A command that fails: logged, the login goes on.
    d = real_daemon(modules(users, f"[hook_popbsmtp]\nmap-file: {mapdir}/relay\n"
                                   "map-command: /bin/false\nprune-interval: 0\n"),
                    allow_err=True)
    pop3_login(d, "127.0.0.2")
    d.wait_log("event=popbsmtp_failed addr=127.0.0.2 user=alice reason=\"/bin/false exited "
               "with status 1\" map_written=yes")
    # A command that never ends is killed at map-command-timeout.
    hang = workdir / "hang.sh"
    hang.write_text("#!/bin/sh\nexec sleep 60\n")
    hang.chmod(0o755)
    d2 = real_daemon(modules(users, f"[hook_popbsmtp]\nmap-file: {mapdir}/relay2\n"
                                    f"map-command: {hang}\nmap-command-timeout: 500ms\n"
                                    "prune-interval: 0\n"), allow_err=True)
    t0 = time.monotonic()
    pop3_login(d2, "127.0.0.2")
    assert time.monotonic() - t0 < 30  # generous: bounded by the timeout, not by sleep 60
    d2.wait_log("did not finish within the command timeout")


def test_program_mode_gets_the_facts_and_no_password(real_daemon, workdir, users):
    out = workdir / "out"
    out.mkdir()
    os.chown(out, SESSION_UID, SESSION_GID)
    prog = workdir / "record.sh"
    prog.write_text(f"#!/bin/sh\nenv > {out}/env.$MODPOP3D_CLIENT_IP\n")
    prog.chmod(0o755)
    user = "nobody\n" if os.getuid() == 0 else ""
    d = real_daemon(modules(users, f"[hook_popbsmtp]\nmode: program\nprogram: {prog}\n"
                                   f"expire: 90s\n" + (f"user: {user}" if user else "")))
    pop3_login(d, "127.0.0.2")
    env = dict(line.split("=", 1) for line in
               (out / "env.127.0.0.2").read_text().splitlines() if "=" in line)
    assert env["MODPOP3D_USER"] == "alice"
    assert env["MODPOP3D_CLIENT_IP"] == "127.0.0.2"
    assert env["MODPOP3D_EVENT"] == "LOGIN"
    assert env["MODPOP3D_EXPIRE"] == "90"
    assert int(env["MODPOP3D_EXPIRES_AT"]) - int(env["MODPOP3D_TIME"]) in (90, 91)
    assert PASSWORD not in (out / "env.127.0.0.2").read_text()
    # Nothing of the daemon's own environment leaks in.
    assert set(env) - {"PATH", "PWD", "SHLVL", "_"} <= {k for k in env if k.startswith("MODPOP3D_")}


def test_program_timeout_is_logged_and_the_login_goes_on(real_daemon, workdir, users):
    prog = workdir / "slow.sh"
    prog.write_text("#!/bin/sh\nexec sleep 60\n")
    prog.chmod(0o755)
    user = "user: nobody\n" if os.getuid() == 0 else ""
    d = real_daemon(modules(users, f"[hook_popbsmtp]\nmode: program\nprogram: {prog}\n"
                                   f"timeout: 300ms\n{user}"))
    t0 = time.monotonic()
    pop3_login(d, "127.0.0.2")
    assert time.monotonic() - t0 < 30
    d.wait_log("event=popbsmtp_failed outcome=timeout")


def test_config_check_names_file_and_line(binary, staged_module_dir, workdir):
    conf = workdir / "bad.conf"
    conf.write_text(f"module-dir: {staged_module_dir}\n"
                    "[mailbox_empty]\n"
                    "[hook_popbsmtp]\n"
                    "map-file: /nonexistent-dir/relay\n"
                    "map-command: postmap hash:/x\n"
                    "program: /bin/true\n"
                    "map-value: two words\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1, r
    text = r.stdout + r.stderr
    assert f"{conf}:4: [hook_popbsmtp] map-file: the directory /nonexistent-dir/ does not " \
           "exist" in text, text
    assert f"{conf}:5: [hook_popbsmtp] map-command: the command must start with an absolute " \
           "path" in text, text
    assert f"{conf}:6: [hook_popbsmtp] program: program is not used in mode relay-map" in text
    assert f"{conf}:7: [hook_popbsmtp] map-value: the value must be one word" in text
    conf.write_text(f"module-dir: {staged_module_dir}\n[mailbox_empty]\n[hook_popbsmtp]\n"
                    "mode: program\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1 and f"{conf}:3: [hook_popbsmtp]: mode program needs program" in \
        r.stdout + r.stderr, r
