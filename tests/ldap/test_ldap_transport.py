"""How auth_ldap reaches slapd: StartTLS and ldaps:// verified against the
test CA (a wrong CA is refused), ldapi://, failover to the next URI, an
outage answered with [SYS/TEMP] and the recovery without a restart, and a
server that accepts connections but never answers."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from e2ehelp import AUTH_FAILED, LOGGED_IN_EMPTY, TEMP_FAILED, try_login
from conftest import free_port
from pop3wire import Conn
from slapd import PASSWORDS as PW


def login_ok(d, user="alice"):
    with Conn(d.host, d.port) as c:
        return try_login(c, user, PW[user])


def test_starttls_with_the_test_ca(real_daemon, ldap_section, live_slapd):
    d = real_daemon(ldap_section(starttls="yes", tls_ca_file=live_slapd.ca))
    assert login_ok(d) == LOGGED_IN_EMPTY
    assert login_ok(d, "bob") == LOGGED_IN_EMPTY


def test_ldaps_with_the_test_ca(real_daemon, ldap_section, live_slapd):
    d = real_daemon(ldap_section(uri=live_slapd.ldaps_uri, tls_ca_file=live_slapd.ca))
    assert login_ok(d) == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wrong") == AUTH_FAILED


@pytest.mark.parametrize("how", ["starttls", "ldaps"])
def test_a_certificate_from_another_ca_is_refused(real_daemon, ldap_section, live_slapd, how):
    keys = {"tls_ca_file": live_slapd.wrong_ca}
    if how == "starttls":
        keys["starttls"] = "yes"
    else:
        keys["uri"] = live_slapd.ldaps_uri
    d = real_daemon(ldap_section(**keys), allow_err=True)
    assert login_ok(d) == TEMP_FAILED
    log = d.wait_log("event=ldap_unavailable")
    assert "event=ldap_server_failed" in log
    assert "event=login " not in log


def test_ldapi(real_daemon, ldap_section, live_slapd):
    d = real_daemon(ldap_section(uri=live_slapd.ldapi_uri))
    assert login_ok(d) == LOGGED_IN_EMPTY


def test_failover_to_the_next_uri(real_daemon, ldap_section, live_slapd):
    dead = f"ldap://127.0.0.1:{free_port()}"
    d = real_daemon(ldap_section(uri=f"{dead} {live_slapd.ldap_uri}"))
    assert login_ok(d) == LOGGED_IN_EMPTY
    assert login_ok(d, "carol") == LOGGED_IN_EMPTY
    line = next(l for l in d.log_text().splitlines() if "event=ldap_server_failed" in l)
    assert dead in line, line


def test_outage_is_temp_and_logins_resume_without_restart(real_daemon, ldap_section,
                                                          live_slapd):
    d = real_daemon(ldap_section(reconnect_max_backoff="1s"), allow_err=True)
    # Logins at once, so that the pools hold several connections, which the
    # restart below breaks; the module must replace them all, not one per
    # failed login.
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda u: login_ok(d, u), ["alice", "bob", "carol", "dave"])) == \
            [LOGGED_IN_EMPTY] * 4
    live_slapd.stop()
    try:
        for user in ("alice", "bob", "nosuchuser"):
            with Conn(d.host, d.port) as c:
                assert try_login(c, user, PW.get(user, "x")) == TEMP_FAILED, user
    finally:
        live_slapd.start()
    # Bounded: the back-off is at most 1 s, so a few tries suffice.
    replies = []
    for _ in range(40):
        replies.append(login_ok(d))
        if replies[-1] == LOGGED_IN_EMPTY:
            break
        assert replies[-1] == TEMP_FAILED, replies
        time.sleep(0.25)
    assert replies[-1] == LOGGED_IN_EMPTY, replies
    for user in ("bob", "carol", "dave", "alice"):
        assert login_ok(d, user) == LOGGED_IN_EMPTY, user
    log = d.log_text()
    assert "event=ldap_unavailable" in log and "event=ldap_server_recovered" in log, log
    assert d.proc.poll() is None


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte: an LDAP
    server that hangs. Holds the connections until closed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.held, self.done = [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def close(self):
        self.done.set()
        self.thread.join(timeout=5)
        for c in self.held:
            c.close()
        self.sock.close()


def test_a_server_that_never_answers_times_out_while_others_log_in(real_daemon, ldap_section):
    silent = SilentServer()
    try:
        # The directory answers alice; "ghost" is unknown there and goes on
        # to the hanging server, whose search times out after 4 s.
        modules = (ldap_section(name="auth_ldap/dir", mailbox_section=False, priority="10") +
                   ldap_section(name="auth_ldap/hung", priority="20",
                                uri=f"ldap://127.0.0.1:{silent.port}", bind_dn=None,
                                bind_password_file=None, search_timeout="4s",
                                network_timeout="1s"))
        d = real_daemon(modules, core={"auth-threads": "4"}, allow_err=True)
        events = []
        lock = threading.Lock()

        def ghost():
            reply = login_ok_user(d, "ghost", "whatever")
            with lock:
                events.append(("ghost", reply))

        t = threading.Thread(target=ghost)
        t.start()
        # Once the ghost's search is waiting on the hung server (bounded
        # wait), alice logs in, again and again.
        deadline = time.monotonic() + 10
        while not silent.held and time.monotonic() < deadline:
            time.sleep(0.02)
        assert silent.held, "the hung server was never asked"
        for _ in range(5):
            reply = login_ok(d)
            with lock:
                events.append(("alice", reply))
        t.join(timeout=30)
        assert not t.is_alive()
        assert [e for e in events if e[0] == "alice"] == [("alice", LOGGED_IN_EMPTY)] * 5
        assert ("ghost", TEMP_FAILED) in events
        # Every alice login finished before the ghost got its answer.
        assert events[-1] == ("ghost", TEMP_FAILED), events
        log = d.log_text()
        assert "timeout" in log and "event=ldap_search_failed" in log, log
        # The hung server is backing off now: the next unknown user gets
        # TEMP at once, still never a wrong-password answer.
        assert login_ok_user(d, "ghost2", "whatever") == TEMP_FAILED
    finally:
        silent.close()


def login_ok_user(d, user, password):
    with Conn(d.host, d.port, timeout=30) as c:
        return try_login(c, user, password)
