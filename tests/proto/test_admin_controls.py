"""Controls operators of the seed systems had: per-listener client ranges
(allow=, deny=), a hard cap on session length (max-session-time), and the
syslog facility (log-facility)."""
import time

import pytest

from conftest import free_port, run
from pop3wire import Conn, message_size

TOTAL = message_size(1) + message_size(2) + message_size(3, last=True)
LOGGED_IN = f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n"
DENIED = b"-ERR [SYS/PERM] Not allowed from your address\r\n"


def extra_listener(start_daemon, options, **core):
    port = free_port()
    d = start_daemon(core=core, extra=f"listen: 127.0.0.1:{port} {options}\n")
    return d, port


@pytest.mark.parametrize("options,admitted", [
    ("deny=127.0.0.0/8", False),
    ("allow=10.0.0.0/8,2001:db8::/32", False),
    ("allow=127.0.0.1", True),
    ("allow=127.0.0.0/8 deny=127.0.0.1", False),
    ("allow=127.0.0.0/8 deny=127.0.0.2", True),
])
def test_listener_allow_and_deny(start_daemon, options, admitted):
    d, port = extra_listener(start_daemon, options)
    with Conn(d.host, port, greeting=False) as c:
        if admitted:
            assert c.line() == b"+OK modpop3d ready\r\n"
            c.login()
        else:
            assert c.rest() == DENIED
    if not admitted:
        d.wait_log("event=refused rip=127.0.0.1 reason=listener_deny")
    with Conn(d.host, d.port) as c:  # the other listener is not affected
        c.login()


def test_proxy_listener_checks_the_client_behind_the_balancer(start_daemon):
    d, port = extra_listener(start_daemon, "proxy=yes allow=203.0.113.0/24",
                             **{"proxy-trusted-networks": "127.0.0.0/8",
                                "plaintext-trusted-networks": "203.0.113.0/24"})
    with Conn(d.host, port, greeting=False) as c:
        c.send(b"PROXY TCP4 198.51.100.1 192.0.2.1 40000 110\r\n")
        assert c.rest() == b""
    d.wait_log("event=refused rip=198.51.100.1 reason=listener_deny")
    with Conn(d.host, port, greeting=False) as c:
        c.send(b"PROXY TCP4 203.0.113.5 192.0.2.1 40000 110\r\n")
        assert c.line() == b"+OK modpop3d ready\r\n"
        c.login()


def test_bad_range_names_file_and_line(binary, workdir):
    conf = workdir / "bad.conf"
    conf.write_text("# x\nlisten: 127.0.0.1:1 allow=10.0.0.0/33\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:2:" in r.stderr and "allow=10.0.0.0/33" in r.stderr, r.stderr


def test_max_session_time_closes_a_busy_session_and_deletes_nothing(start_daemon):
    d = start_daemon(core={"max-session-time": "2s"})
    with Conn(d.host, d.port) as c:
        assert c.login() == LOGGED_IN
        assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
        closed = False
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # busy all along: NOOP every 0.2 s
            try:
                c.send("NOOP\r\n")
                if c.line() != b"+OK\r\n":
                    break
            except (OSError, EOFError):
                closed = True
                break
            time.sleep(0.2)
        assert closed, "still open after 15 s with max-session-time: 2s"
    d.wait_log("event=session_time_limit user=alice")
    assert "reason=session_time_limit" in d.log_text()
    with Conn(d.host, d.port) as c:
        assert c.login() == LOGGED_IN, "the DELE of the cut session was not committed"


@pytest.mark.parametrize("facility,ok", [("local3", True), ("authpriv", True),
                                         ("kernel", False)])
def test_log_facility_is_checked(binary, workdir, facility, ok):
    conf = workdir / "f.conf"
    conf.write_text(f"listen: 127.0.0.1:1\nlog-facility: {facility}\n")
    r = run(binary, "-t", "-f", str(conf))
    assert (r.returncode == 0) == ok, r.stderr
    if not ok:
        assert f"{conf}:2:" in r.stderr and "local7" in r.stderr, r.stderr
