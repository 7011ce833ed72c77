"""The installed systemd units: systemd-analyze verifies them, their
exposure score is the one modpop3d(8) states, and the service's own command
line serves under socket activation (systemd-socket-activate) and reports
readiness and stopping on NOTIFY_SOCKET, as systemd would run it."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import DEFAULT_MODULES, SESSION_GID, SESSION_UID, free_port

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed")


@pytest.fixture(scope="module")
def units(stage, tmp_path_factory):
    """The staged units, pointed at the staged binary (the installed paths
    exist only under the stage)."""
    found = {p.name: p for p in stage.rglob("modpop3d.s*") if p.parent.name == "system"}
    assert set(found) == {"modpop3d.service", "modpop3d.socket"}, found
    binary = next(stage.rglob("sbin/modpop3d"))
    prefix = str(binary.parent.parent)[len(str(stage)):]  # /usr/local, as configured
    out = tmp_path_factory.mktemp("units")
    for name, path in found.items():
        text = path.read_text().replace(f"{prefix}/sbin/modpop3d", str(binary))
        (out / name).write_text(text)
    return out


def test_units_verify_cleanly(units):
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(units / "modpop3d.service"), str(units / "modpop3d.socket")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_exposure_score_is_the_one_the_man_page_states(units, source_root):
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                        str(units / "modpop3d.service")],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for modpop3d.service: (\d+\.\d)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    page = (source_root / "man" / "modpop3d.8").read_text()
    assert f"exposure level of {m.group(1)}" in page, f"systemd-analyze says {m.group(1)}"
    assert "Failed to parse" not in r.stderr, r.stderr


def exec_start(unit_text):
    line = next(l for l in unit_text.splitlines() if l.startswith("ExecStart="))
    return line[len("ExecStart="):].split()


def test_service_command_line_under_socket_activation_and_notify(units, test_module_dir,
                                                                   workdir):
    argv = exec_start((units / "modpop3d.service").read_text())
    assert argv[1:3] == ["-f", argv[2]] and argv[2].endswith("/modpop3d.conf")
    conf = workdir / "modpop3d.conf"
    conf.write_text(f"module-dir: {test_module_dir}\nauth-failure-delay: 0\nworkers: 1\n"
                    "log-target: stderr\n"
                    + ("mail-user: nobody\n" if os.getuid() == 0 else "")
                    + DEFAULT_MODULES.format(uid=SESSION_UID, gid=SESSION_GID))
    argv[2] = str(conf)
    notify_path = str(workdir / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(15)
    os.chmod(notify_path, 0o777)
    port = free_port()
    log = open(workdir / "sd.log", "wb")
    proc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}",
                             "-E", f"NOTIFY_SOCKET={notify_path}", *argv],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:  # systemd-socket-activate listens first, then execs on a connection
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=15)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "systemd-socket-activate never listened"
                time.sleep(0.05)
        with s:
            f = s.makefile("rb")
            assert f.readline() == b"+OK modpop3d ready\r\n"
            s.sendall(b"USER alice\r\nPASS secret\r\n")
            assert f.readline() == b"+OK Send your password\r\n"
            assert f.readline().startswith(b"+OK Logged in")
            s.sendall(b"QUIT\r\n")
            assert f.readline().startswith(b"+OK")
        states = set()
        while "READY=1" not in states:
            states.update(notify.recv(4096).decode().split("\n"))
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in states:
            states.update(notify.recv(4096).decode().split("\n"))
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
        log.close()
    text = (workdir / "sd.log").read_text()
    assert "listeners=systemd:127.0.0.1:" in text, text
