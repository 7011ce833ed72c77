"""Fixtures of the ldap suite: one slapd for the whole run (session scope,
stopped at the end), the service password file, and the real daemon from
the staged install (e2e_auth's real_daemon)."""
import glob
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

_TESTS = pathlib.Path(__file__).resolve().parent.parent

# This file is imported as "conftest" too, and so shadows tests/conftest.py
# for every later "from conftest import ...": load that file's helpers
# under another name and re-export those the suite and e2ehelp use.
_spec = importlib.util.spec_from_file_location("modpop3d_root_conftest", _TESTS / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
SESSION_UID, SESSION_GID = _root.SESSION_UID, _root.SESSION_GID
_start_daemon, free_port, run = _root._start_daemon, _root.free_port, _root.run

sys.path.insert(0, str(_TESTS / "e2e_auth"))

from e2ehelp import real_daemon  # noqa: E402,F401 (a fixture)
from slapd import SERVICE_DN, SERVICE_PW, Slapd  # noqa: E402


@pytest.fixture(scope="session")
def scram_verifier(stage):
    """erin's {SCRAM-SHA-256} verifier, made by the staged modpop3d-passwd."""
    tool = glob.glob(str(stage) + "/**/bin/modpop3d-passwd", recursive=True)
    assert len(tool) == 1, tool
    from slapd import PASSWORDS
    out = subprocess.run([tool[0], "--stdin", "-s", "scram-sha-256"],
                         input=PASSWORDS["erin"] + "\n", capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out.startswith("{SCRAM-SHA-256}"), out
    return out


@pytest.fixture(scope="session")
def slapd(scram_verifier, staged_module_dir):
    if not os.path.exists(os.path.join(staged_module_dir, "auth_ldap.so")):
        pytest.skip("auth_ldap was not built (-Dauth_ldap=disabled or no libldap)")
    if not os.path.exists("/usr/sbin/slapd"):
        pytest.skip("slapd is not installed (Debian package slapd)")
    server = Slapd(scram_verifier)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def live_slapd(slapd):
    """The session's slapd, restarted first if an earlier test left it
    stopped."""
    if slapd.proc is None or slapd.proc.poll() is not None:
        slapd.proc = None
        slapd.start()
    return slapd


@pytest.fixture(scope="session")
def password_file(slapd):
    """The service DN's password in a file only its owner can read."""
    path = slapd.root / "service.secret"
    path.write_text(SERVICE_PW + "\n")
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def ldap_section(live_slapd, password_file):
    """ldap_section(name='auth_ldap', **keys): an [auth_ldap] section bound as
    the service DN to the session's slapd over ldap://127.0.0.1, users found
    by (uid=$(user)), with mailbox_empty's maildrop. Keys given as None are
    left out; underscores in names become dashes."""
    def make(name="auth_ldap", mailbox_section=True, **keys):
        settings = {
            "uri": live_slapd.ldap_uri,
            "base": "ou=people,dc=example,dc=org",
            "filter": "(uid=$(user))",
            "bind-dn": SERVICE_DN,
            "bind-password-file": str(password_file),
            "mailbox": "empty:",
            "min-uid": "1",
            "search-timeout": "5s",
        }
        settings.update({k.replace("_", "-"): v for k, v in keys.items()})
        text = f"[{name}]\n" + "".join(f"{k}: {v}\n" for k, v in settings.items()
                                       if v is not None)
        return text + ("[mailbox_empty]\n" if mailbox_section else "")
    return make


@pytest.fixture
def apop_daemon(binary, staged_module_dir, workdir):
    """start(modules, core): like real_daemon, with APOP on. tests/conftest's
    starter probes for the greeting without an APOP timestamp, so this one
    waits for event=ready itself. Teardown: SIGTERM, exit 0."""
    started = []

    def start(modules, core=None):
        import time
        port = free_port()
        settings = {"module-dir": staged_module_dir, "listen": f"127.0.0.1:{port}",
                    "log-level": "info", "auth-failure-delay": "0", "workers": "1",
                    "max-auth-failures": "100", "apop": "yes"}
        if os.getuid() == 0:
            settings["mail-user"] = "nobody"
        settings.update(core or {})
        conf = workdir / f"apop-{len(started)}.conf"
        conf.write_text("".join(f"{k}: {v}\n" for k, v in settings.items()) + modules)
        log = workdir / f"apop-{len(started)}.log"
        with open(log, "wb") as err:
            proc = subprocess.Popen([binary, "-f", str(conf), "-e"], stdin=subprocess.DEVNULL,
                                    stdout=err, stderr=err)
        d = _root.Daemon(proc, "127.0.0.1", port, log, conf)
        started.append(d)
        deadline = time.monotonic() + 15
        while "event=ready" not in d.log_text():
            assert proc.poll() is None and time.monotonic() < deadline, d.log_text()
            time.sleep(0.02)
        return d

    yield start
    for d in started:
        assert d.terminate() == 0, d.log_text()
