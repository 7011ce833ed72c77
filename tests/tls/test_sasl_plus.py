"""SCRAM-SHA-256-PLUS over TLS through the real daemon: offered only on
TLS (implicit, or after STLS), tls-unique channel binding on TLS 1.2 (the
binding Python's ssl module can compute), wrong binding data or type, and
the RFC 5802 section 6 rule that a client saying "y" fails where -PLUS is
offered."""
import os
import socket
import ssl
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pop3wire import Conn, message_size  # noqa: E402
from saslclient import scram_login  # noqa: E402
from conftest import free_port  # noqa: E402
from test_tls import certs, client_ctx, stls, tls_core  # noqa: E402,F401 (certs: a fixture)

TOTAL = message_size(1) + message_size(2) + message_size(3, last=True)
LOGGED_IN = f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n"
AUTH_FAILED = "-ERR [AUTH] Authentication failed\r\n"
SASL_TLS = "SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN\r\n"


@pytest.fixture
def tls_daemon(start_daemon, certs):
    """STLS on the main listener, implicit TLS on a second port, and room
    for several failed logins per connection."""
    port = free_port()
    d = start_daemon(core=tls_core(certs, **{"max-auth-failures": "20", "sasl-mechanisms":
                                             "SCRAM-SHA-256-PLUS SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"}),
                     extra=f"listen: 127.0.0.1:{port} tls=implicit\n")
    d.implicit_port = port
    return d


def implicit(d, maximum=None):
    ctx = client_ctx()
    if maximum:
        ctx.maximum_version = maximum
    raw = socket.create_connection((d.host, d.implicit_port), timeout=10)
    c = Conn.__new__(Conn)
    c.sock, c.buf = ctx.wrap_socket(raw), b""
    assert c.line().startswith(b"+OK")
    return c


def test_plus_offered_only_with_tls(tls_daemon):
    d = tls_daemon
    with Conn(d.host, d.port) as c:
        capa = c.multi("CAPA").decode()
        assert "SASL SCRAM-SHA-256 CRAM-MD5" in capa and "PLUS" not in capa
        assert c.cmd("AUTH SCRAM-SHA-256-PLUS") == \
            "-ERR Unsupported authentication mechanism\r\n"
        stls(c)
        assert SASL_TLS in c.multi("CAPA").decode()
        assert scram_login(c, "alice", "secret", gs2="n,,") == LOGGED_IN
    c = implicit(d)
    try:
        assert SASL_TLS in c.multi("CAPA").decode()
        assert c.multi("AUTH").decode().startswith(
            "+OK Supported mechanisms follow\r\nSCRAM-SHA-256-PLUS\r\n")
    finally:
        c.close()


def test_plus_with_tls_unique_on_tls12(tls_daemon):
    c = implicit(tls_daemon, maximum=ssl.TLSVersion.TLSv1_2)
    try:
        assert c.sock.version() == "TLSv1.2"
        cb = c.sock.get_channel_binding("tls-unique")
        assert cb
        gs2 = "p=tls-unique,,"
        # Wrong data, then another binding type: refused.
        assert scram_login(c, "alice", "secret", gs2=gs2, cbind=b"\0" * len(cb),
                           mechanism="SCRAM-SHA-256-PLUS") == AUTH_FAILED
        assert scram_login(c, "alice", "secret", gs2="p=tls-exporter,,", cbind=cb,
                           mechanism="SCRAM-SHA-256-PLUS") == AUTH_FAILED
        # -PLUS without a binding flag, and "y" (a downgrade) where -PLUS is offered.
        assert scram_login(c, "alice", "secret", gs2="n,,",
                           mechanism="SCRAM-SHA-256-PLUS") == AUTH_FAILED
        assert scram_login(c, "alice", "secret", gs2="y,,") == AUTH_FAILED
        # Wrong password with the right binding.
        assert scram_login(c, "alice", "wrong", gs2=gs2, cbind=cb,
                           mechanism="SCRAM-SHA-256-PLUS") == AUTH_FAILED
        assert scram_login(c, "alice", "secret", gs2=gs2, cbind=cb,
                           mechanism="SCRAM-SHA-256-PLUS") == LOGGED_IN
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
        assert c.cmd("QUIT").startswith("+OK")
    finally:
        c.close()
    log = tls_daemon.wait_log("event=login user=alice")
    assert "method=SCRAM-SHA-256-PLUS" in log


def test_tls13_binding_is_tls_exporter(tls_daemon):
    # Python cannot export keying material, but it can check that the server
    # wants tls-exporter on TLS 1.3 and refuses tls-unique there.
    c = implicit(tls_daemon)
    try:
        assert c.sock.version() == "TLSv1.3"
        assert scram_login(c, "alice", "secret", gs2="p=tls-unique,,", cbind=b"x" * 12,
                           mechanism="SCRAM-SHA-256-PLUS") == AUTH_FAILED
        assert scram_login(c, "alice", "secret", gs2="y,,") == AUTH_FAILED
        assert scram_login(c, "alice", "secret") == LOGGED_IN
    finally:
        c.close()
