"""System users through the real daemon (issue #3 processes, issue #5
auth_passwd and auth_pam): the auth process keeps root because these modules
need it, and each login runs in a session process the master forks with the
user's uid and gid (never root), checked from /proc. Plain connections are
passed to the session process; TLS connections are relayed by the login
worker. The harness creates its own system users (useradd) and PAM service
file, and removes them; it needs root."""
import contextlib
import itertools
import os
import pathlib
import poplib
import pwd
import select
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from e2ehelp import AUTH_FAILED, SEND_PASSWORD, TEMP_FAILED, assert_no_secret, real_daemon
from pop3wire import Conn, b64
from procs import auth_of, children, ids, wait_for

pytestmark = pytest.mark.skipif(os.getuid() != 0,
                                reason="needs root: creates system users with useradd and "
                                "a PAM service file, and the daemon forks setuid sessions")

NOBODY = 65534


def message(n, size=0):
    filler = "".join(f"{i:08d} " + "x" * 70 + "\n" for i in range(size // 80))
    body = f"Line one of message {n}\n.starts with a dot\n" + filler + "end\n"
    return (f"From: test@example.org\nSubject: message {n}\n\n{body}").encode()


def crlf_stuffed(raw):
    lines = raw.decode().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join(("." + l if l.startswith(".") else l) + "\r\n" for l in lines).encode()


class SystemUser:
    def __init__(self, name, uid, password, messages):
        self.name, self.uid, self.password = name, uid, password
        self.home = pathlib.Path(f"/tmp/{name}-home")
        subprocess.run(["useradd", "-M", "-d", str(self.home), "-s", "/usr/sbin/nologin", "-u",
                        str(uid), "-U", name], check=True, capture_output=True)
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True,
                       capture_output=True)
        self.gid = pwd.getpwnam(name).pw_gid
        maildir = self.home / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True)
        self.raw = {}
        for i, m in enumerate(messages, 1):
            name_i = f"{1700000000 + i}.M{i}P1.test"
            (maildir / "new" / name_i).write_bytes(m)
            self.raw[i] = m
        for p in [self.home, *self.home.rglob("*")]:
            os.chown(p, uid, self.gid)
            os.chmod(p, 0o700 if p.is_dir() else 0o600)
        self.maildir = maildir

    def files(self):
        return sorted(p.name for sub in ("new", "cur") for p in (self.maildir / sub).iterdir())

    def remove(self):
        # -f: a session process of the user may still be ending.
        subprocess.run(["userdel", "-f", self.name], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


_serial = itertools.count(1)  # every user of a test run has its own name and uid


@pytest.fixture
def users():
    made = []
    base = 61000 + (os.getpid() % 100) * 64  # 64 uids per test run, up to 67400

    def make(n, password, messages):
        k = next(_serial)
        assert k < 64
        u = SystemUser(f"mp3t{os.getpid() % 100000}u{k}", base + k, password, messages)
        made.append(u)
        return u

    yield make
    for u in made:
        u.remove()


def passwd_modules(extra_core=""):
    return ("[auth_passwd]\nmin-uid: 60000\nmailbox: maildir:$(home)/Maildir\n"
            "[mailbox_maildir]\n" + extra_core)


def sessions(d):
    return children(d.proc.pid, "modpop3d-sess")


def session_of(d):
    return wait_for("one session process",
                    lambda: (lambda c: c[0] if len(c) == 1 else None)(sessions(d)))


def test_auth_process_is_root_and_sessions_run_as_the_user(real_daemon, users):
    u = users(1, "Pw-one-1", [message(1), message(2), message(3)])
    d = real_daemon(passwd_modules())
    auth = auth_of(d)
    assert ids(auth, "Uid") == (0, 0, 0, 0)  # auth_passwd reads shadow
    workers = children(d.proc.pid)
    assert workers and all(ids(w, "Uid") == (NOBODY,) * 4 for w in workers)
    with Conn(d.host, d.port) as c:
        assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
        assert c.cmd(f"PASS {u.password}").startswith("+OK Logged in, 3 messages")
        s = session_of(d)
        assert ids(s, "Uid") == (u.uid,) * 4
        assert ids(s, "Gid") == (u.gid,) * 4
        with open(f"/proc/{s}/status") as f:
            groups = [l for l in f if l.startswith("Groups:")][0].split()[1:]
        assert "0" not in groups
        retr = c.multi("RETR 2")
        assert retr.startswith(b"+OK ") and retr.endswith(crlf_stuffed(u.raw[2]) + b".\r\n")
        assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (2 messages left)\r\n"
    wait_for("the session process ends", lambda: not sessions(d))
    assert len(u.files()) == 2
    # Files the session wrote (the read messages moved to cur/) are the user's.
    for sub in ("cur", "new"):
        for p in (u.maildir / sub).iterdir():
            assert p.stat().st_uid == u.uid
    d.wait_log(f"event=logout user={u.name} ")
    assert_no_secret(d, u.password)


def test_pipelined_commands_after_pass_reach_the_session_in_order(real_daemon, users):
    u = users(2, "Pw-two-2", [message(1), message(2)])
    d = real_daemon(passwd_modules())
    with socket.create_connection((d.host, d.port), timeout=10) as s:
        s.recv(512)
        s.sendall(f"USER {u.name}\r\nPASS {u.password}\r\nSTAT\r\nLIST 2\r\nNOOP\r\n"
                  "QUIT\r\n".encode())
        got = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    lines = got.decode().split("\r\n")
    assert lines[0] == "+OK Send your password"
    assert lines[1].startswith("+OK Logged in, 2 messages")
    assert lines[2].startswith("+OK 2 ")
    size = len(u.raw[2].replace(b"\n", b"\r\n"))  # RFC 1939: before dot-stuffing
    assert lines[3] == f"+OK 2 {size}"
    assert lines[4].startswith("+OK")
    assert lines[5].startswith("+OK Logging out")


def test_wrong_password_and_unknown_user_get_the_same_answer(real_daemon, users):
    u = users(3, "Pw-three-3", [message(1)])
    d = real_daemon(passwd_modules())
    with Conn(d.host, d.port) as c:
        for user, pw in ((u.name, "wrong"), ("mp3t-nosuchuser", u.password)):
            assert c.cmd(f"USER {user}") == SEND_PASSWORD
            assert c.cmd(f"PASS {pw}") == AUTH_FAILED
    assert not sessions(d)
    assert_no_secret(d, u.password)


def test_tls_session_is_relayed_by_the_worker(real_daemon, users, workdir):
    big = message(2, size=1_200_000)
    u = users(4, "Pw-four-4", [message(1), big])
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    d = real_daemon(passwd_modules(), core={"tls-certificate": str(cert), "tls-key": str(key)})
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    p = poplib.POP3(d.host, d.port, timeout=30)
    try:
        p.stls(context=ctx)
        p.user(u.name)
        assert p.pass_(u.password).startswith(b"+OK Logged in, 2 messages")
        s = session_of(d)
        assert ids(s, "Uid") == (u.uid,) * 4
        resp, lines, octets = p.retr(2)
        assert b"\r\n".join(lines) + b"\r\n" == big.replace(b"\n", b"\r\n")
        p.dele(1)
        p.quit()
    finally:
        with contextlib.suppress(Exception):
            p.close()
    wait_for("the session process ends", lambda: not sessions(d))
    assert len(u.files()) == 1
    d.wait_log(f"event=logout user={u.name} rip=127.0.0.1 lip=127.0.0.1 tls=1 ")


def test_pam_users_run_in_their_own_session(real_daemon, users):
    service = f"modpop3d-e2e-{os.getpid()}"
    pam_file = pathlib.Path("/etc/pam.d") / service
    pam_file.write_text("auth required pam_unix.so\naccount required pam_unix.so\n")
    try:
        u = users(5, "Pw-five-5", [message(1)])
        d = real_daemon(f"[auth_pam]\nservice: {service}\nmin-uid: 60000\n"
                        "mailbox: maildir:$(home)/Maildir\n[mailbox_maildir]\n")
        assert ids(auth_of(d), "Uid")[0] == 0
        with Conn(d.host, d.port) as c:
            assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
            assert c.cmd("PASS wrong-one") == AUTH_FAILED
            assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
            assert c.cmd(f"PASS {u.password}").startswith("+OK Logged in, 1 message ")
            assert ids(session_of(d), "Uid") == (u.uid,) * 4
            assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
            assert c.cmd("QUIT").startswith("+OK Logging out")
        wait_for("the message is gone", lambda: not u.files())
        assert_no_secret(d, u.password)
    finally:
        pam_file.unlink()


def test_a_crashed_auth_process_is_restarted(real_daemon, users):
    u = users(6, "Pw-six-6", [message(1)])
    d = real_daemon(passwd_modules(), core={"auth-timeout": "2s"})
    first = auth_of(d)
    os.kill(first, signal.SIGKILL)
    d.wait_log(f"event=auth_exited pid={first} generation=1 signal=9")
    second = wait_for("a new auth process",
                      lambda: (lambda c: c[0] if len(c) == 1 and c[0] != first else None)(
                          children(d.proc.pid, "modpop3d-auth")))
    assert ids(second, "Uid")[0] == 0
    with Conn(d.host, d.port) as c:
        assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
        assert c.cmd(f"PASS {u.password}").startswith("+OK Logged in, 1 message ")
        assert c.cmd("QUIT").startswith("+OK Logging out")
    # A login under way while the auth process is gone is answered TEMP.
    os.kill(second, signal.SIGSTOP)
    try:
        with Conn(d.host, d.port) as c:
            assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
            assert c.cmd(f"PASS {u.password}") == TEMP_FAILED
    finally:
        os.kill(second, signal.SIGCONT)
    d.wait_log("event=auth_timeout")


def test_hooks_of_a_system_users_session_run_in_the_auth_process(real_daemon, users, workdir,
                                                                 staged_module_dir,
                                                                 test_module_dir):
    # The installed modules plus the test hook module, in one module dir.
    mods = workdir / "modules"
    shutil.copytree(staged_module_dir, mods)
    shutil.copy2(pathlib.Path(test_module_dir) / "hook_test.so", mods)
    record = workdir / "events"
    record.write_text("")
    u = users(7, "Pw-seven-7", [message(1), message(2)])
    d = real_daemon(passwd_modules() + f"[hook_test]\nrecord: {record}\n",
                    core={"module-dir": str(mods)})
    auth = auth_of(d)
    with Conn(d.host, d.port) as c:
        assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
        assert c.cmd(f"PASS {u.password}").startswith("+OK Logged in, 2 messages")
        session = session_of(d)
        assert c.multi("RETR 1").startswith(b"+OK")
        assert c.cmd("QUIT").startswith("+OK Logging out")
    got = wait_for("the LOGOUT event", lambda: (lambda e: e if any(
        l.startswith("LOGOUT") for l in e) else None)(record.read_text().splitlines()))
    where = f"pid={auth} uid=0"  # the auth process, root for auth_passwd; not the session
    assert session != auth
    assert got == [
        f"AUTH_OK user={u.name} {where} messages=0 retrieved=0 deleted=0",
        f"LOGIN user={u.name} {where} messages=2 retrieved=0 deleted=0",
        f"LOGOUT user={u.name} {where} messages=2 retrieved=1 deleted=0",
    ]


HOSTILE = ["/", "..", "../../etc/passwd", "%", "'", "*", "(", "a)(uid=*", "root'--",
           "root%00", "x" * 240, "root@..", "-root", "+root", "root:x", "0"]


@pytest.mark.parametrize("backend", ["passwd", "pam"])
def test_hostile_user_names(real_daemon, users, backend):
    """Names a backend could misread get the one failure reply, root never
    logs in, no session process starts, and the daemon stays up."""
    u = users(8, "Pw-eight-8", [message(1)])
    service = f"modpop3d-hostile-{os.getpid()}"
    pam_file = pathlib.Path("/etc/pam.d") / service
    pam_file.write_text("auth required pam_unix.so\naccount required pam_unix.so\n")
    try:
        section = (passwd_modules() if backend == "passwd" else
                   f"[auth_pam]\nservice: {service}\nmin-uid: 60000\n"
                   "mailbox: maildir:$(home)/Maildir\n[mailbox_maildir]\n")
        d = real_daemon(section)
        with Conn(d.host, d.port) as c:
            for name in HOSTILE + ["root", "nobody", "daemon"]:
                assert c.cmd(f"USER {name}") == SEND_PASSWORD, name
                assert c.cmd(f"PASS {u.password}") == AUTH_FAILED, name
            assert c.cmd("USER " + "x" * 300) == "-ERR Line too long\r\n"
            assert c.cmd("AUTH PLAIN") == "+ \r\n"
            assert c.cmd(b64("\0" + "x" * 300 + "\0" + u.password)) == AUTH_FAILED
            assert not sessions(d)
            assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
            assert c.cmd(f"PASS {u.password}").startswith("+OK Logged in")
            assert c.cmd("QUIT").startswith("+OK Logging out")
    finally:
        pam_file.unlink()


def test_a_hung_pam_backend_does_not_stall_other_logins(real_daemon, users, workdir):
    """PAM asks a program that hangs for one user (pam_exec): while that
    login waits 8 s in the auth process, clients of another backend (a flat
    file, asked first) log in. One auth_pam instance is called by one thread
    at a time (modpop3d-auth_pam(8)): the pool keeps the others going."""
    slow = users(9, "Pw-nine-9", [message(1)])
    script = workdir / "pam-slow.sh"
    script.write_text(f"#!/bin/sh\n[ \"$PAM_USER\" = \"{slow.name}\" ] && sleep 8\nexit 0\n")
    os.chmod(script, 0o755)
    flat = workdir / "users"
    flat.write_text(f"carol:{{PLAIN}}CarolPw:{NOBODY}:{NOBODY}:/nonexistent:empty:\n")
    service = f"modpop3d-slow-{os.getpid()}"
    pam_file = pathlib.Path("/etc/pam.d") / service
    pam_file.write_text(f"auth required pam_exec.so quiet {script}\n"
                        "auth required pam_unix.so\naccount required pam_unix.so\n")
    try:
        d = real_daemon(f"[auth_flatfile]\nfile: {flat}\npriority: 10\n"
                        f"[auth_pam]\nservice: {service}\nmin-uid: 60000\npriority: 20\n"
                        "mailbox: maildir:$(home)/Maildir\n[mailbox_maildir]\n[mailbox_empty]\n")
        with Conn(d.host, d.port) as hung:
            assert hung.cmd(f"USER {slow.name}") == SEND_PASSWORD
            hung.send(f"PASS {slow.password}\r\n")
            d.wait_log("event=auth_serving")
            time.sleep(0.5)  # the slow request is in the auth process by now
            for _ in range(3):
                with Conn(d.host, d.port) as c:
                    assert c.cmd("USER carol") == SEND_PASSWORD
                    assert c.cmd("PASS CarolPw").startswith("+OK Logged in")
                    assert c.cmd("QUIT").startswith("+OK Logging out")
            # All three were served while the first login still waits.
            ready, _, _ = select.select([hung.sock], [], [], 0)
            assert not ready, "the hung login was answered before the others"
            assert hung.line().decode().startswith("+OK Logged in")
    finally:
        pam_file.unlink()


def test_handed_over_sessions_count_against_the_connection_limits(real_daemon, users):
    # A plain connection handed to a session process has left the worker;
    # the master counts it until the session process ends, so the limits
    # still see it (a TLS one stays counted by the worker that relays it).
    u = users(1, "Pw-limit-1", [message(1)])
    d = real_daemon(passwd_modules(), core={"max-connections": 1, "max-connections-per-ip": 1})
    with Conn(d.host, d.port) as c:
        assert c.cmd(f"USER {u.name}") == SEND_PASSWORD
        assert c.cmd(f"PASS {u.password}").startswith("+OK Logged in, 1 message ")
        session_of(d)
        with Conn(d.host, d.port) as second:
            assert second.greeting.startswith(b"-ERR [SYS/TEMP] Too many connections")
        assert c.cmd("STAT").startswith("+OK 1 ")
        assert c.cmd("QUIT").startswith("+OK")
    wait_for("the session process ends", lambda: not sessions(d))
    # Released when it ended: a new client gets in.
    with Conn(d.host, d.port) as third:
        assert third.greeting.startswith(b"+OK")
        assert third.cmd("QUIT").startswith("+OK")
