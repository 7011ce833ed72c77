"""Several listeners with their own options: per-listener domain (login names
without a domain get the listener's), IPv6 beside IPv4, option errors."""

import pytest

from conftest import free_port, ipv6_loopback, run
from pop3wire import Conn

MODULES = ("[auth_test]\nusers: alice@example.org:secret alice@example.net:other\n"
           "uid: {uid}\ngid: {gid}\n[mailbox_memory]\ncount: 1\n")


def test_listener_domain_is_appended_to_bare_names(start_daemon):
    org, net = free_port(), free_port()
    d = start_daemon(modules=MODULES,
                     extra=f"listen: 127.0.0.1:{org} domain=example.org\n"
                           f"listen: 127.0.0.1:{net} domain=example.net\n")
    with Conn(d.host, org) as c:
        c.login("alice", "secret")
    with Conn(d.host, net) as c:
        c.login("alice", "other")
    with Conn(d.host, net) as c:
        c.login("alice@example.org", "secret")  # a full name keeps its own domain
    with Conn(d.host, d.port) as c:  # the main listener has no domain
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS secret").startswith("-ERR [AUTH]")
    users = [l.split(" user=")[1].split(" ")[0] for l in d.log_lines("login")]
    assert users == ["alice@example.org", "alice@example.net", "alice@example.org"]


def test_listener_domain_takes_the_place_of_append_domain(start_daemon):
    org = free_port()
    d = start_daemon(modules=MODULES, core={"append-domain": "example.net"},
                     extra=f"listen: 127.0.0.1:{org} domain=example.org\n")
    with Conn(d.host, org) as c:
        c.login("alice", "secret")
    with Conn(d.host, d.port) as c:
        c.login("alice", "other")


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_and_ipv4_listeners_together(start_daemon):
    port6 = free_port()
    d = start_daemon(extra=f"listen: [::1]:{port6}\n")
    with Conn("::1", port6) as c:
        c.login()
        c.cmd("QUIT")
    assert any(" rip=::1 " in l for l in d.log_lines("login"))


@pytest.mark.parametrize("value,needle", [
    ("127.0.0.1:1 domain=a@b", "domain=a@b: not a domain name"),
    ("127.0.0.1:1 colour=blue", "unknown listener option 'colour'"),
    ("127.0.0.1:1 tls", "'tls' is not a listener option (NAME=VALUE)"),
    ("127.0.0.1:1 certificate=/a.pem", "certificate= and key= go together"),
    ("127.0.0.1:1 tls=none tls-legacy=yes", "has TLS options but tls=none"),
])
def test_bad_listener_options_name_file_and_line(binary, workdir, value, needle):
    conf = workdir / "listen.conf"
    conf.write_text(f"log-level: info\nlisten: {value}\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:2: listen: " in r.stderr and needle in r.stderr, r.stderr
