"""PROXY protocol v1 and v2 on proxy=yes listeners: the client's address
comes from the header, only trusted balancers may send one, the header is
required there and never looked for elsewhere."""
import socket
import struct

import pytest

from conftest import free_port, run
from pop3wire import Conn

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_ipv4(src, dst, sport, dport, command=0x21):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return SIG + bytes([command, 0x11]) + struct.pack("!H", len(body)) + body


def v2_ipv6(src, dst, sport, dport):
    body = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
            struct.pack("!HH", sport, dport))
    return SIG + bytes([0x21, 0x21]) + struct.pack("!H", len(body)) + body


@pytest.fixture
def proxied(start_daemon):
    def start(trusted="127.0.0.0/8", **core):
        port = free_port()
        # Clients behind the proxy are not loopback: the test ranges are
        # trusted for plaintext logins, 192.0.2.0/24 is not.
        nets = "203.0.113.0/24, 198.51.100.0/24, 2001:db8::/32"
        d = start_daemon(core={"proxy-trusted-networks": trusted,
                               "plaintext-trusted-networks": nets, **core},
                         extra=f"listen: 127.0.0.1:{port} proxy=yes\n")
        d.proxy_port = port
        return d
    return start


def raw(d):
    return Conn(d.host, d.proxy_port, greeting=False)


def login_lines(d):
    return [l for l in d.log_lines("login")]


def test_v1_header_gives_the_client_address(proxied):
    d = proxied()
    with raw(d) as c:
        c.send(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 110\r\n")
        assert c.line() == b"+OK modpop3d ready\r\n"
        c.login()
        assert c.cmd("QUIT").startswith("+OK")
    line = d.wait_log("event=login")
    assert " rip=203.0.113.7 lip=192.0.2.1 " in login_lines(d)[-1], line


def test_v2_header_ipv4_and_ipv6(proxied):
    d = proxied()
    with raw(d) as c:
        c.send(v2_ipv4("198.51.100.9", "192.0.2.1", 1234, 110))
        assert c.line() == b"+OK modpop3d ready\r\n"
        c.login()
        c.cmd("QUIT")
    with raw(d) as c:
        c.send(v2_ipv6("2001:db8::42", "2001:db8::1", 1234, 110))
        assert c.line() == b"+OK modpop3d ready\r\n"
        c.login()
        c.cmd("QUIT")
    lines = login_lines(d)
    assert " rip=198.51.100.9 " in lines[-2] and " rip=2001:db8::42 " in lines[-1], lines


def test_header_and_commands_in_one_segment(proxied):
    d = proxied()
    with raw(d) as c:
        c.send(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 110\r\nUSER alice\r\nPASS secret\r\n")
        assert c.line() == b"+OK modpop3d ready\r\n"
        assert c.line() == b"+OK Send your password\r\n"
        assert c.line().startswith(b"+OK Logged in")


@pytest.mark.parametrize("header", [SIG + bytes([0x20, 0x00, 0, 0]), b"PROXY UNKNOWN\r\n",
                                    b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n"])
def test_local_and_unknown_keep_the_real_peer_but_never_count_as_loopback(proxied, header):
    """v2 LOCAL and v1 UNKNOWN name no client: the connection is the
    balancer's own, but whoever sent it through the balancer must not pass
    for a loopback client (plaintext logins stay refused without TLS)."""
    d = proxied()
    with raw(d) as c:
        c.send(header)
        assert c.line() == b"+OK modpop3d ready\r\n"
        reply = c.cmd("USER alice")
        assert reply.startswith("-ERR") and "TLS" in reply, reply
    d2 = proxied(trusted="127.0.0.0/8", **{"plaintext-trusted-networks": "127.0.0.1/32"})
    with raw(d2) as c:  # the balancer's own address, trusted by name, may
        c.send(header)
        assert c.line() == b"+OK modpop3d ready\r\n"
        c.login()
        c.cmd("QUIT")
    assert " rip=127.0.0.1 " in login_lines(d2)[-1]


def test_plaintext_policy_applies_to_the_real_client(proxied):
    """A client outside loopback and plaintext-trusted-networks must use
    TLS: USER is neither offered nor accepted."""
    d = proxied()
    with raw(d) as c:
        c.send(b"PROXY TCP4 192.0.2.55 192.0.2.1 40000 110\r\n")
        assert c.line() == b"+OK modpop3d ready\r\n"
        capa = c.multi("CAPA")
        assert b"\r\nUSER\r\n" not in capa and b"PLAIN" not in capa, capa
        reply = c.cmd("USER alice")
        assert reply.startswith("-ERR") and "TLS" in reply, reply
        assert c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").startswith("-ERR")
    with raw(d) as c:  # a trusted range may
        c.send(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 110\r\n")
        assert c.line() == b"+OK modpop3d ready\r\n"
        assert b"\r\nUSER\r\n" in c.multi("CAPA")


def test_missing_header_is_refused_not_guessed(proxied):
    d = proxied()
    with raw(d) as c:
        c.send(b"USER alice\r\n")
        assert c.rest() == b"", "no greeting without a header"
    d.wait_log("event=proxy_failed rip=127.0.0.1")


def test_untrusted_sender_is_refused(proxied):
    d = proxied(trusted="10.0.0.0/8")
    with raw(d) as c:
        c.send(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 110\r\n")
        assert c.rest() == b""
    d.wait_log("reason=untrusted_proxy")
    assert not login_lines(d)


def test_header_on_a_plain_listener_is_just_a_bad_command(proxied):
    d = proxied()
    with Conn(d.host, d.port) as c:  # the main listener has no proxy=yes
        assert c.cmd("PROXY TCP4 203.0.113.7 192.0.2.1 40000 110").startswith("-ERR")
        c.login()
        c.cmd("QUIT")
    assert " rip=127.0.0.1 " in login_lines(d)[-1]


def test_per_ip_limit_counts_clients_behind_the_proxy(proxied):
    d = proxied(**{"max-connections-per-ip": "2"})
    conns = []
    try:
        for i in range(2):
            c = raw(d)
            c.send(b"PROXY TCP4 203.0.113.7 192.0.2.1 4000%d 110\r\n" % i)
            assert c.line() == b"+OK modpop3d ready\r\n"
            conns.append(c)
        c = raw(d)
        c.send(b"PROXY TCP4 203.0.113.7 192.0.2.1 40009 110\r\n")
        assert c.rest() == b"", "a third connection of one client is refused"
        c.close()
        c = raw(d)  # another client through the same balancer
        c.send(b"PROXY TCP4 203.0.113.8 192.0.2.1 40010 110\r\n")
        assert c.line() == b"+OK modpop3d ready\r\n"
        conns.append(c)
    finally:
        for c in conns:
            c.close()
    d.wait_log("event=refused rip=203.0.113.7 reason=limit_ip")


@pytest.mark.parametrize("junk", [
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
    b"PROXY " + b"9" * 120,
    SIG + bytes([0x21, 0x11, 0, 4]) + b"abcd",
])
def test_malformed_headers_close_the_connection(proxied, junk):
    d = proxied()
    with raw(d) as c:
        c.send(junk)
        assert c.rest() == b""
    d.wait_log("event=proxy_failed")


def test_header_deadline(proxied):
    d = proxied(**{"timeout-preauth": "1s"})
    with raw(d) as c:
        c.send(b"PROXY TCP4 203.0.113.7")  # and then nothing
        assert c.rest(timeout=15) == b""
    d.wait_log('why="no header in time"')


def test_proxy_without_trusted_networks_is_a_config_error(binary, workdir):
    conf = workdir / "proxy.conf"
    conf.write_text("log-level: info\nlisten: 127.0.0.1:1 proxy=yes\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:2: listen: 127.0.0.1:1 has proxy=yes but proxy-trusted-networks" in r.stderr
