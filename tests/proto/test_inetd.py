"""inetd mode (modpop3d -i): one already-accepted connection on standard
input, the same protocol and privilege drops, and the process ends with the
session."""
import os
import socket
import subprocess

from conftest import DEFAULT_MODULES, SESSION_GID, SESSION_UID


def start_inetd(binary, test_module_dir, workdir, extra=""):
    conf = workdir / "inetd.conf"
    text = f"module-dir: {test_module_dir}\nauth-failure-delay: 0\n{extra}"
    if os.getuid() == 0:
        text += "mail-user: nobody\n"
    conf.write_text(text + DEFAULT_MODULES.format(uid=SESSION_UID, gid=SESSION_GID))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname(), timeout=10)
    server_side, _ = listener.accept()
    listener.close()
    log = open(workdir / "inetd.log", "wb")
    proc = subprocess.Popen([binary, "-i", "-e", "-f", str(conf)], stdin=server_side,
                            stdout=server_side, stderr=log)
    server_side.close()  # the child has it now, as inetd would hand it over
    return proc, client, workdir / "inetd.log"


def read_until(sock, end, limit=200):
    data = b""
    for _ in range(limit):
        if data.endswith(end):
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_inetd_session_serves_and_exits(binary, test_module_dir, workdir):
    proc, c, log = start_inetd(binary, test_module_dir, workdir)
    try:
        assert read_until(c, b"\r\n") == b"+OK modpop3d ready\r\n"
        c.sendall(b"USER alice\r\nPASS secret\r\nSTAT\r\nDELE 1\r\nQUIT\r\n")
        got = read_until(c, b"left)\r\n")
        lines = got.split(b"\r\n")
        assert lines[0] == b"+OK Send your password"
        assert lines[1].startswith(b"+OK Logged in, 3 messages")
        assert lines[2].startswith(b"+OK 3 ")
        assert lines[3] == b"+OK Message deleted"
        assert lines[4] == b"+OK Logging out (2 messages left)"
        assert c.recv(100) == b""  # the server closed the connection
        assert proc.wait(timeout=15) == 0
    finally:
        c.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    text = log.read_text()
    assert "event=login user=alice" in text
    assert "event=logout user=alice rip=127.0.0.1 lip=127.0.0.1 tls=0 method=USER reason=quit" in text
    assert "secret" not in text


def test_inetd_drop_deletes_nothing_and_exits(binary, test_module_dir, workdir):
    proc, c, _ = start_inetd(binary, test_module_dir, workdir)
    try:
        read_until(c, b"\r\n")
        c.sendall(b"USER alice\r\nPASS secret\r\nDELE 1\r\n")
        assert read_until(c, b"deleted\r\n").endswith(b"+OK Message deleted\r\n")
        c.close()  # dropped without QUIT
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    # Each inetd run is a new process with its own in-memory store, so the
    # proof that nothing was committed is the log: no deletion counted.
    text = (workdir / "inetd.log").read_text()
    assert "reason=disconnected retrieved=0 retrieved_octets=0 deleted=0" in text


def test_inetd_refuses_a_non_socket(binary, test_module_dir, workdir):
    conf = workdir / "x.conf"
    conf.write_text(f"module-dir: {test_module_dir}\n" +
                    ("mail-user: nobody\n" if os.getuid() == 0 else "") +
                    DEFAULT_MODULES.format(uid=SESSION_UID, gid=SESSION_GID))
    r = subprocess.run([binary, "-i", "-e", "-f", str(conf)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "standard input is not a TCP socket" in r.stderr
