"""The shipped fail2ban filter against the daemon's own log: Debian's real
fail2ban-regex must find every failed login's client address (IPv4, IPv6,
and clients behind a PROXY-protocol balancer), never a successful login,
and never an address a client wrote into its user name."""
import shutil
import subprocess
from collections import Counter

import pytest

from conftest import SESSION_GID, SESSION_UID, free_port, ipv6_loopback
from e2ehelp import AUTH_FAILED, LOGGED_IN_EMPTY, real_daemon, try_login  # noqa: F401
from pop3wire import Conn

pytestmark = pytest.mark.skipif(shutil.which("fail2ban-regex") is None,
                                reason="fail2ban is not installed (scripts/debian-packages.txt)")


def proxied(host, port, header):
    c = Conn(host, port, greeting=False)
    c.send(header)
    assert c.line() == b"+OK modpop3d ready\r\n"
    return c


def test_filter_matches_every_failure_and_no_success(real_daemon, workdir, source_root):
    users = workdir / "users"
    users.write_text(f"alice:{{PLAIN}}F2b-Pw1:{SESSION_UID}:{SESSION_GID}:/nonexistent:empty:\n")
    proxy_port = free_port()
    listen = f"127.0.0.1:{proxy_port} proxy=yes\n"
    v6 = ipv6_loopback()
    v6_port = free_port()
    d = real_daemon(f"[auth_flatfile]\nfile: {users}\n[mailbox_empty]\n",
                    core={"proxy-trusted-networks": "127.0.0.0/8",
                          "plaintext-trusted-networks": "203.0.113.0/24, 2001:db8::/32",
                          "max-connections-per-ip": "100"},
                    extra=f"listen: {listen}" + (f"listen: [::1]:{v6_port}\n" if v6 else ""))
    expected = Counter()
    # IPv4: two failures (wrong password, unknown user), one success.
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wrong") == AUTH_FAILED
        assert try_login(c, "nobody-here", "F2b-Pw1") == AUTH_FAILED
        assert try_login(c, "alice", "F2b-Pw1") == LOGGED_IN_EMPTY
    expected["127.0.0.1"] += 2
    # A user name that tries to plant another address.
    with Conn(d.host, d.port) as c:
        assert c.cmd('USER x rip=198.51.100.66 lip=1') == "+OK Send your password\r\n"
        assert c.cmd("PASS wrong") == AUTH_FAILED
    expected["127.0.0.1"] += 1
    if v6:
        with Conn("::1", v6_port) as c:
            assert try_login(c, "alice", "wrong") == AUTH_FAILED
            assert try_login(c, "alice", "F2b-Pw1") == LOGGED_IN_EMPTY
        expected["::1"] += 1
    # Behind a balancer: the client's address counts, not the balancer's.
    with proxied(d.host, proxy_port, b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 110\r\n") as c:
        assert try_login(c, "alice", "wrong") == AUTH_FAILED
        assert try_login(c, "alice", "F2b-Pw1") == LOGGED_IN_EMPTY
    expected["203.0.113.7"] += 1
    with proxied(d.host, proxy_port, b"PROXY TCP6 2001:db8::42 2001:db8::1 40000 110\r\n") as c:
        assert try_login(c, "alice", "wrong") == AUTH_FAILED
        assert try_login(c, "alice", "wrong-again") == AUTH_FAILED
    expected["2001:db8::42"] += 2
    text = d.wait_log("event=auth_failed user=alice rip=2001:db8::42")
    assert text.count("event=login ") == 3 + (1 if v6 else 0) - 1  # 2001:db8::42 never logged in

    log = workdir / "daemon.log"
    log.write_text(text)
    filt = source_root / "conf.d" / "fail2ban" / "filter.d-modpop3d.conf"
    f2b = workdir / "f2b"
    (f2b / "filter.d").mkdir(parents=True)
    shutil.copy("/etc/fail2ban/filter.d/common.conf", f2b / "filter.d" / "common.conf")
    shutil.copy(filt, f2b / "filter.d" / "modpop3d.conf")
    r = subprocess.run(["fail2ban-regex", "-o", "ip", str(log),
                        str(f2b / "filter.d" / "modpop3d.conf")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    found = Counter(line.strip() for line in r.stdout.splitlines() if line.strip())
    assert found == expected, (found, expected, text)
    assert text.count("event=auth_failed ") == sum(expected.values())
