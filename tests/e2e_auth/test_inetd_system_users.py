"""inetd mode (modpop3d -i) with system users: started as root, the process
inetd starts is a master of that one connection (it holds no copy of the
client's socket once its worker runs), the login worker runs as mail-user
and asks the auth process (root for auth_passwd), and a system user's
session runs in a modpop3d-sess process with the user's uid and gid, checked
from /proc while the session is open. Virtual users stay in the worker. Not
started as root, inetd mode still refuses a login naming another uid.

The connection is a real TCP connection accepted on 127.0.0.1 and passed as
standard input and output, as inetd does. Needs root (useradd, setuid)."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess

import pytest

from e2ehelp import AUTH_FAILED, CORE, SEND_PASSWORD
from procs import children, comm, ids, wait_for
from test_system_users import NOBODY, crlf_stuffed, message, passwd_modules, users  # noqa: F401

pytestmark = pytest.mark.skipif(os.getuid() != 0,
                                reason="needs root: creates system users and the inetd "
                                "master forks setuid sessions")


class Inetd:
    """One modpop3d -i run on an accepted loopback connection."""

    def __init__(self, binary, module_dir, workdir, modules, as_root=True, stderr_is_socket=False,
                 core_extra=""):
        settings = dict(CORE, **{"module-dir": str(module_dir), "log-level": "debug"})
        if as_root:
            settings["mail-user"] = "nobody"
        self.conf = workdir / "inetd.conf"
        self.conf.write_text("".join(f"{k}: {v}\n" for k, v in settings.items()) + core_extra +
                             modules)
        self.log = workdir / "inetd.log"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self.sock = socket.create_connection(listener.getsockname(), timeout=15)
        server_side, _ = listener.accept()
        listener.close()
        self.inode = os.fstat(server_side.fileno()).st_ino
        args = [binary, "-i", "-f", str(self.conf)]
        with open(self.log, "wb") as log:
            if stderr_is_socket:  # as inetd passes it: 0, 1 and 2; logs go to syslog
                err = server_side
            else:
                args.insert(2, "-e")
                err = log
            self.proc = subprocess.Popen(args, stdin=server_side, stdout=server_side, stderr=err,
                                         user=None if as_root else NOBODY,
                                         group=None if as_root else NOBODY)
        server_side.close()  # the child has it now, as inetd would hand it over
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed; got {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode() + "\r\n"

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def multi(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        while not (self.buf.endswith(b"\r\n.\r\n") or self.buf.startswith(b"-ERR")):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = self.buf, b""
        return out

    def holds_client(self, pid):
        """Whether process `pid` has a descriptor on the client's socket."""
        fd_dir = pathlib.Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) == f"socket:[{self.inode}]":
                    return True
            except OSError:
                continue
        return False

    def child(self, name):
        return wait_for(f"one {name}", lambda: (lambda c: c[0] if len(c) == 1 else None)(
            children(self.proc.pid, name)))

    def finish(self):
        """The client's end: EOF from the server, then the exit status."""
        try:
            for _ in range(100):
                if not self.sock.recv(4096):
                    break
            return self.proc.wait(timeout=15)
        finally:
            self.sock.close()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_text(self):
        return self.log.read_text(errors="replace")


@pytest.fixture
def inetd(binary, binary_for_others, staged_module_dir, workdir):
    runs = []

    def start(modules, **kw):
        # Not as root: a copy any user can run (the build may be in a 0700 home).
        exe = binary if kw.get("as_root", True) else binary_for_others
        runs.append(Inetd(exe, kw.pop("module_dir", staged_module_dir), workdir, modules, **kw))
        return runs[-1]

    yield start
    for r in runs:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait(timeout=10)
        r.sock.close()


def pam_modules(service):
    return (f"[auth_pam]\nservice: {service}\nmin-uid: 60000\n"
            "mailbox: maildir:$(home)/Maildir\n[mailbox_maildir]\n")


@pytest.mark.parametrize("backend", ["passwd", "pam"])
def test_system_user_retrieves_and_deletes_through_inetd(inetd, users, backend):
    u = users(1, "Pw-inetd-1", [message(1), message(2), message(3)])
    service = f"modpop3d-inetd-{os.getpid()}"
    pam_file = pathlib.Path("/etc/pam.d") / service
    pam_file.write_text("auth required pam_unix.so\naccount required pam_unix.so\n")
    try:
        r = inetd(passwd_modules() if backend == "passwd" else pam_modules(service))
        assert r.line() == "+OK modpop3d ready\r\n"
        assert comm(r.proc.pid) == "modpop3d"
        login = r.child("modpop3d-login")
        auth = r.child("modpop3d-auth")
        assert ids(login, "Uid") == (NOBODY,) * 4  # mail-user
        assert ids(auth, "Uid")[0] == 0  # these modules read the shadow file
        # Only the worker holds the client: not the master, not the auth process.
        assert r.holds_client(login)
        assert not r.holds_client(r.proc.pid) and not r.holds_client(auth)
        assert r.cmd(f"USER {u.name}") == SEND_PASSWORD
        assert r.cmd(f"PASS {u.password}").startswith("+OK Logged in, 3 messages")
        sess = r.child("modpop3d-sess")
        assert ids(sess, "Uid") == (u.uid,) * 4
        assert ids(sess, "Gid") == (u.gid,) * 4
        with open(f"/proc/{sess}/status") as f:
            groups = [l for l in f if l.startswith("Groups:")][0].split()[1:]
        assert "0" not in groups
        assert r.holds_client(sess) and not r.holds_client(r.proc.pid)
        retr = r.multi("RETR 2")
        assert retr.startswith(b"+OK ") and retr.endswith(crlf_stuffed(u.raw[2]) + b".\r\n")
        assert r.cmd("DELE 1") == "+OK Message deleted\r\n"
        assert r.cmd("QUIT") == "+OK Logging out (2 messages left)\r\n"
        assert r.finish() == 0
    finally:
        pam_file.unlink()
    assert len(u.files()) == 2
    for sub in ("cur", "new"):
        for p in (u.maildir / sub).iterdir():
            assert p.stat().st_uid == u.uid
    text = r.log_text()
    assert f"event=logout user={u.name} rip=127.0.0.1 lip=127.0.0.1 tls=0 " in text
    assert "reason=quit" in text
    assert u.password not in text
    assert "level=err" not in text


def test_wrong_password_and_unknown_user_get_the_same_answer(inetd, users):
    u = users(2, "Pw-inetd-2", [message(1)])
    r = inetd(passwd_modules())
    assert r.line() == "+OK modpop3d ready\r\n"
    for user, pw in ((u.name, "wrong"), ("mp3t-nosuchuser", u.password), ("root", u.password)):
        assert r.cmd(f"USER {user}") == SEND_PASSWORD
        assert r.cmd(f"PASS {pw}") == AUTH_FAILED
    assert not children(r.proc.pid, "modpop3d-sess")
    assert r.cmd("QUIT") == "+OK Logging out\r\n"
    assert r.finish() == 0
    assert u.files() and u.password not in r.log_text()


def test_virtual_user_is_served_in_the_worker(inetd, workdir):
    flat = workdir / "users"
    flat.write_text(f"carol:{{PLAIN}}CarolPw:{NOBODY}:{NOBODY}:/nonexistent:empty:\n")
    r = inetd(f"[auth_flatfile]\nfile: {flat}\n[mailbox_empty]\n")
    assert r.line() == "+OK modpop3d ready\r\n"
    assert r.cmd("USER carol") == SEND_PASSWORD
    assert r.cmd("PASS CarolPw") == "+OK Logged in, 0 messages (0 octets)\r\n"
    login = r.child("modpop3d-login")
    assert ids(login, "Uid") == (NOBODY,) * 4
    assert r.holds_client(login)  # the fast path: no hand-over, no session process
    assert not children(r.proc.pid, "modpop3d-sess")
    assert r.cmd("QUIT").startswith("+OK Logging out")
    assert r.finish() == 0
    assert "event=logout user=carol " in r.log_text()


def test_stderr_on_the_socket_carries_nothing_but_pop3(inetd, users):
    """inetd passes the socket as 0, 1 and 2: without -e nothing but POP3
    reaches the client, and the client sees the end when the session ends."""
    u = users(3, "Pw-inetd-3", [message(1)])
    r = inetd(passwd_modules(), stderr_is_socket=True)
    assert r.line() == "+OK modpop3d ready\r\n"
    assert r.cmd(f"USER {u.name}") == SEND_PASSWORD
    assert r.cmd(f"PASS {u.password}").startswith("+OK Logged in, 1 message ")
    assert ids(r.child("modpop3d-sess"), "Uid") == (u.uid,) * 4
    assert r.cmd("QUIT") == "+OK Logging out (1 message left)\r\n"
    assert r.buf == b""
    assert r.finish() == 0


def test_not_root_still_refuses_a_system_user(inetd, users, workdir, staged_module_dir):
    """Not started as root there is no master: a result naming another uid
    (a system user's, from a flat file) cannot be served by the one process
    and is refused with the reason logged."""
    u = users(4, "Pw-inetd-4", [message(1)])
    mods = workdir / "modules"  # readable by nobody, unlike the staged tree
    shutil.copytree(staged_module_dir, mods)
    flat = workdir / "users"
    flat.write_text(f"{u.name}:{{PLAIN}}{u.password}:{u.uid}:{u.gid}:{u.home}:"
                    f"maildir:{u.maildir}\n")
    r = inetd(f"[auth_flatfile]\nfile: {flat}\n[mailbox_maildir]\n", as_root=False,
              module_dir=mods)
    assert r.line() == "+OK modpop3d ready\r\n"
    assert r.cmd(f"USER {u.name}") == SEND_PASSWORD
    assert r.cmd(f"PASS {u.password}") == "-ERR [SYS/PERM] Unable to open the maildrop\r\n"
    assert not children(r.proc.pid, None)  # one process, no auth or session process
    assert r.cmd("QUIT") == "+OK Logging out\r\n"
    assert r.finish() == 0
    text = r.log_text()
    assert f"differs from the server's uid {NOBODY}" in text
    assert len(u.files()) == 1


def test_sigterm_drains_the_session_and_leaves_no_process(inetd, users):
    """SIGTERM to the inetd master drains the system user's session (as a
    daemon's drain does, bounded by shutdown-timeout); no auth or session
    process outlives it, and nothing is deleted without QUIT."""
    u = users(5, "Pw-inetd-5", [message(1), message(2)])
    r = inetd(passwd_modules(), core_extra="shutdown-timeout: 1s\n")
    assert r.line() == "+OK modpop3d ready\r\n"
    assert r.cmd(f"USER {u.name}") == SEND_PASSWORD
    assert r.cmd(f"PASS {u.password}").startswith("+OK Logged in, 2 messages")
    sess, auth = r.child("modpop3d-sess"), r.child("modpop3d-auth")
    assert r.cmd("DELE 1") == "+OK Message deleted\r\n"
    r.proc.send_signal(signal.SIGTERM)
    assert r.finish() == 0
    for pid in (sess, auth):
        assert not pathlib.Path(f"/proc/{pid}").exists() or comm(pid) not in (
            "modpop3d-sess", "modpop3d-auth")
    assert len(u.files()) == 2
    assert "event=stopping signal=15" in r.log_text()
