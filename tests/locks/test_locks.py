"""Locks of the mailbox modules with the real daemon, the real staged modules
and the real procmail (issue 22):

- a worker killed with -9 while a session holds the mbox dotlock or the
  Maildir session lock does not strand the mailbox: the lock names a dead
  owner, so the next login breaks it at once and gets in within 1 s, and
  procmail then delivers within 1 s;
- the same after kill -9 of the whole daemon (master and children) and a
  restart;
- on defaults a second session of one Maildir user gets -ERR [IN-USE]
  (no duplicate downloads), while 'exclusive-lock: no' shares it;
- mbox quoting: RETR of a mailbox written by procmail (mboxo) gives back
  each body line byte for byte except the one case mboxo cannot tell apart.

procmail judges dotlocks by age only (LOCKTIMEOUT, 1024 s): it cannot break
a dead session's dotlock itself, which is why it delivers right after the
next login rather than right after the kill (see modpop3d-mailbox_mbox(8)).
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import procs
from conftest import SESSION_GID, SESSION_UID, _start_daemon
from pop3wire import Conn

PASSWORDS = {"mbu": "mbox-pass", "mdu": "maildir-pass"}
PROCMAIL = shutil.which("procmail") or "/usr/bin/procmail"
LOGGED_IN = "+OK Logged in, "


def own(path):
    if os.getuid() == 0:
        os.chown(path, SESSION_UID, SESSION_GID)


def as_session_user():
    """preexec_fn: run procmail as the maildrop's owner (nobody under root)."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(SESSION_GID)
        os.setuid(SESSION_UID)


class Store:
    """Users mbu (mbox only) and mdu (Maildir), their homes and passwords."""

    def __init__(self, root, stage):
        self.root = root
        self.homes = root / "homes"
        self.homes.mkdir(mode=0o755)
        own(self.homes)
        tool = glob.glob(str(stage) + "/**/bin/modpop3d-passwd", recursive=True)
        assert len(tool) == 1, tool
        lines = []
        for user, pw in PASSWORDS.items():
            h = subprocess.run([tool[0], "--stdin"], input=pw + "\n", capture_output=True,
                               text=True, timeout=30, check=True).stdout.strip()
            lines.append(f"{user}:{h}\n")
            home = self.homes / user
            home.mkdir(mode=0o700)
            own(home)
        self.users = root / "users"
        self.users.write_text("".join(lines))
        os.chmod(self.users, 0o600)
        own(self.users)
        self.mbox = self.homes / "mbu" / "mbox"
        self.mbox.write_bytes(b"From a@example.org Mon Jan  1 00:00:00 2024\n"
                              b"Subject: first\n\nhello\n\n")
        os.chmod(self.mbox, 0o600)
        own(self.mbox)
        self.maildir = self.homes / "mdu" / "Maildir"
        for d in (self.maildir, self.maildir / "new", self.maildir / "cur", self.maildir / "tmp"):
            d.mkdir(mode=0o700)
            own(d)
        msg = self.maildir / "new" / "1700000000.M1P1.locks"
        msg.write_bytes(b"Subject: first\n\nhello\n")
        own(msg)
        self.rc = root / "procmailrc"
        self.rc.write_text("SHELL=/bin/sh\nVERBOSE=no\nLOGFILE=/dev/null\n"
                           f":0:\n{self.mbox}\n")
        self.rc_maildir = root / "procmailrc-maildir"
        self.rc_maildir.write_text("SHELL=/bin/sh\nVERBOSE=no\nLOGFILE=/dev/null\n"
                                   f":0\n{self.maildir}/\n")
        for rc in (self.rc, self.rc_maildir):
            os.chmod(rc, 0o644)

    def modules(self, maildir_extra="", mbox_extra=""):
        return (f"[auth_flatfile]\nfile: {self.users}\nhome: {self.homes}/$(user)\n"
                f"uid: {SESSION_UID}\ngid: {SESSION_GID}\n"
                "default-mailbox: maildir:$(home)/Maildir bsd:$(home)/mbox\n"
                f"[mailbox_maildir]\n{maildir_extra}[mailbox_mbox]\n{mbox_extra}")

    def procmail(self, message, rc=None, timeout=1.0):
        """Deliver `message` with procmail as the maildrop's owner; returns
        (exit status or None when it did not finish in time, seconds).

        procmail sleeps one second by design when the mbox was read (atime)
        in the current second, so that the delivery's mtime is later than
        the atime ("new mail" for shells and biff). That is no lock wait:
        the clock is let pass that second first, and it is not counted."""
        if (rc or self.rc) == self.rc and self.mbox.exists():
            read = int(os.stat(self.mbox).st_atime)
            for _ in range(200):  # at most ~2 s
                if time.time() >= read + 1:
                    break
                time.sleep(0.01)
        t0 = time.monotonic()
        try:
            r = subprocess.run([PROCMAIL, "-m", str(rc or self.rc)], input=message,
                               capture_output=True, timeout=timeout, preexec_fn=as_session_user,
                               env={"PATH": "/usr/bin:/bin", "HOME": str(self.root)})
            return r.returncode, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - t0


@pytest.fixture
def store(workdir, stage):
    if not os.access(PROCMAIL, os.X_OK):
        pytest.fail("procmail is not installed (scripts/debian-packages.txt lists it)")
    return Store(workdir, stage)


@pytest.fixture
def daemons(binary, staged_module_dir, workdir):
    """start(modules, **core): a daemon on the staged modules. Teardown stops
    those still running; a worker killed on purpose is logged, so only
    'level=err' lines other than worker_exited fail the test."""
    started = []

    def start(modules, **core):
        settings = {"auth-failure-delay": "0", "max-auth-failures": "100",
                    "module-dir": staged_module_dir}
        settings.update(core)
        d = _start_daemon(binary, staged_module_dir, workdir, f"locks-{len(started)}",
                          settings, modules)
        started.append(d)
        return d

    yield start
    problems = []
    for d in started:
        if d.stopped:
            continue
        rc = d.terminate()
        if rc != 0:
            problems.append(f"{d.conf}: exit status {rc}")
        bad = [l for l in d.log_text().splitlines()
               if "level=err" in l and "event=worker_exited" not in l]
        if bad:
            problems.append(f"{d.conf}: " + "\n".join(bad))
    assert not problems, "\n".join(problems)


def login_within(d, user, seconds, t0):
    """Log in, retrying while the maildrop is in use, until `seconds` after
    t0; returns (conn, reply, elapsed)."""
    last = None
    while True:
        left = seconds - (time.monotonic() - t0)
        assert left > 0, f"{user}: no login within {seconds}s; last: {last!r}\n{d.log_text()}"
        c = None
        try:
            c = Conn(d.host, d.port, greeting=False, timeout=max(left, 0.05))
            assert c.line() == b"+OK modpop3d ready\r\n"
            assert c.cmd(f"USER {user}") == "+OK Send your password\r\n"
            reply = c.cmd(f"PASS {PASSWORDS[user]}")
        except (socket.timeout, TimeoutError, EOFError, ConnectionError) as e:
            last = e
            if c is not None:
                c.close()
            continue
        if reply.startswith(LOGGED_IN):
            return c, reply, time.monotonic() - t0
        c.close()
        assert reply.startswith("-ERR [IN-USE]"), reply
        last = reply
        time.sleep(0.02)


def lock_owner(path):
    """The pid on the first line of a lock file."""
    return int(path.read_text().split("\n", 1)[0])


def message(subject, body=b"body\n"):
    return (b"From sender@example.org Mon Jan  1 00:00:00 2024\n"
            b"Subject: " + subject + b"\n\n" + body)


def count_of(reply):
    return int(reply[len(LOGGED_IN):].split(" ", 1)[0])


# ---------------------------------------------------------------- kill -9 of a worker

@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_worker_killed_holding_the_lock(daemons, store, kind):
    user = "mbu" if kind == "mbox" else "mdu"
    lock = store.homes / "mbu" / "mbox.lock" if kind == "mbox" else store.maildir / "modpop3d-lock"
    # Two workers: the survivor serves the next login while the master
    # restarts the killed one.
    d = daemons(store.modules(), workers="2")
    workers = procs.workers_of(d, 2)
    c, reply, _ = login_within(d, user, 10.0, time.monotonic())
    assert count_of(reply) == 1
    owner = lock_owner(lock)
    assert owner in workers, (owner, workers)  # the session runs in a worker
    assert procs.comm(owner) == "modpop3d-login"
    os.kill(owner, signal.SIGKILL)
    t0 = time.monotonic()
    c.close()
    procs.wait_for("the worker gone", lambda: procs.dead(owner), timeout=5)
    if kind == "maildir":
        # The MDA does not use the session lock: it delivers at once anyway.
        status, took = store.procmail(message(b"during"), rc=store.rc_maildir)
        assert status == 0 and took < 1.0, (status, took)
    c, reply, took = login_within(d, user, 1.0, t0)
    with c:
        assert took < 1.0
        d.wait_log("event=stale_lock_broken", timeout=5)
        assert f"owner pid {owner} " in "\n".join(d.log_lines("stale_lock_broken"))
        assert count_of(reply) == (2 if kind == "maildir" else 1)
        assert c.cmd("QUIT").startswith("+OK")
        assert c.closed()
    # The next delivery: procmail takes the dotlock and fcntl lock at once.
    status, took = store.procmail(message(b"after"),
                                  rc=store.rc if kind == "mbox" else store.rc_maildir)
    assert status == 0 and took < 1.0, (status, took)
    c, reply, _ = login_within(d, user, 10.0, time.monotonic())
    with c:
        assert count_of(reply) == (3 if kind == "maildir" else 2)
        assert c.cmd("QUIT").startswith("+OK")


# ---------------------------------------------------------------- kill -9 of the daemon

def all_processes(master):
    """The master and every descendant (workers, auth, sessions)."""
    out, todo = [], [master]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(procs.children(p, None))
    return out


def test_whole_daemon_killed_holding_both_locks(daemons, store):
    d = daemons(store.modules(), workers="1")
    sessions = [login_within(d, u, 10.0, time.monotonic())[0] for u in ("mbu", "mdu")]
    mbox_lock = store.homes / "mbu" / "mbox.lock"
    md_lock = store.maildir / "modpop3d-lock"
    assert mbox_lock.exists() and md_lock.exists()
    victims = all_processes(d.proc.pid)
    assert lock_owner(mbox_lock) in victims and lock_owner(md_lock) in victims
    for p in victims:
        os.kill(p, signal.SIGKILL)
    d.proc.wait(timeout=10)
    d.stopped = True
    for p in victims:
        procs.wait_for(f"{p} gone", lambda p=p: procs.dead(p), timeout=10)
    for c in sessions:
        c.close()
    assert mbox_lock.exists() and md_lock.exists()  # left behind by kill -9
    d2 = daemons(store.modules(), workers="1")
    t0 = time.monotonic()
    for user in ("mbu", "mdu"):
        c, reply, took = login_within(d2, user, 1.0, t0)
        with c:
            assert took < 1.0
            assert count_of(reply) == 1
            assert c.cmd("QUIT").startswith("+OK")
            assert c.closed()
    assert len(d2.log_lines("stale_lock_broken")) == 2
    status, took = store.procmail(message(b"after restart"))
    assert status == 0 and took < 1.0, (status, took)


# ---------------------------------------------------------------- safe by default

def test_second_maildir_session_is_in_use_on_defaults(daemons, store):
    d = daemons(store.modules(), workers="1")
    c, _, _ = login_within(d, "mdu", 10.0, time.monotonic())
    with c:
        with Conn(d.host, d.port) as c2:
            assert c2.cmd("USER mdu") == "+OK Send your password\r\n"
            assert c2.cmd(f"PASS {PASSWORDS['mdu']}").startswith("-ERR [IN-USE]")
        # The first session is untouched and can still delete and commit.
        assert c.cmd("DELE 1").startswith("+OK")
        assert c.cmd("QUIT").startswith("+OK")
        assert c.closed()
    assert list((store.maildir / "new").iterdir()) == []


def test_lock_free_maildir_mode_shares_the_maildir(daemons, store):
    d = daemons(store.modules(maildir_extra="exclusive-lock: no\n"), workers="1")
    c, _, _ = login_within(d, "mdu", 10.0, time.monotonic())
    with c:
        c2, reply, _ = login_within(d, "mdu", 10.0, time.monotonic())
        with c2:
            assert count_of(reply) == 1
            # Both sessions can download the same message: the documented
            # price of the lock-free mode.
            assert c.multi("RETR 1").startswith(b"+OK")
            assert c2.multi("RETR 1").startswith(b"+OK")
            assert c2.cmd("QUIT").startswith("+OK")
        assert c.cmd("QUIT").startswith("+OK")
    assert not (store.maildir / "modpop3d-lock").exists()


# ---------------------------------------------------------------- mbox quoting

# Body lines an mboxo MDA (procmail) must quote or leave: each original
# line and what RETR gives back with the default format (mboxo).
QUOTING = [
    (b"From the start of a line", b"From the start of a line"),
    (b">>From two levels", b">>From two levels"),
    (b">>>From three levels", b">>>From three levels"),
    (b"From", b"From"),             # no space: not a From_ line
    (b"From:colon", b"From:colon"),
    (b" From indented", b" From indented"),
    # The one ambiguous case of mboxo: procmail leaves '>From ' as it is,
    # and a reader cannot tell it from a quoted 'From '.
    (b">From one level", b"From one level"),
]


def test_mbox_written_by_procmail_reads_back(daemons, store):
    store.mbox.write_bytes(b"")
    body = b"".join(orig + b"\n" + b"\n" for orig, _ in QUOTING)  # after empty lines too
    body += b"".join(orig + b"\n" for orig, _ in QUOTING)          # and without
    status, _ = store.procmail(message(b"quoting", body), timeout=10)
    assert status == 0
    stored = store.mbox.read_bytes()
    # procmail wrote mboxo: exactly the lines starting with "From " gained a '>'.
    assert b"\n>From the start of a line\n" in stored
    assert b"\n>>From two levels\n" in stored and b"\n>>>From two levels" not in stored
    assert b"\n>From one level\n" in stored and b"\n>>From one level" not in stored
    expect = b"".join(want + b"\r\n\r\n" for _, want in QUOTING)
    expect += b"".join(want + b"\r\n" for _, want in QUOTING)
    for fmt, exact in (("", True), ("format: mboxrd\n", False)):
        d = daemons(store.modules(mbox_extra=fmt), workers="1")
        c, reply, _ = login_within(d, "mbu", 10.0, time.monotonic())
        with c:
            got = c.multi("RETR 1")
            assert got.startswith(b"+OK")
            text = got.split(b"\r\n\r\n", 1)[1]  # after the headers
            assert text.endswith(b"\r\n.\r\n")
            text = text[:-3]
            size = int(c.cmd("LIST 1").split()[2])
            assert c.cmd("QUIT").startswith("+OK")
        if exact:
            # mboxo, the default: every line back byte for byte but '>From '.
            assert text == expect, text
        else:
            # mboxrd on an mboxo file strips a '>' the MDA never added.
            assert b"\r\n>From two levels\r\n" in text
            assert b"\r\n>>From three levels\r\n" in text
        assert size == len(got.split(b"\r\n", 1)[1]) - 3  # LIST matches RETR
        d.terminate()
