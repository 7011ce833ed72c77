"""The servers of the hooks_net suite, started ONCE per pytest run (session
fixtures) on 127.0.0.1 and stopped at its end:

- WHOSON: whoson_server.py (this directory), a protocol-faithful server on
  UDP and TCP, and a second one started --silent (receives, logs, never
  answers);
- DRAC: drac_test_server, built by meson from hook_drac's drac.x with
  rpcgen (modules/hook_drac/tests), answering success on UDP and TCP, and a
  second one answering ADD_PERM; plus a UDP socket and a TCP listener that
  this process holds open and never serves: a DRAC server that never
  answers.

The daemon of each test loads auth_test and mailbox_memory (the core's test
modules) and the installed (staged) hook modules from one module directory
made for the run.
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import free_port

HERE = pathlib.Path(__file__).resolve().parent


def _free_udp_and_tcp():
    """A port number free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise AssertionError("no port free for both UDP and TCP")


def _wait_ready(proc, log, needle, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        time.sleep(0.02)
    raise AssertionError(f"{what} not ready within {timeout}s")


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class WhosonServer:
    def __init__(self, log, udp, tcp):
        self.log, self.udp, self.tcp = log, udp, tcp

    def port(self, transport):
        return self.udp if transport == "udp" else self.tcp

    def requests(self):
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [r for r in map(json.loads, lines) if "ready" not in r]

    def wait_for(self, pred, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.requests() if pred(r)]
            if got:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{what}: not seen within {timeout}s; got {self.requests()}")

    def query(self, address):
        """QUERY over UDP, as an MTA would ask: the reply line."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(f"QUERY {address}\r\n\r\n".encode(), ("127.0.0.1", self.udp))
            data, _ = s.recvfrom(2048)
        assert data.endswith(b"\r\n\r\n"), data
        return data[:-4].decode()


class DracServer:
    def __init__(self, log, port):
        self.log, self.port = log, port

    def calls(self):
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [l for l in lines if l != "ready"]


def _start_whoson(where, silent):
    log = where / ("whoson-silent.log" if silent else "whoson.log")
    udp, tcp = _free_udp_and_tcp(), free_port()
    args = [sys.executable, str(HERE / "whoson_server.py"), "--log", str(log),
            "--udp", str(udp), "--tcp", str(tcp)] + (["--silent"] if silent else [])
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
    _wait_ready(proc, log, '"ready"', "whoson_server.py")
    return proc, WhosonServer(log, udp, tcp)


@pytest.fixture(scope="session")
def net_dir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="modpop3d-hooks-net-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def whoson(net_dir):
    """(normal, silent) WHOSON servers."""
    procs = []
    try:
        p1, normal = _start_whoson(net_dir, silent=False)
        procs.append(p1)
        p2, silent = _start_whoson(net_dir, silent=True)
        procs.append(p2)
        yield normal, silent
    finally:
        for p in procs:
            _stop(p)


@pytest.fixture(scope="session")
def drac_binary(build_root):
    path = build_root / "modules" / "hook_drac" / "tests" / "drac_test_server"
    if not path.exists():
        pytest.skip("hook_drac is not built (libtirpc or rpcgen missing)")
    return path


def _start_drac(binary, where, name, status):
    log = where / f"{name}.log"
    port = _free_udp_and_tcp()
    proc = subprocess.Popen([str(binary), "--log", str(log), "--udp", str(port), "--tcp",
                             str(port), "--status", status], stdin=subprocess.DEVNULL)
    _wait_ready(proc, log, "ready", "drac_test_server")
    return proc, DracServer(log, port)


@pytest.fixture(scope="session")
def drac(drac_binary, net_dir):
    """(answering success, answering perm) DRAC servers."""
    procs = []
    try:
        p1, ok = _start_drac(drac_binary, net_dir, "drac-ok", "success")
        procs.append(p1)
        p2, perm = _start_drac(drac_binary, net_dir, "drac-perm", "perm")
        procs.append(p2)
        yield ok, perm
    finally:
        for p in procs:
            _stop(p)


@pytest.fixture(scope="session")
def black_hole():
    """A port where a UDP socket and a TCP listener are open and nobody ever
    reads or accepts: requests arrive (TCP connects complete in the kernel)
    and are never answered."""
    port = _free_udp_and_tcp()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", port))
    t.listen(64)
    yield port
    u.close()
    t.close()


@pytest.fixture(scope="session")
def module_dir(test_module_dir, staged_module_dir, net_dir):
    """auth_test and mailbox_memory next to the installed hook modules."""
    d = net_dir / "modules"
    d.mkdir()
    for src in (pathlib.Path(test_module_dir) / "auth_test.so",
                pathlib.Path(test_module_dir) / "mailbox_memory.so",
                pathlib.Path(staged_module_dir) / "hook_whoson.so",
                pathlib.Path(staged_module_dir) / "hook_drac.so"):
        if src.exists():
            shutil.copy(src, d / src.name)
            os.chmod(d / src.name, 0o755)
    os.chmod(d, 0o755)
    return str(d)
