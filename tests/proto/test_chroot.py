"""login-chroot: the workers (also inetd mode's) serve from inside a chroot
while the master stays outside; the real mailbox_maildir finds its
mailboxes inside it; TLS and logging keep working; modpop3d -t and the start
refuse a directory others could write to, or a missing one, with file:line.

Entering a chroot needs root: these tests skip when not run as root."""
import os
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import uuid

import pytest

from conftest import SESSION_GID, SESSION_UID, free_port, run
from pop3wire import Conn, login_retrying
from procs import children, wait_for, workers_of

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="chroot(2) needs root")

# A user name no directory at the real root can have: its mailbox is found
# only through the chroot.
USER = "chr" + uuid.uuid4().hex[:12]
MESSAGE = b"Subject: jailed\r\n\r\nfrom inside the chroot\r\n.dot line\r\n"


def own(path):
    os.chown(path, SESSION_UID, SESSION_GID)


@pytest.fixture
def jail(workdir):
    """A chroot directory (root's, 0755) holding USER's maildir with one
    message; the mailbox spec names it as seen from inside."""
    root = workdir / "jail"
    root.mkdir(mode=0o755)
    md = root / USER / "Maildir"
    for d in (root / USER, md, md / "new", md / "cur", md / "tmp"):
        d.mkdir(mode=0o700)
        own(d)
    msg = md / "new" / "1700000000.M1P1.chroot"
    msg.write_bytes(MESSAGE)
    own(msg)
    return root


@pytest.fixture
def module_dir(workdir, test_module_dir, build_root):
    """auth_test (no files to read) and the real mailbox_maildir in one
    directory, root's as the loader wants it when running as root."""
    d = workdir / "modules"
    d.mkdir(mode=0o755)
    shutil.copy(pathlib.Path(test_module_dir) / "auth_test.so", d)
    shutil.copy(build_root / "modules" / "mailbox_maildir" / "mailbox_maildir.so", d)
    return d


def modules_text():
    return (f"[auth_test]\nusers: {USER}:secret\nuid: {{uid}}\ngid: {{gid}}\n"
            f"home: /$(user)\nmailbox: maildir:/$(user)/Maildir\n[mailbox_maildir]\n")


def start(start_daemon, jail, module_dir, **core):
    return start_daemon(core={"module-dir": str(module_dir), "login-chroot": str(jail), **core},
                        modules=modules_text())


def wire(msg):
    lines = msg.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def retr_and_delete(c, check_close=True):
    assert c.cmd("STAT") == f"+OK 1 {len(MESSAGE)}\r\n"
    reply = c.multi("RETR 1")
    assert reply == f"+OK {len(MESSAGE)} octets\r\n".encode() + wire(MESSAGE)
    assert c.cmd("DELE 1").startswith("+OK")
    assert c.cmd("QUIT").startswith("+OK Logging out")
    if check_close:
        assert c.closed()


def stored(jail):
    md = jail / USER / "Maildir"
    return sorted(os.listdir(md / "new")) + sorted(os.listdir(md / "cur"))


# ---------------------------------------------------------------- processes

def test_workers_are_chrooted_and_the_master_is_not(start_daemon, jail, module_dir):
    d = start(start_daemon, jail, module_dir, workers="2")
    workers = workers_of(d, 2)
    assert os.readlink(f"/proc/{d.proc.pid}/root") == "/"
    for w in workers:
        assert os.readlink(f"/proc/{w}/root") == os.path.realpath(jail)
        assert os.readlink(f"/proc/{w}/cwd") == os.path.realpath(jail)  # chdir("/") inside
        with open(f"/proc/{w}/status") as f:
            uids = next(l for l in f if l.startswith("Uid:")).split()[1:5]
        assert uids == [str(SESSION_UID)] * 4


def test_maildir_inside_the_chroot_is_served(start_daemon, jail, module_dir):
    assert not os.path.exists(f"/{USER}")  # only the chroot has this path
    d = start(start_daemon, jail, module_dir)
    c, reply = login_retrying(d.host, d.port, USER, "secret")
    with c:
        assert reply.startswith("+OK Logged in, 1 message")
        retr_and_delete(c)
    # The DELE reached the file inside the chroot.
    wait_for("the message removed", lambda: stored(jail) == [])
    text = d.log_text()
    assert f"event=login user={USER}" in text  # logging works from inside
    assert "level=err" not in text


def make_cert(directory):
    key, crt = directory / "tls.key", directory / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return crt, key


def test_tls_works_inside_the_chroot(start_daemon, jail, module_dir, workdir):
    # The contexts come from the master; the worker needs randomness and
    # nothing else from outside for handshakes (two: a fresh and a second).
    crt, key = make_cert(workdir)
    d = start(start_daemon, jail, module_dir,
              **{"tls-certificate": str(crt), "tls-key": str(key)})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(2):
        with Conn(d.host, d.port) as c:
            assert c.cmd("STLS") == "+OK Begin TLS negotiation\r\n"
            c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
            assert c.multi("CAPA").startswith(b"+OK")
            assert c.cmd("QUIT").startswith("+OK")
    with Conn(d.host, d.port) as c:
        assert c.cmd("STLS").startswith("+OK")
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.login(USER, "secret")
        retr_and_delete(c, check_close=False)
    wait_for("the message removed", lambda: stored(jail) == [])


def test_inetd_mode_enters_the_chroot(binary, jail, module_dir, workdir):
    conf = workdir / "inetd.conf"
    conf.write_text(f"module-dir: {module_dir}\nauth-failure-delay: 0\nmail-user: nobody\n"
                    f"login-chroot: {jail}\n" +
                    modules_text().format(uid=SESSION_UID, gid=SESSION_GID))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname(), timeout=10)
    server_side, _ = listener.accept()
    listener.close()
    # Under ASan, LeakSanitizer reads /proc/PID/task when the process exits:
    # there is no /proc inside the chroot, so it would fail the exit.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    with open(workdir / "inetd.log", "wb") as log:
        proc = subprocess.Popen([binary, "-i", "-e", "-f", str(conf)], stdin=server_side,
                                stdout=server_side, stderr=log, env=env)
    server_side.close()
    c = Conn.__new__(Conn)
    c.sock, c.buf = client, b""
    try:
        assert c.line() == b"+OK modpop3d ready\r\n"
        c.login(USER, "secret")
        # As root, inetd mode has the daemon's processes: the login worker
        # serves from inside the chroot, the master of the connection stays
        # outside.
        worker = wait_for("the login worker", lambda: (lambda c: c[0] if len(c) == 1 else None)(
            children(proc.pid)))
        assert os.readlink(f"/proc/{worker}/root") == os.path.realpath(jail)
        assert os.readlink(f"/proc/{proc.pid}/root") == "/"
        retr_and_delete(c)
        assert proc.wait(timeout=15) == 0, (workdir / "inetd.log").read_text()
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert stored(jail) == []


def test_auth_flatfile_reads_its_file_outside_the_chroot(start_daemon, stage, staged_module_dir,
                                                         jail, workdir):
    # Auth modules run in the auth process, which is not chrooted: the
    # file auth_flatfile reads is the one modpop3d -t checks, outside. A
    # file at the same path inside the chroot (different password) is not
    # used.
    tool = next(pathlib.Path(stage).rglob("bin/modpop3d-passwd"))

    def line(password):
        h = subprocess.run([str(tool), "--stdin"], input=password + "\n", capture_output=True,
                           text=True, timeout=30, check=True).stdout.strip()
        return f"{USER}:{h}\n"

    outside = workdir / "users"
    outside.write_text(line("outside-pass"))
    inside = jail / str(outside).lstrip("/")
    inside.parent.mkdir(parents=True, mode=0o755)
    inside.write_text(line("inside-pass"))
    for f in (outside, inside):
        os.chmod(f, 0o600)
        own(f)
    d = start_daemon(core={"module-dir": staged_module_dir, "login-chroot": str(jail)},
                     modules=f"[auth_flatfile]\nfile: {outside}\nhome: /$(user)\n"
                             f"uid: {SESSION_UID}\ngid: {SESSION_GID}\n"
                             "default-mailbox: maildir:$(home)/Maildir\n[mailbox_maildir]\n")
    with Conn(d.host, d.port) as c:
        assert c.cmd(f"USER {USER}") == "+OK Send your password\r\n"
        assert c.cmd("PASS inside-pass").startswith("-ERR [AUTH]")
    c, reply = login_retrying(d.host, d.port, USER, "outside-pass")
    with c:
        assert reply.startswith("+OK Logged in, 1 message")
        retr_and_delete(c)


# ---------------------------------------------------------------- refusals

def conf_with_chroot(workdir, module_dir, path):
    conf = workdir / "check.conf"
    conf.write_text(f"module-dir: {module_dir}\n"       # 1
                    "mail-user: nobody\n"               # 2
                    f"login-chroot: {path}\n"           # 3
                    + modules_text().format(uid=SESSION_UID, gid=SESSION_GID))
    return conf


def check(binary, conf):
    r = run(binary, "-t", "-f", str(conf))
    return r.returncode, r.stderr


def test_check_accepts_a_proper_chroot(binary, workdir, jail, module_dir):
    conf = conf_with_chroot(workdir, module_dir, jail)
    rc, err = check(binary, conf)
    assert rc == 0, err


@pytest.mark.parametrize("problem", ["group-writable", "other-writable", "not-root", "missing",
                                     "a-file", "parent-writable"])
def test_check_and_start_refuse_an_unsafe_chroot(binary, workdir, jail, module_dir, problem):
    real = os.path.realpath(jail)
    path = jail
    if problem == "group-writable":
        os.chmod(jail, 0o775)
        why = f"login-chroot: {real} is writable by group or others (chmod go-w {real})"
    elif problem == "other-writable":
        os.chmod(jail, 0o757)
        why = f"login-chroot: {real} is writable by group or others (chmod go-w {real})"
    elif problem == "not-root":
        own(jail)
        why = f"login-chroot: {real} is not owned by root (chown root {real})"
    elif problem == "missing":
        path = workdir / "no-such-dir"
        why = f"login-chroot {path}: No such file or directory"
    elif problem == "a-file":
        path = workdir / "plain-file"
        path.write_text("")
        why = f"login-chroot: {os.path.realpath(path)} is not a directory"
    else:
        # A parent others may write to (and not sticky): they could rename
        # the chroot away and put their own in its place.
        parent = workdir / "open"
        parent.mkdir()
        os.chmod(parent, 0o777)
        path = parent / "jail"
        path.mkdir(mode=0o755)
        why = (f"login-chroot {path}: {os.path.realpath(parent)} is writable by group or "
               f"others (chmod go-w {os.path.realpath(parent)})")
    conf = conf_with_chroot(workdir, module_dir, path)
    rc, err = check(binary, conf)
    assert rc == 1
    assert f"modpop3d: {conf}:3: {why}\n" in err, err
    # The daemon refuses to start with the same message, before any fork.
    r = run(binary, "-e", "-f", str(conf), timeout=30)
    assert r.returncode == 1
    assert f"modpop3d: {conf}:3: {why}\n" in r.stderr, r.stderr


def test_sticky_parent_is_accepted(binary, workdir, module_dir):
    parent = workdir / "sticky"
    parent.mkdir()
    os.chmod(parent, 0o1777)
    path = parent / "jail"
    path.mkdir(mode=0o755)
    rc, err = check(binary, conf_with_chroot(workdir, module_dir, path))
    assert rc == 0, err


def test_reload_to_an_unsafe_chroot_keeps_the_running_generation(start_daemon, jail,
                                                                module_dir):
    d = start(start_daemon, jail, module_dir)
    os.chmod(jail, 0o777)
    try:
        os.kill(d.proc.pid, 1)  # SIGHUP
        d.wait_log("event=reload_failed why=\"the running configuration stays\"")
        assert re.search(r"event=reload_failed error=\".*:\d+: login-chroot: .* is writable by "
                         r"group or others", d.log_text())
    finally:
        os.chmod(jail, 0o755)
    c, reply = login_retrying(d.host, d.port, USER, "secret")
    with c:
        assert reply.startswith("+OK Logged in, 1 message")
        assert c.cmd("QUIT").startswith("+OK")


def test_not_root_is_refused_with_the_line(binary_for_others, workdir, jail, module_dir):
    # The same configuration, started by an ordinary user: entering a chroot
    # needs root, said at once instead of by a failing worker.
    conf = workdir / "user.conf"
    conf.write_text(f"module-dir: {module_dir}\nauth-failure-delay: 0\n"
                    f"listen: 127.0.0.1:{free_port()}\nlogin-chroot: {jail}\n" +
                    modules_text().format(uid=SESSION_UID, gid=SESSION_GID))
    os.chmod(conf, 0o644)

    def become_nobody():
        os.setgroups([])
        os.setgid(SESSION_GID)
        os.setuid(SESSION_UID)

    r = subprocess.run([binary_for_others, "-e", "-f", str(conf)], capture_output=True, text=True,
                       timeout=30, preexec_fn=become_nobody, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert (f"modpop3d: {conf}:4: login-chroot {jail}: entering a chroot needs modpop3d started "
            "as root; start it as root or remove login-chroot\n") in r.stderr, r.stderr
