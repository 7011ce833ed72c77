"""Connection limits, the pre-login timeout, and stopping on SIGTERM."""
import signal
import time


from pop3wire import Conn, login_retrying, message_size

TOTAL = message_size(1) + message_size(2) + message_size(3, last=True)
LOGGED_IN = f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n"
REFUSED = b"-ERR [SYS/TEMP] Too many connections, try later\r\n"


def greeted_retrying(d, source=None, timeout=10.0):
    """Connect until greeted (bounded): a closed connection's slot is freed
    by the daemon asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        c = Conn(d.host, d.port, source=source, greeting=False)
        first = c.line()
        if first == b"+OK modpop3d ready\r\n":
            return c
        c.close()
        assert first == REFUSED
        assert time.monotonic() < deadline, "the slot was never freed"
        time.sleep(0.05)


def test_max_connections_per_ip(start_daemon):
    d = start_daemon(core={"max-connections-per-ip": 2})
    a = Conn(d.host, d.port)
    b = Conn(d.host, d.port)
    assert a.greeting == b.greeting == b"+OK modpop3d ready\r\n"
    with Conn(d.host, d.port, greeting=False) as third:
        assert third.rest() == REFUSED
    # Another address is not limited by 127.0.0.1's connections.
    with Conn(d.host, d.port, source="127.0.0.2") as other:
        assert other.greeting == b"+OK modpop3d ready\r\n"
    # The refused connection did not disturb the others.
    assert a.login() == LOGGED_IN
    assert b.cmd("NOOP") == "-ERR Not logged in\r\n"
    b.close()
    c = greeted_retrying(d)
    assert c.cmd("QUIT") == "+OK Logging out\r\n"
    a.close()
    c.close()
    assert "event=refused rip=127.0.0.1 reason=limit_ip" in d.wait_log("event=refused")


def test_max_connections(start_daemon):
    d = start_daemon(core={"max-connections": 2, "max-connections-per-ip": 10})
    a = Conn(d.host, d.port)
    b = Conn(d.host, d.port, source="127.0.0.2")
    for source in ("127.0.0.1", "127.0.0.3"):
        with Conn(d.host, d.port, source=source, greeting=False) as third:
            assert third.rest() == REFUSED
    log = d.wait_log("event=refused rip=127.0.0.3")
    assert "event=refused rip=127.0.0.1 reason=limit_total" in log
    assert "event=refused rip=127.0.0.3 reason=limit_total" in log
    assert a.cmd("QUIT") == "+OK Logging out\r\n"
    assert a.closed()
    c = greeted_retrying(d, source="127.0.0.3")
    c.close()
    b.close()


def test_timeout_preauth_closes_an_idle_connection(start_daemon):
    d = start_daemon(core={"timeout-preauth": "1s"})
    with Conn(d.host, d.port) as c:
        # Closed after about 1 s; only a generous upper bound is asserted.
        assert c.rest(timeout=10) == b"-ERR Disconnected for inactivity\r\n"


def test_timeout_preauth_does_not_apply_after_login(start_daemon):
    d = start_daemon(core={"timeout-preauth": "1s"})
    with Conn(d.host, d.port) as c:
        assert c.login() == LOGGED_IN
        time.sleep(2.5)
        assert c.nothing_pending()
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"


def test_sigterm_with_an_idle_daemon_exits_zero(daemon):
    assert daemon.terminate(timeout=15) == 0
    assert "event=stopped" in daemon.log_text()


def test_sigterm_with_an_open_session_deletes_nothing(start_daemon):
    d = start_daemon(core={"shutdown-timeout": "1s"})
    c = Conn(d.host, d.port)
    c.login()
    assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
    assert c.cmd("DELE 2") == "+OK Message deleted\r\n"
    d.proc.send_signal(signal.SIGTERM)
    # The session is closed (by the drain deadline) without a QUIT.
    assert c.rest(timeout=15) == b""
    c.close()
    rc = d.terminate(timeout=15)
    log = d.log_text()
    assert rc == 0
    assert "event=stopping signal=15 sessions=1" in log
    logout = [l for l in log.splitlines() if "event=logout" in l]
    assert len(logout) == 1, log
    assert " reason=shutdown " in logout[0] and " deleted=0 deleted_octets=0 " in logout[0]
    assert log.rstrip().endswith("event=stopped")


def test_new_connections_after_a_refused_burst(start_daemon):
    """A burst over the per-address limit is refused cleanly, and the daemon
    serves normally afterwards."""
    d = start_daemon(core={"max-connections-per-ip": 3})
    conns = [Conn(d.host, d.port, greeting=False) for _ in range(8)]
    firsts = sorted(c.line() for c in conns)
    assert firsts.count(b"+OK modpop3d ready\r\n") == 3
    assert firsts.count(REFUSED) == 5
    for c in conns:
        c.close()
    c, reply = login_retrying(d.host, d.port)
    with c:
        assert reply == LOGGED_IN
