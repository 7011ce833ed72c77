"""Bounded memory per client: a connection whose replies go unread stops
being read, so neither a client flooding commands without reading (CAPA
before login, UIDL after) nor a slow reader of a 100 MB message can grow
its worker. Measured on the worker's resident set from /proc."""
import os
import socket
import time

from conftest import SESSION_GID, SESSION_UID
from e2ehelp import real_daemon  # noqa: F401 (fixture)
from procs import children

# What a worker may grow by while one client misbehaves: the output bound
# (64K), the input buffer (16K), TLS and socket buffers, allocator slack.
# Measured under 1 MiB for each test below; before the bound the same floods
# grew the worker by 29 MiB (CAPA) and 650 MiB (UIDL).
GROWTH_BOUND_KB = 8 * 1024


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def maildir_user(workdir, messages):
    """alice with a Maildir holding `messages` (name, bytes) pairs."""
    home = workdir / "alice"
    maildir = home / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for name, body in messages:
        (maildir / "new" / name).write_bytes(body)
    for root, dirs, files in os.walk(home):
        for n in dirs + files:
            os.chown(os.path.join(root, n), SESSION_UID, SESSION_GID)
    os.chown(home, SESSION_UID, SESSION_GID)
    users = workdir / "users"
    users.write_text(f"alice:{{PLAIN}}Flood-Pw1:{SESSION_UID}:{SESSION_GID}:{home}:"
                     f"maildir:{maildir}\n")
    return f"[auth_flatfile]\nfile: {users}\n[mailbox_maildir]\n"


def small_buffered_connection(d):
    """A client socket with small fixed buffers (set before connect, so the
    kernel does not grow them): what it manages to send is what the server
    read, give or take the server's own receive buffer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    s.settimeout(10)
    s.connect((d.host, d.port))
    return s


def flood_without_reading(sock, line, limit_bytes, stall_s=2.0, budget_s=30.0):
    """Send `line` over and over without reading until `limit_bytes` went
    out or the server has taken nothing for `stall_s`; returns bytes sent."""
    sock.setblocking(False)
    chunk = line * (65536 // len(line))
    sent, last_progress, start = 0, time.monotonic(), time.monotonic()
    while sent < limit_bytes and time.monotonic() - start < budget_s:
        try:
            n = sock.send(chunk)
            sent += n
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress > stall_s:
                break
            time.sleep(0.01)
    return sent


def test_capa_flood_without_reading_leaves_the_worker_bounded(live_memory_only, real_daemon,
                                                              workdir):
    d = real_daemon(maildir_user(workdir, []))
    (worker,) = children(d.proc.pid)
    before = rss_kb(worker)
    with small_buffered_connection(d) as s:
        sent = flood_without_reading(s, b"CAPA\r\n", 16 << 20)
        grown = rss_kb(worker) - before
        # The server stopped reading long before 40 MB: each CAPA asks for
        # about 150 bytes of reply, which nobody reads.
        assert sent < 2 << 20, f"the server kept reading: {sent} bytes taken"
        assert grown < GROWTH_BOUND_KB, f"worker grew by {grown} KiB after {sent} bytes"
        # Nothing was lost: reading now gets the replies, in order, intact.
        s.setblocking(True)
        got = b""
        deadline = time.monotonic() + 5
        while got.count(b"+OK Capability list follows\r\n") < 50 and time.monotonic() < deadline:
            got += s.recv(65536)
        assert got.startswith(b"+OK modpop3d ready\r\n+OK Capability list follows\r\n")
        assert got.count(b"+OK Capability list follows\r\n") >= 50


def test_uidl_flood_after_login_leaves_the_worker_bounded(live_memory_only, real_daemon,
                                                          workdir):
    # 100 messages: each UIDL asks for ~3 KB of reply, 500x its size.
    msgs = [(f"{1700000000 + i}.{i}.host", b"Subject: m\r\n\r\nbody\r\n") for i in range(100)]
    d = real_daemon(maildir_user(workdir, msgs))
    (worker,) = children(d.proc.pid)
    with small_buffered_connection(d) as s:
        f = s.makefile("rb")
        assert f.readline() == b"+OK modpop3d ready\r\n"
        s.sendall(b"USER alice\r\nPASS Flood-Pw1\r\n")
        assert f.readline() == b"+OK Send your password\r\n"
        assert f.readline().startswith(b"+OK Logged in, 100 messages")
        before = rss_kb(worker)
        sent = flood_without_reading(s, b"UIDL\r\n", 4 << 20)
        grown = rss_kb(worker) - before
        assert sent < 2 << 20, f"the server kept reading: {sent} bytes taken"
        assert grown < GROWTH_BOUND_KB, f"worker grew by {grown} KiB after {sent} bytes"


def test_slow_reader_of_a_100_mb_message_leaves_the_worker_bounded(live_memory_only, real_daemon,
                                                                   workdir):
    line = b"x" * 998 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * (100 * 1024 * 1024 // len(line))
    d = real_daemon(maildir_user(workdir, [("1700000000.big.host", body)]))
    (worker,) = children(d.proc.pid)
    with small_buffered_connection(d) as s:
        f = s.makefile("rb")
        assert f.readline() == b"+OK modpop3d ready\r\n"
        s.sendall(b"USER alice\r\nPASS Flood-Pw1\r\n")
        f.readline()
        assert f.readline().startswith(b"+OK Logged in, 1 message")
        before = rss_kb(worker)
        s.sendall(b"RETR 1\r\n")
        assert f.readline().startswith(b"+OK")
        # Read 1 MB slowly (in 16 KB sips), then check the worker.
        taken = 0
        for _ in range(64):
            taken += len(f.read(16384))
            time.sleep(0.01)
        grown = rss_kb(worker) - before
        assert taken == 64 * 16384
        assert grown < GROWTH_BOUND_KB, f"worker grew by {grown} KiB while 99 MB wait"
