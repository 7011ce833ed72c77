"""auth_other through the real daemon, with the module's own Python helper
fixture (modules/auth_other/tests/fixture_helper.py) speaking tpop3d's
auth-other protocol: logins and identical failures, a helper that hangs
(timeout, restart, and a second instance that keeps answering), helpers that
crash (the one documented retry), and no password in the daemon's log.

The fixture's behaviour is picked by the name of its copy (helper-good,
helper-hang, helper-crash, helper-crashall) and it records into out/ next to
itself: one pid per start in out/spawns. Its users map to uid nobody /
gid nogroup, so these tests need the root setup of the suite, where the
sessions run as mail-user nobody (uid 65534) and the auth process, not
root, runs the helper as nobody: the copy and its directory are 0755 and
out/ is writable by nobody.
"""
import os
import pathlib
import shutil
import select
import time

import pytest

from e2ehelp import (AUTH_FAILED, LOGGED_IN_EMPTY, SEND_PASSWORD, TEMP_FAILED,
                     assert_no_secret, real_daemon, try_login)
from pop3wire import Conn

FIXTURE = (pathlib.Path(__file__).resolve().parents[2] / "modules" / "auth_other" / "tests" /
           "fixture_helper.py")

# The fixture maps alice to uid "nobody": only the root setup runs sessions
# as nobody (SESSION_UID 65534); as another user the session could not take
# that uid.
pytestmark = pytest.mark.skipif(os.getuid() != 0,
                                reason="the fixture's users map to uid nobody: needs root")

GOOD_PW = "wonderland"  # alice's password in fixture_helper.py


def helper(workdir, name, sub):
    """A copy of the fixture named `name` (its behaviour) in workdir/sub,
    readable and executable by nobody; returns (program path, out dir)."""
    d = workdir / sub
    out = d / "out"
    out.mkdir(parents=True)
    os.chmod(d, 0o755)
    os.chmod(out, 0o777)  # the helper runs as nobody and records here
    prog = d / name
    shutil.copyfile(FIXTURE, prog)
    os.chmod(prog, 0o755)
    return prog, out


def spawns(out):
    f = out / "spawns"
    return f.read_text().split() if f.exists() else []


def section(prog, name="auth_other", timeout="1s", extra=""):
    # No mailbox in the fixture's reply for alice: the instance's template
    # gives mailbox_empty's maildrop. onlogin off, so that every request the
    # helper sees is a login (helper-crash counts requests).
    return (f"[{name}]\nprogram: {prog}\ntimeout: {timeout}\nmailbox: empty:\n"
            f"onlogin: no\n{extra}")


def wait_for(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not within {timeout}s")


def nothing_received(conn):
    """True when no reply byte (nor EOF) has arrived on conn yet. A zero
    select, not recv(MSG_DONTWAIT): on a socket with a timeout Python polls
    for up to that timeout before such a recv."""
    if conn.buf:
        return False
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return not readable


def test_login_wrong_password_and_unknown_user(real_daemon, workdir):
    prog, out = helper(workdir, "helper-good", "good")
    d = real_daemon(section(prog) + "[mailbox_empty]\n")
    with Conn(d.host, d.port) as c:
        wrong = try_login(c, "alice", "wrong-" + GOOD_PW)
        unknown = try_login(c, "nosuchuser", GOOD_PW)
        assert wrong == unknown == AUTH_FAILED
        assert try_login(c, "alice", GOOD_PW) == LOGGED_IN_EMPTY
        assert c.cmd("STAT") == "+OK 0 0\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
    d.wait_log("event=logout user=alice")
    # One long-lived helper answered all three requests.
    assert len(spawns(out)) == 1, spawns(out)
    assert len((out / "requests").read_text().splitlines()) == 3
    assert_no_secret(d, GOOD_PW, "wrong-" + GOOD_PW)


def test_hung_helper_times_out_and_is_restarted(real_daemon, workdir):
    """One instance; helper-hang hangs on the first request of its first
    process: that login gets TEMP after `timeout` (1s), the helper is
    killed, and the next login starts a fresh helper that answers."""
    prog, out = helper(workdir, "helper-hang", "hang")
    d = real_daemon(section(prog) + "[mailbox_empty]\n", allow_err=True)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", GOOD_PW) == TEMP_FAILED
        assert (out / "hung").exists()
        assert try_login(c, "alice", GOOD_PW) == LOGGED_IN_EMPTY
    log = d.wait_log("event=logout user=alice")
    assert 'reason="timed out"' in log
    pids = spawns(out)
    assert len(pids) == 2, pids
    # The hung first helper was killed (SIGTERM, then SIGKILL after 0.5s).
    wait_for(lambda: not pathlib.Path(f"/proc/{pids[0]}").exists(), "hung helper gone")
    assert_no_secret(d, GOOD_PW)


def test_other_instance_answers_while_one_helper_hangs(real_daemon, workdir):
    """Requests are serialised per instance (one helper, one request at a
    time), so a second client cannot be served by the hung helper's own
    instance while it waits; a second, healthy instance can. Chain: the
    healthy instance (priority 10) answers NOUSER for 'eve', so eve's login
    goes on to the hanging instance (priority 20) and waits there for its
    timeout (3s here, so that alice's login fits well inside the wait even
    on a loaded machine). Meanwhile a second connection logs alice in through the
    healthy instance: its reply comes while eve's is still pending (an
    ordering, not a timing, assertion). After the timeout eve gets TEMP, and
    the restarted hanging helper answers eve's next try (NOUSER from both:
    the plain failure, no longer TEMP)."""
    good, good_out = helper(workdir, "helper-good", "good")
    hang, hang_out = helper(workdir, "helper-hang", "hang")
    d = real_daemon(section(good, "auth_other/good", extra="priority: 10\n") +
                    section(hang, "auth_other/hang", timeout="3s", extra="priority: 20\n") +
                    "[mailbox_empty]\n", allow_err=True)
    with Conn(d.host, d.port) as first:
        assert first.cmd("USER eve") == SEND_PASSWORD
        first.send("PASS evepw\r\n")
        wait_for(lambda: (hang_out / "hung").exists(), "the hang helper's first request")
        with Conn(d.host, d.port) as second:
            assert try_login(second, "alice", GOOD_PW) == LOGGED_IN_EMPTY
            assert nothing_received(first), "eve's login was answered before alice's"
            assert second.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
        assert first.line().decode() == TEMP_FAILED
        assert try_login(first, "eve", "evepw") == AUTH_FAILED
    assert len(spawns(hang_out)) == 2, spawns(hang_out)
    assert len(spawns(good_out)) == 1, spawns(good_out)
    assert 'reason="timed out"' in d.log_text()
    assert_no_secret(d, GOOD_PW, "evepw")


def test_helper_dying_once_is_retried(real_daemon, workdir):
    """helper-crash answers its first request and dies (SIGSEGV) on the
    second before replying. Documented: a helper that dies before answering
    is restarted and asked once more - so the second login succeeds through
    a fresh helper, and the daemon stays up."""
    prog, out = helper(workdir, "helper-crash", "crash")
    d = real_daemon(section(prog, timeout="5s") + "[mailbox_empty]\n", allow_err=True)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", GOOD_PW) == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=alice")
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", GOOD_PW) == LOGGED_IN_EMPTY
    d.wait_log('reason="helper died before answering"')
    assert len(spawns(out)) == 2, spawns(out)
    # Each helper process saw the request; the second login was sent twice.
    assert len((out / "requests").read_text().splitlines()) == 3
    assert d.proc.poll() is None
    assert_no_secret(d, GOOD_PW)


def test_helper_dying_every_time_is_temp(real_daemon, workdir):
    """helper-crashall dies on every request: the first attempt and the one
    retry both die, so the login fails with TEMP (not a plain failure); the
    next login is tried again (two more starts), and the daemon stays up."""
    prog, out = helper(workdir, "helper-crashall", "crashall")
    d = real_daemon(section(prog, timeout="5s") + "[mailbox_empty]\n", allow_err=True)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", GOOD_PW) == TEMP_FAILED
        assert len(spawns(out)) == 2, spawns(out)
        assert try_login(c, "alice", GOOD_PW) == TEMP_FAILED
        assert len(spawns(out)) == 4, spawns(out)
        assert c.cmd("NOOP") == "-ERR Not logged in\r\n"
    assert d.proc.poll() is None
    with Conn(d.host, d.port) as c:
        assert c.greeting == b"+OK modpop3d ready\r\n"
    assert_no_secret(d, GOOD_PW)


def test_password_never_logged_even_at_debug(real_daemon, workdir):
    """At log-level debug, good, wrong and unknown-user logins and a
    helper timeout leave no password in the daemon's log."""
    good, _ = helper(workdir, "helper-good", "good")
    hang, _ = helper(workdir, "helper-hang", "hang")
    d = real_daemon(section(good, "auth_other/good", extra="priority: 10\n") +
                    section(hang, "auth_other/hang", extra="priority: 20\n") +
                    "[mailbox_empty]\n", core={"log-level": "debug"}, allow_err=True)
    secrets = ["Wr0ngSecretPw", "UnknownUserPw", "EveHungPw"]
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", secrets[0]) == AUTH_FAILED
        assert try_login(c, "nosuchuser", secrets[1]) == AUTH_FAILED
        assert try_login(c, "eve", secrets[2]) == TEMP_FAILED
        assert try_login(c, "alice", GOOD_PW) == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=alice")
    assert_no_secret(d, GOOD_PW, *secrets)
