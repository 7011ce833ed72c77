"""APOP through the real daemon: the greeting's timestamp is random (no
worker pid or clock a client could learn), different per connection, and
a digest over it logs in."""
import hashlib
import re

from e2ehelp import LOGGED_IN_EMPTY, SESSION_GID, SESSION_UID, real_daemon  # noqa: F401
from pop3wire import Conn
from procs import children


def test_apop_timestamps_are_random_and_a_digest_logs_in(real_daemon, workdir):
    users = workdir / "users"
    users.write_text(f"alice:{{PLAIN}}Apop-Pw1:{SESSION_UID}:{SESSION_GID}:/nonexistent:empty:\n")
    d = real_daemon(f"[auth_flatfile]\nfile: {users}\n[mailbox_empty]\n", core={"apop": "yes"})
    (worker,) = children(d.proc.pid)
    stamps = []
    for _ in range(3):
        with Conn(d.host, d.port, greeting=False) as c:
            greeting = c.line().decode()
            # 24 hex digits and nothing else: no room for the worker's pid
            # or a clock (RFC 1939's example <pid.clock@host> leaks both).
            m = re.fullmatch(r"\+OK modpop3d ready (<[0-9a-f]{24}@modpop3d>)\r\n", greeting)
            assert m, greeting
            assert not m.group(1).startswith(f"<{worker}.")
            stamps.append(m.group(1))
            digest = hashlib.md5((m.group(1) + "Apop-Pw1").encode()).hexdigest()
            assert c.cmd(f"APOP alice {digest}") == LOGGED_IN_EMPTY
            assert c.cmd("QUIT").startswith("+OK")
    assert len(set(stamps)) == 3
