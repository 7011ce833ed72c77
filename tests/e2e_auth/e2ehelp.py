"""Shared pieces of the e2e_auth suite: the real daemon with the installed
(staged) modules, the exact replies, and the password-free-log check.

When the tests run as root the daemon runs as mail-user nobody (uid 65534)
and the module results below name that uid (conftest.SESSION_UID), so that
the fast path serves the maildrop; the maildrop is mailbox_empty's "empty:".
"""
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import SESSION_GID, SESSION_UID, _start_daemon

AUTH_FAILED = "-ERR [AUTH] Authentication failed\r\n"
SEND_PASSWORD = "+OK Send your password\r\n"
LOGGED_IN_EMPTY = "+OK Logged in, 0 messages (0 octets)\r\n"
TEMP_FAILED = "-ERR [SYS/TEMP] Authentication is temporarily unavailable, try again later\r\n"

# Core keys every e2e daemon gets: no failure delay, enough failures per
# connection for the loops below.
CORE = {"auth-failure-delay": "0", "max-auth-failures": "100"}


@pytest.fixture
def real_daemon(binary, staged_module_dir, workdir):
    """start(modules_text, core={}, allow_err=False): a daemon loading the
    installed modules. Teardown: SIGTERM, exit 0, and no 'level=err' in the
    log unless allowed."""
    started = []

    def start(modules, core=None, allow_err=False, extra=""):
        settings = dict(CORE)
        settings.update(core or {})
        d = _start_daemon(binary, staged_module_dir, workdir, f"e2e-{len(started)}", settings,
                          modules, extra)
        started.append((d, allow_err))
        return d

    yield start
    problems = []
    for d, allow_err in started:
        rc = d.terminate()
        if rc != 0:
            problems.append(f"{d.conf}: exit status {rc}")
        if not allow_err and "level=err" in d.log_text():
            problems.append(f"{d.conf}: 'level=err' in the log")
        if problems:
            problems.append(d.log_text())
    assert not problems, "\n".join(problems)


def assert_no_secret(daemon, *secrets):
    log = daemon.log_text()
    for s in secrets:
        assert s not in log, f"password {s!r} in the log:\n{log}"


def try_login(conn, user, password):
    """USER/PASS; returns the PASS reply (the USER reply is asserted)."""
    reply = conn.cmd(f"USER {user}")
    assert reply == SEND_PASSWORD, (user, reply)
    return conn.cmd(f"PASS {password}")


def write_atomically(path, text, mode=0o644):
    """Replace a file the way an admin's tool does: write a temporary file
    and rename it over the old one."""
    path = pathlib.Path(path)
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
