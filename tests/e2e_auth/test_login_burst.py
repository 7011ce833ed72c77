"""A burst of logins far larger than the socket buffers between the
processes: 1,000 clients connect and send USER/PASS at once to a freshly
started daemon with one worker, so that the auth process answers a
thousand requests on one channel. Every login must succeed: no message
between the processes may be dropped when a socket buffer is full (they
wait in an outbox instead)."""
import resource
import selectors
import socket
import time

from conftest import SESSION_GID, SESSION_UID
from e2ehelp import real_daemon  # noqa: F401 (fixture)

CLIENTS = 1000
USERS = 5000


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def burst(host, port, logins, budget_s=90.0):
    """Connect every client, send USER/PASS pipelined, read until each has
    its PASS answer; returns {index: PASS answer line}."""
    sel = selectors.DefaultSelector()
    got = {}
    conns = []
    for i, (user, password) in enumerate(logins):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        conns.append(s)
        sel.register(s, selectors.EVENT_WRITE, [i, f"USER {user}\r\nPASS {password}\r\n".encode(),
                                                 b""])
    deadline = time.monotonic() + budget_s
    while len(got) < len(logins) and time.monotonic() < deadline:
        for key, events in sel.select(timeout=1.0):
            state = key.data
            s = key.fileobj
            if events & selectors.EVENT_WRITE and state[1]:
                try:
                    n = s.send(state[1])
                    state[1] = state[1][n:]
                except (BlockingIOError, InterruptedError):
                    continue
                if not state[1]:
                    sel.modify(s, selectors.EVENT_READ, state)
                continue
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                got[state[0]] = "(closed) " + state[2].decode(errors="replace")
                sel.unregister(s)
                continue
            state[2] += data
            lines = state[2].split(b"\r\n")
            if len(lines) >= 4:  # greeting, USER answer, PASS answer
                got[state[0]] = lines[2].decode(errors="replace")
                sel.unregister(s)
    for s in conns:
        s.close()
    return got


def test_a_thousand_simultaneous_logins_all_succeed(real_daemon, workdir):
    users = workdir / "users"
    users.write_text("".join(f"user{i}:{{PLAIN}}Pw-{i}:{SESSION_UID}:{SESSION_GID}:/nonexistent:"
                             f"empty:\n" for i in range(USERS)))
    d = real_daemon(f"[auth_flatfile]\nfile: {users}\n[mailbox_empty]\n",
                    core={"max-connections": "4000", "max-connections-per-ip": "4000",
                          "workers": "1", "timeout-preauth": "120s"})
    raise_fd_limit(CLIENTS + 256)
    step = USERS // CLIENTS
    logins = [(f"user{i * step}", f"Pw-{i * step}") for i in range(CLIENTS)]
    got = burst(d.host, d.port, logins)
    failed = {i: a for i, a in got.items() if not a.startswith("+OK Logged in")}
    assert len(got) == CLIENTS, f"only {len(got)} of {CLIENTS} answered in time"
    assert not failed, f"{len(failed)} logins failed, e.g. {list(failed.items())[:3]}"
    assert "auth_ipc_error" not in d.log_text()
    assert "auth_timeout" not in d.log_text()
