"""Shared pytest fixtures for every test that runs the modpop3d binary.

meson test passes the paths in the environment (see tests/meson.build):
MODPOP3D_BINARY, MODPOP3D_BUILD_ROOT, MODPOP3D_SOURCE_ROOT,
MODPOP3D_TEST_MODULE_DIR and MODPOP3D_INSTALLED_MODULEDIR.
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through 'meson test'")
    return value


@pytest.fixture(scope="session")
def binary():
    return _env("MODPOP3D_BINARY")


@pytest.fixture(scope="session")
def binary_for_others(binary):
    """A copy of the binary that any user can run. Tests that start it as an
    unprivileged user need one: the build tree may sit in a directory only
    its owner can enter (a checkout in root's home, mode 0700)."""
    where = pathlib.Path(tempfile.mkdtemp(prefix="modpop3d-bin-"))
    os.chmod(where, 0o755)
    copy = where / "modpop3d"
    shutil.copy2(binary, copy)
    os.chmod(copy, 0o755)
    yield str(copy)
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="session")
def source_root():
    return pathlib.Path(_env("MODPOP3D_SOURCE_ROOT"))


@pytest.fixture(scope="session")
def build_root():
    return pathlib.Path(_env("MODPOP3D_BUILD_ROOT"))


@pytest.fixture(scope="session")
def test_module_dir():
    return _env("MODPOP3D_TEST_MODULE_DIR")


@pytest.fixture(scope="session")
def stage(build_root, tmp_path_factory):
    """A staged 'meson install --destdir' of this build, as a packager makes
    it. Returns the stage root; installed paths sit below it."""
    root = tmp_path_factory.mktemp("stage")
    subprocess.run(
        ["meson", "install", "-C", str(build_root), "--no-rebuild", "--quiet",
         "--destdir", str(root)],
        check=True, stdout=subprocess.DEVNULL)
    os.chmod(root, 0o755)
    return root


@pytest.fixture(scope="session")
def staged_module_dir(stage):
    return str(stage) + _env("MODPOP3D_INSTALLED_MODULEDIR")


def run(binary, *args, timeout=30):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def live_memory_only(monkeypatch):
    """For tests that bound a daemon's resident memory. Under ASan (the
    sanitizer run sets ASAN_OPTIONS) freed memory is held back in a
    quarantine of up to 256 MiB on purpose, so RSS would measure the
    quarantine, not what the daemon keeps alive: daemons started in such a
    test run without it."""
    opts = os.environ.get("ASAN_OPTIONS")
    if opts is not None:
        monkeypatch.setenv("ASAN_OPTIONS",
                           opts + ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0")


@pytest.fixture
def workdir():
    path = pathlib.Path(tempfile.mkdtemp(prefix="modpop3d-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- a running daemon
#
# The proto and clients suites run the real daemon (`modpop3d -f CONF -e`)
# on a free loopback port with the deterministic test modules.

import signal
import socket
import time

# auth_test's uid/gid must be the uid the sessions run as: nobody when the
# tests run as root (the daemon then needs mail-user), else our own.
SESSION_UID = 65534 if os.getuid() == 0 else os.getuid()
SESSION_GID = 65534 if os.getuid() == 0 else os.getgid()

DEFAULT_MODULES = (
    "[auth_test]\n"
    "users: alice:secret bob:hunter2\n"
    "temp-users: temp\n"
    "uid: {uid}\n"
    "gid: {gid}\n"
    "[mailbox_memory]\n"
    "count: 3\n"
    "body-lines: 4\n")


def ipv6_loopback():
    """Whether this machine has ::1 (some containers do not)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port():
    """A port nobody listens on right now (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One running modpop3d. Unpacks as (host, port, log path)."""

    def __init__(self, proc, host, port, log, conf):
        self.proc, self.host, self.port, self.log, self.conf = proc, host, port, log, conf
        self.stopped = False

    def __iter__(self):
        return iter((self.host, self.port, self.log))

    def log_text(self):
        return self.log.read_text(errors="replace")

    def log_lines(self, event=None):
        lines = self.log_text().splitlines()
        if event is None:
            return lines
        return [l for l in lines if f" event={event} " in l + " " or
                l.split(" ", 1)[-1].startswith(f"event={event}")]

    def wait_log(self, needle, timeout=10.0):
        """Wait (bounded) until the log contains needle; return the log text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()
            if needle in text:
                return text
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not logged within {timeout}s:\n{self.log_text()}")

    def terminate(self, timeout=20.0):
        """SIGTERM and a bounded wait; returns the exit status."""
        if not self.stopped:
            self.stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError(f"modpop3d did not stop within {timeout}s of SIGTERM")
        return self.proc.returncode


def _start_daemon(binary, module_dir, workdir, name, core, modules, extra=""):
    port = free_port()
    settings = {
        "module-dir": module_dir,
        "listen": f"127.0.0.1:{port}",
        "log-level": "info",
        "auth-failure-delay": "0",
        # One worker process unless a test asks for more: mailbox_memory's
        # store (deletions, locks) lives in the worker's memory, so tests
        # that reconnect expect to meet the same process.
        "workers": "1",
    }
    if os.getuid() == 0:
        settings["mail-user"] = "nobody"
    settings.update(core)
    conf = workdir / f"{name}.conf"
    text = "".join(f"{k}: {v}\n" for k, v in settings.items() if v is not None)
    text += extra  # more global lines, e.g. further listen: keys
    text += modules.format(uid=SESSION_UID, gid=SESSION_GID)
    conf.write_text(text)
    log = workdir / f"{name}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([binary, "-f", str(conf), "-e"], stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err)
    daemon = Daemon(proc, "127.0.0.1", port, log, conf)
    deadline = time.monotonic() + 15
    while True:
        if "event=ready" in daemon.log_text():
            break
        if proc.poll() is not None:
            raise AssertionError(f"modpop3d exited with {proc.returncode} before it was "
                                 f"ready:\n{text}\n{daemon.log_text()}")
        if time.monotonic() > deadline:
            daemon.terminate()
            raise AssertionError(f"modpop3d not ready within 15s:\n{daemon.log_text()}")
        time.sleep(0.02)
    # The log says ready; the port must answer too. The probe quits and waits
    # for the close, so that it no longer counts against connection limits.
    with socket.create_connection((daemon.host, port), timeout=5) as s:
        s.sendall(b"QUIT\r\n")
        got = b""
        for _ in range(100):
            data = s.recv(4096)
            if not data:
                break
            got += data
        # (with apop: yes the greeting carries a timestamp)
        assert re.fullmatch(rb"\+OK modpop3d ready( <[0-9a-f]+@modpop3d>)?\r\n"
                            rb"\+OK Logging out\r\n", got), got
    return daemon


@pytest.fixture
def start_daemon(binary, test_module_dir, workdir):
    """A factory: start_daemon(core={key: value}, modules=TEXT, extra=TEXT)
    runs a daemon with these core keys (None drops a key), further global
    lines and module sections (formatted with uid and gid). The first listen:
    must serve plaintext (it is probed with QUIT). On teardown every daemon gets SIGTERM and must exit 0
    with no 'level=err' in its log."""
    daemons = []

    def start(core=None, modules=DEFAULT_MODULES, extra=""):
        d = _start_daemon(binary, test_module_dir, workdir, f"modpop3d-{len(daemons)}",
                          core or {}, modules, extra)
        daemons.append(d)
        return d

    yield start
    problems = []
    for d in daemons:
        rc = d.terminate()
        if rc != 0:
            problems.append(f"{d.conf}: exit status {rc}")
        if "level=err" in d.log_text():
            problems.append(f"{d.conf}: 'level=err' in the log")
        if problems:
            problems.append(d.log_text())
    assert not problems, "\n".join(problems)


@pytest.fixture
def daemon(start_daemon):
    """The default daemon: users alice:secret and bob:hunter2, 'temp' answers
    backend-down, three memory messages of four body lines each."""
    return start_daemon()
