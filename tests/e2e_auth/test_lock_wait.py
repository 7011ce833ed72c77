"""Locks and timers seen from a worker's event loop: a login that finds its
maildrop locked waits (lock-wait) without holding up anyone else on the
worker; QUIT releases the lock before its "+OK"; the pre-login timer is
reset by input, and idle pre-login connections give way under pressure."""
import os
import threading
import time

from conftest import SESSION_GID, SESSION_UID
from e2ehelp import real_daemon  # noqa: F401 (fixture)
from pop3wire import Conn

IN_USE = b"-ERR [IN-USE]"


def users_with_maildirs(workdir, names):
    lines = []
    for name in names:
        maildir = workdir / name / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True)
        (maildir / "new" / f"1700000000.{name}.host").write_text("Subject: hi\n\nhello\n")
        for root, dirs, files in os.walk(workdir / name):
            for n in dirs + files:
                os.chown(os.path.join(root, n), SESSION_UID, SESSION_GID)
        os.chown(workdir / name, SESSION_UID, SESSION_GID)
        lines.append(f"{name}:{{PLAIN}}Pw-{name}:{SESSION_UID}:{SESSION_GID}:{workdir / name}:"
                     f"maildir:{maildir}\n")
    (workdir / "users").write_text("".join(lines))
    return (f"[auth_flatfile]\nfile: {workdir / 'users'}\n"
            f"[mailbox_maildir]\nexclusive-lock: yes\n")


def was_shed(conn):
    conn.sock.settimeout(1)
    try:
        return conn.closed(timeout=1)
    except (AssertionError, TimeoutError):  # still open after a second
        return False


def login(conn, name):
    assert conn.cmd(f"USER {name}") == "+OK Send your password\r\n"
    return conn.cmd(f"PASS Pw-{name}")


def test_logins_waiting_for_a_lock_do_not_slow_other_sessions(real_daemon, workdir):
    d = real_daemon(users_with_maildirs(workdir, ["holder", "other"]),
                    core={"workers": "1", "lock-wait": "4s"})
    with Conn(d.host, d.port) as holder, Conn(d.host, d.port) as other:
        assert login(holder, "holder").startswith("+OK Logged in")
        assert login(other, "other").startswith("+OK Logged in")
        waiting = [Conn(d.host, d.port) for _ in range(10)]
        try:
            for w in waiting:  # ten logins now wait for holder's lock
                assert w.cmd("USER holder") == "+OK Send your password\r\n"
                w.send("PASS Pw-holder\r\n")
            worst = 0.0
            for _ in range(20):
                start = time.monotonic()
                assert other.cmd("NOOP") == "+OK\r\n"
                worst = max(worst, time.monotonic() - start)
                time.sleep(0.05)
            # Before lock-wait moved to the loop, one worker slept through
            # each retry: the NOOP took seconds. A generous bound here.
            assert worst < 1.0, f"a NOOP took {worst:.3f} s while logins waited"
            for w in waiting:
                assert w.line().startswith(IN_USE)
        finally:
            for w in waiting:
                w.close()
        assert holder.cmd("QUIT").startswith("+OK")


def test_a_login_waiting_for_the_lock_gets_it_when_the_holder_quits(real_daemon, workdir):
    d = real_daemon(users_with_maildirs(workdir, ["alice"]), core={"lock-wait": "5s"})
    with Conn(d.host, d.port) as first, Conn(d.host, d.port) as second:
        assert login(first, "alice").startswith("+OK Logged in")
        assert second.cmd("USER alice") == "+OK Send your password\r\n"
        second.send("PASS Pw-alice\r\n")
        timer = threading.Timer(1.0, lambda: first.cmd("QUIT"))
        timer.start()
        try:
            assert second.line().startswith(b"+OK Logged in, 1 message")
        finally:
            timer.join()


def test_quit_releases_the_lock_before_its_answer(real_daemon, workdir):
    # lock-wait 0: a login that finds the lock is refused at once, so any
    # release after "+OK" would show as [IN-USE] on the reconnect.
    d = real_daemon(users_with_maildirs(workdir, ["alice"]), core={"lock-wait": "0"})
    refused = 0
    for _ in range(1000):
        with Conn(d.host, d.port) as c:
            reply = login(c, "alice")
            if not reply.startswith("+OK Logged in"):
                refused += 1
                continue
            assert c.cmd("QUIT").startswith("+OK Logging out")
    assert refused == 0, f"{refused} of 1000 immediate reconnects found the lock held"


def test_preauth_timer_is_reset_by_input(real_daemon, workdir):
    d = real_daemon(users_with_maildirs(workdir, ["alice"]), core={"timeout-preauth": "1s"})
    with Conn(d.host, d.port) as c:
        for _ in range(10):  # 3 s of activity, three times the timeout
            assert c.cmd("CAPA").startswith("+OK")
            c.until_dot()
            time.sleep(0.3)
        # Silent now: closed after about a second (a generous bound).
        assert c.rest(timeout=10) == b"-ERR Disconnected for inactivity\r\n"


def test_idle_preauth_connections_give_way_to_new_clients(real_daemon, workdir):
    d = real_daemon(users_with_maildirs(workdir, ["alice"]),
                    core={"timeout-preauth": "10m", "max-connections-per-ip": "3",
                          "workers": "1"})
    idle = [Conn(d.host, d.port) for _ in range(3)]  # greeted, then silent
    try:
        time.sleep(0.5)
        with Conn(d.host, d.port, greeting=False) as early:
            # Nobody has been silent long enough (half the timeout, at most
            # 10 s) to be shed yet: refused, as before.
            assert early.line().startswith(b"-ERR [SYS/TEMP] Too many connections")
        time.sleep(10.5)
        with Conn(d.host, d.port) as late:
            assert login(late, "alice").startswith("+OK Logged in")
            assert late.cmd("QUIT").startswith("+OK")
        assert [was_shed(c) for c in idle] == [True, False, False], "the oldest, and only it"
        assert "event=shed rip=127.0.0.1" in d.log_text()
    finally:
        for c in idle:
            c.close()
