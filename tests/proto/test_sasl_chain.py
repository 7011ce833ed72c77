"""Host-owned SASL (CRAM-MD5, SCRAM-SHA-256) against the test auth module:
a backend that is down, a slow backend that must not stall other clients,
the failure delay, and the maildrop opened after the exchange."""
import hmac
import time

from pop3wire import Conn, b64, message_size
from saslclient import challenge as decoded
from saslclient import cram_login as cram
from saslclient import scram_login as scram

TOTAL = message_size(1) + message_size(2) + message_size(3, last=True)
LOGGED_IN = f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n"
AUTH_FAILED = "-ERR [AUTH] Authentication failed\r\n"
# CRAM-MD5 and SCRAM are opt-in (sasl-mechanisms).
ALL_MECHS = {"sasl-mechanisms": "SCRAM-SHA-256-PLUS SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"}
TEMP_FAILED = "-ERR [SYS/TEMP] Authentication is temporarily unavailable, try again later\r\n"


def test_cram_and_scram_with_the_test_module(start_daemon):
    daemon = start_daemon(core=ALL_MECHS)
    with Conn(daemon.host, daemon.port) as c:
        assert cram(c, "alice", "wrong") == AUTH_FAILED
        assert scram(c, "alice", "wrong") == AUTH_FAILED
        assert scram(c, "alice", "secret") == LOGGED_IN
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
        # No second AUTH after login.
        assert c.cmd("AUTH CRAM-MD5").startswith("-ERR")
    with Conn(daemon.host, daemon.port) as c:
        assert cram(c, "bob", "hunter2") == LOGGED_IN
    log = daemon.wait_log("event=login user=bob")
    assert "method=CRAM-MD5" in log and "method=SCRAM-SHA-256" in log
    assert "hunter2" not in log


def test_backend_down_is_a_temporary_failure(start_daemon):
    daemon = start_daemon(core=ALL_MECHS)
    with Conn(daemon.host, daemon.port) as c:
        assert cram(c, "temp", "x") == TEMP_FAILED
        # SCRAM learns it at the lookup after the client-first message.
        assert c.cmd("AUTH SCRAM-SHA-256 " + b64("n,,n=temp,r=abc")) == TEMP_FAILED
        assert cram(c, "alice", "secret") == LOGGED_IN


def test_slow_lookup_does_not_stall_other_clients(start_daemon):
    d = start_daemon(core=ALL_MECHS, modules=(
        "[auth_test]\nusers: fast:pw1\nuid: {uid}\ngid: {gid}\n"
        "[auth_test/slow]\npriority: 200\nusers: slow:pw2\ndelay: 3s\nuid: {uid}\ngid: {gid}\n"
        "[mailbox_memory]\n"))
    with Conn(d.host, d.port) as slow:
        chal = decoded(slow.cmd("AUTH CRAM-MD5"))
        slow.send(b64("slow " + hmac.new(b"pw2", chal.encode(), "md5").hexdigest()) + "\r\n")
        time.sleep(0.2)  # let the slow lookup start
        with Conn(d.host, d.port) as fast:
            assert cram(fast, "fast", "pw1") == LOGGED_IN
            assert fast.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
        # fast is done, and slow has not been answered yet.
        assert slow.nothing_pending()
        slow.sock.settimeout(15)
        assert slow.line() == LOGGED_IN.encode()


def test_failure_delay_and_log_line(start_daemon):
    d = start_daemon(core={**ALL_MECHS, "auth-failure-delay": "300ms"})
    with Conn(d.host, d.port) as c:
        assert scram(c, "nobody-here", "x") == AUTH_FAILED
        assert cram(c, "alice", "wrong") == AUTH_FAILED
        assert cram(c, "alice", "secret") == LOGGED_IN
    log = d.wait_log("event=login user=alice")
    assert "event=auth_failed user=nobody-here rip=127.0.0.1 lip=127.0.0.1 " \
           "method=SCRAM-SHA-256" in log
    assert "event=auth_failed user=alice rip=127.0.0.1 lip=127.0.0.1 method=CRAM-MD5" in log
