"""Login: USER/PASS, SASL PLAIN and LOGIN, failures, CAPA, locks, the log."""
import threading
import time

from pop3wire import Conn, b64, login_retrying, message_size

TOTAL = message_size(1) + message_size(2) + message_size(3, last=True)
LOGGED_IN = f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n"
AUTH_FAILED = "-ERR [AUTH] Authentication failed\r\n"

CAPA_BEFORE = (b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n"
               b"SASL PLAIN LOGIN\r\n"
               b"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n.\r\n")
CAPA_AFTER = CAPA_BEFORE[:-3] + b"IMPLEMENTATION modpop3d\r\n.\r\n"


def test_capa_before_and_after_login(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.multi("CAPA") == CAPA_BEFORE
        c.login()
        assert c.multi("CAPA") == CAPA_AFTER


def test_capa_implementation_text_is_configurable(start_daemon):
    d = start_daemon(core={"implementation": "ExampleMail"})
    with Conn(d.host, d.port) as c:
        assert c.multi("CAPA") == CAPA_BEFORE
        c.login()
        assert c.multi("CAPA") == CAPA_BEFORE[:-3] + b"IMPLEMENTATION ExampleMail\r\n.\r\n"


def test_unknown_user_and_wrong_password_look_the_same(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("USER nosuchuser") == "+OK Send your password\r\n"
        unknown = c.cmd("PASS secret")
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        wrong = c.cmd("PASS Secret")
        assert unknown == wrong == AUTH_FAILED
        # Same for SASL PLAIN.
        assert c.cmd("AUTH PLAIN " + b64("\0nosuchuser\0secret")) == AUTH_FAILED
    # A new connection: the third failure above closed the first one.
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("AUTH PLAIN " + b64("\0alice\0wrong")) == AUTH_FAILED
        # An authorization identity other than the user is refused the same way.
        assert c.cmd("AUTH PLAIN " + b64("bob\0alice\0secret")) == AUTH_FAILED
        assert c.cmd("AUTH PLAIN " + b64("alice\0alice\0secret")) == LOGGED_IN


def test_temporary_backend_failure(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("USER temp") == "+OK Send your password\r\n"
        assert c.cmd("PASS whatever") == \
            "-ERR [SYS/TEMP] Authentication is temporarily unavailable, try again later\r\n"
        # Not a credential failure: the session goes on and can log in.
        assert c.login() == LOGGED_IN
    log = daemon.wait_log("event=logout")
    assert "event=auth_failed" not in log


def test_second_login_to_the_same_maildrop_is_in_use(daemon):
    with Conn(daemon.host, daemon.port) as first:
        first.login()
        assert first.cmd("DELE 1") == "+OK Message deleted\r\n"
        with Conn(daemon.host, daemon.port) as second:
            assert second.cmd("USER alice") == "+OK Send your password\r\n"
            assert second.cmd("PASS secret") == \
                "-ERR [IN-USE] The maildrop is locked by another session\r\n"
            # Another user is not affected.
            assert second.login("bob", "hunter2") == LOGGED_IN
            assert second.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
        assert first.cmd("STAT") == f"+OK 2 {TOTAL - message_size(1)}\r\n"
        assert first.cmd("QUIT") == "+OK Logging out (2 messages left)\r\n"


def test_max_bad_commands_closes(start_daemon):
    d = start_daemon(core={"max-bad-commands": 3})
    with Conn(d.host, d.port) as c:
        assert c.cmd("FOO") == "-ERR Unknown command\r\n"
        assert c.cmd("STAT") == "-ERR Not logged in\r\n"
        c.send("BAR\r\nNOOP\r\n")
        assert c.rest() == b"-ERR Unknown command\r\n"
    d.wait_log("event=ready")


def test_max_bad_commands_counts_in_transaction_too(start_daemon):
    d = start_daemon(core={"max-bad-commands": 2})
    with Conn(d.host, d.port) as c:
        c.login()
        assert c.cmd("LIST x") == "-ERR Invalid message number\r\n"
        c.send("FOO\r\nNOOP\r\n")
        assert c.rest() == b"-ERR Unknown command\r\n"
    log = d.wait_log("event=logout")
    assert "reason=bad_commands" in log


def test_max_auth_failures_closes(start_daemon):
    d = start_daemon(core={"max-auth-failures": 2})
    with Conn(d.host, d.port) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS one") == AUTH_FAILED
        c.send("USER alice\r\nPASS two\r\nUSER alice\r\n")
        assert c.rest() == b"+OK Send your password\r\n" + AUTH_FAILED.encode()
    log = d.wait_log("user=alice", timeout=5)
    assert sum(1 for l in log.splitlines() if "event=auth_failed" in l) == 2


def test_auth_plain_with_initial_response(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("AUTH PLAIN " + b64("\0alice\0secret")) == LOGGED_IN
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
    assert "method=PLAIN" in daemon.wait_log("event=logout")


def test_auth_plain_without_initial_response(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("AUTH PLAIN") == "+ \r\n"
        assert c.cmd(b64("\0alice\0secret")) == LOGGED_IN


def test_auth_plain_empty_initial_response(daemon):
    with Conn(daemon.host, daemon.port) as c:
        # "=" is an empty initial response (RFC 5034): no NULs, so invalid.
        assert c.cmd("AUTH PLAIN =") == "-ERR Invalid PLAIN response\r\n"
        assert c.cmd("auth plain") == "+ \r\n"
        assert c.cmd(b64("alice secret")) == "-ERR Invalid PLAIN response\r\n"
        assert c.login() == LOGGED_IN


def test_auth_login(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6\r\n"  # "Username:"
        assert c.cmd(b64("bob")) == "+ UGFzc3dvcmQ6\r\n"  # "Password:"
        assert c.cmd(b64("hunter2")) == LOGGED_IN
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
    assert "user=bob rip=127.0.0.1 lip=127.0.0.1 tls=0 method=LOGIN " in \
        daemon.wait_log("event=logout")


def test_auth_login_with_initial_response_and_wrong_password(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("AUTH LOGIN " + b64("bob")) == "+ UGFzc3dvcmQ6\r\n"
        assert c.cmd(b64("wrong")) == AUTH_FAILED
        assert c.cmd("NOOP") == "-ERR Not logged in\r\n"


def test_auth_cancel_and_bad_base64(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("AUTH PLAIN") == "+ \r\n"
        assert c.cmd("*") == "-ERR Authentication cancelled\r\n"
        assert c.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6\r\n"
        assert c.cmd(b64("alice")) == "+ UGFzc3dvcmQ6\r\n"
        assert c.cmd("*") == "-ERR Authentication cancelled\r\n"
        assert c.cmd("AUTH PLAIN") == "+ \r\n"
        assert c.cmd("not base64!") == "-ERR Invalid base64 data\r\n"
        assert c.cmd("AUTH PLAIN %%%") == "-ERR Invalid base64 data\r\n"
        assert c.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6\r\n"
        assert c.cmd("YWxpY2U") == "-ERR Invalid base64 data\r\n"  # bad padding
        # None of this was a failed login, and the session still works.
        assert c.cmd("AUTH PLAIN " + b64("\0alice\0secret")) == LOGGED_IN


def test_bare_auth_lists_mechanisms(daemon, start_daemon):
    with Conn(daemon.host, daemon.port) as c:
        # The default: PLAIN and LOGIN only (CRAM-MD5 and SCRAM are opt-in).
        assert c.multi("AUTH") == b"+OK Supported mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n"
        assert c.cmd("AUTH CRAM-MD5") == "-ERR Unsupported authentication mechanism\r\n"
    d = start_daemon(core={"sasl-mechanisms": "scram-sha-256-plus, SCRAM-SHA-256 CRAM-MD5 PLAIN"})
    with Conn(d.host, d.port) as c:
        # auth_test can hand out secrets: CRAM-MD5 and SCRAM are offered (no
        # -PLUS without TLS); LOGIN was left out.
        assert c.multi("AUTH") == (b"+OK Supported mechanisms follow\r\nSCRAM-SHA-256\r\n"
                                   b"CRAM-MD5\r\nPLAIN\r\n.\r\n")
        assert c.cmd("AUTH LOGIN") == "-ERR Unsupported authentication mechanism\r\n"
        assert c.cmd("AUTH SCRAM-SHA-256-PLUS") == "-ERR Unsupported authentication mechanism\r\n"
        assert c.cmd("AUTH DIGEST-MD5") == "-ERR Unsupported authentication mechanism\r\n"


def test_log_lines_per_session_and_no_password(daemon):
    password_alice, password_bob = "secret", "hunter2"
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS not-the-Pa55word") == AUTH_FAILED
        assert c.cmd("AUTH PLAIN " + b64("\0nobody-here\0Wr0ngPlain")) == AUTH_FAILED
        c.login()
        c.multi("RETR 2")
        assert c.cmd("DELE 2") == "+OK Message deleted\r\n"
        assert c.cmd("DELE 3") == "+OK Message deleted\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (1 message left)\r\n"
    with Conn(daemon.host, daemon.port) as c:
        assert c.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6\r\n"
        assert c.cmd(b64("bob")) == "+ UGFzc3dvcmQ6\r\n"
        assert c.cmd(b64(password_bob)) == LOGGED_IN
        c.close()
    log = daemon.wait_log("event=logout user=bob")
    lines = log.splitlines()
    logins = [l for l in lines if "event=login " in l]
    logouts = [l for l in lines if "event=logout " in l]
    failed = [l for l in lines if "event=auth_failed " in l]
    assert len(logins) == 2 and len(logouts) == 2 and len(failed) == 2, log
    assert logins[0].endswith(f"level=info event=login user=alice rip=127.0.0.1 lip=127.0.0.1 "
                              f"tls=0 method=USER messages=3 octets={TOTAL} "
                              f"mailbox=memory:alice")
    s2, s3 = message_size(2), message_size(3, last=True)
    assert (f"level=info event=logout user=alice rip=127.0.0.1 lip=127.0.0.1 tls=0 method=USER "
            f"reason=quit retrieved=1 "
            f"retrieved_octets={s2} deleted=2 deleted_octets={s2 + s3} expired=0 duration_ms=") in logouts[0]
    assert ("event=logout user=bob rip=127.0.0.1 lip=127.0.0.1 tls=0 method=LOGIN "
            "reason=disconnected retrieved=0 "
            "retrieved_octets=0 deleted=0 deleted_octets=0 ") in logouts[1]
    assert "event=auth_failed user=alice rip=127.0.0.1 lip=127.0.0.1 method=USER" in failed[0]
    assert "event=auth_failed user=nobody-here rip=127.0.0.1 lip=127.0.0.1 method=PLAIN" \
        in failed[1]
    for secret in (password_alice, password_bob, "not-the-Pa55word", "Wr0ngPlain",
                   b64(password_bob), b64("\0nobody-here\0Wr0ngPlain")):
        assert secret not in log, secret


def test_slow_backend_does_not_stall_other_logins(start_daemon):
    """The thread pool: while 'slow' waits 3 s for its backend, 'fast' logs in,
    reads a message and quits."""
    d = start_daemon(modules=(
        "[auth_test]\nusers: fast:pw1\nuid: {uid}\ngid: {gid}\n"
        "[auth_test/slow]\npriority: 200\nusers: slow:pw2\ndelay: 3s\nuid: {uid}\ngid: {gid}\n"
        "[mailbox_memory]\n"))
    with Conn(d.host, d.port) as slow:
        assert slow.cmd("USER slow") == "+OK Send your password\r\n"
        slow.send("PASS pw2\r\n")
        time.sleep(0.2)  # let the slow lookup start
        with Conn(d.host, d.port) as fast:
            assert fast.login("fast", "pw1") == LOGGED_IN
            assert fast.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
            assert fast.multi("RETR 1").startswith(b"+OK ")
            assert fast.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
            assert fast.closed()
        # fast is done, and slow has not been answered yet.
        assert slow.nothing_pending()
        slow.sock.settimeout(15)
        assert slow.line() == LOGGED_IN.encode()
        assert slow.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
    log = d.wait_log("event=logout user=slow")
    lines = [l for l in log.splitlines() if "event=login " in l or "event=logout " in l]
    assert [l.split(" event=")[1].split(" rip=")[0] for l in lines] == \
        ["login user=fast", "logout user=fast", "login user=slow", "logout user=slow"]


def test_many_concurrent_sessions(daemon):
    """Sessions of different users in parallel threads all complete."""
    errors = []

    def session(user, password):
        try:
            c, reply = login_retrying(daemon.host, daemon.port, user, password)
            with c:
                assert reply == LOGGED_IN
                for n in (1, 2, 3):
                    assert c.multi(f"RETR {n}").startswith(b"+OK ")
                assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=session, args=u)
               for u in [("alice", "secret"), ("bob", "hunter2")] * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_unknown_sasl_mechanism_is_a_config_error(binary, workdir):
    from conftest import run
    conf = workdir / "sasl.conf"
    conf.write_text("listen: 127.0.0.1:1\nsasl-mechanisms: PLAIN DIGEST-MD5\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:2: sasl-mechanisms: unknown mechanism 'DIGEST-MD5'" in r.stderr, r.stderr
