"""systemd socket activation (LISTEN_FDS) and readiness (NOTIFY_SOCKET),
spoken the way systemd speaks them: the daemon serves on the socket it was
given, ignores its listen: keys, and reports READY=1 and STOPPING=1."""
import os
import signal
import socket
import subprocess

from conftest import DEFAULT_MODULES, SESSION_GID, SESSION_UID
from pop3wire import Conn


def test_socket_activation_and_notify(binary, test_module_dir, workdir):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    notify_path = str(workdir / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(15)
    os.chmod(notify_path, 0o777)  # the daemon may have dropped to nobody
    conf = workdir / "sd.conf"
    conf.write_text(f"module-dir: {test_module_dir}\nauth-failure-delay: 0\n"
                    "listen: 127.0.0.1:1\n"  # ignored under socket activation
                    + ("mail-user: nobody\n" if os.getuid() == 0 else "")
                    + DEFAULT_MODULES.format(uid=SESSION_UID, gid=SESSION_GID))
    fd = listener.fileno()
    log = open(workdir / "sd.log", "wb")
    # LISTEN_PID must be the daemon's pid: bash (dash has no fd above 9)
    # exports its own and execs the daemon in its place, with the socket
    # moved to fd 3.
    move = "" if fd == 3 else f" 3<&{fd} {fd}<&-"
    proc = subprocess.Popen(
        ["bash", "-c", f'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" -e -f "$1"{move}',
         binary, str(conf)],
        pass_fds=(fd,), env=dict(os.environ, NOTIFY_SOCKET=notify_path),
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    listener.close()
    try:
        assert notify.recv(100) == b"READY=1"
        with Conn("127.0.0.1", port) as c:
            c.login()
            assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
        proc.send_signal(signal.SIGTERM)
        assert notify.recv(100) == b"STOPPING=1"
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        notify.close()
    text = (workdir / "sd.log").read_text()
    assert f"event=ready listeners=systemd:127.0.0.1:{port}" in text
