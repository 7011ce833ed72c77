"""auth_other's tpop3d ONLOGIN notification through the real daemon: the
core calls auth_ops.on_login on the instance that accepted a login (after
the credentials and AUTH_OK hooks), so the helper sees method=ONLOGIN for
that user right after his PASS, and nothing for a failed login or with
`onlogin: no`. Uses auth_other's own fixture helper (helper-good), which
records every request in out/requests; root only, as test_other.py."""
import json
import os
import pathlib
import shutil
import time

import pytest

from e2ehelp import AUTH_FAILED, LOGGED_IN_EMPTY, real_daemon, try_login  # noqa: F401
from pop3wire import Conn

FIXTURE = (pathlib.Path(__file__).resolve().parents[2] / "modules" / "auth_other" / "tests" /
           "fixture_helper.py")

pytestmark = pytest.mark.skipif(os.getuid() != 0,
                                reason="the fixture's users map to uid nobody: needs root")


def helper(workdir):
    d = workdir / "h"
    out = d / "out"
    out.mkdir(parents=True)
    os.chmod(d, 0o755)
    os.chmod(out, 0o777)
    prog = d / "helper-good"
    shutil.copyfile(FIXTURE, prog)
    os.chmod(prog, 0o755)
    return prog, out


def requests(out):
    f = out / "requests"
    return [json.loads(l) for l in f.read_text().splitlines()] if f.exists() else []


def wait_methods(out, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    got = []
    while time.monotonic() < deadline:
        got = [r["method"] for r in requests(out)]
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"helper saw {got}, expected {want}")


@pytest.mark.parametrize("onlogin", ["yes", "no"])
def test_onlogin_after_a_successful_login_only(workdir, real_daemon, onlogin):
    prog, out = helper(workdir)
    d = real_daemon(f"[auth_other]\nprogram: {prog}\ntimeout: 5s\nmailbox: empty:\n"
                    f"onlogin: {onlogin}\n[mailbox_empty]\n")
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "nope") == AUTH_FAILED
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wonderland") == LOGGED_IN_EMPTY
    if onlogin == "no":
        wait_methods(out, ["PASS", "PASS"])
        time.sleep(0.3)  # nothing more arrives
        assert [r["method"] for r in requests(out)] == ["PASS", "PASS"]
        return
    wait_methods(out, ["PASS", "PASS", "ONLOGIN"])
    onlogin_req = requests(out)[-1]
    assert onlogin_req["user"] == "alice"
    assert onlogin_req["clienthost"] == "127.0.0.1"
    assert "pass" not in onlogin_req
