"""POP3 sessions over raw sockets: exact bytes of every reply (RFC 1939, 2449)."""

from pop3wire import Conn, login_retrying, message_size, stuffed_body

S1, S2, S3 = message_size(1), message_size(2), message_size(3, last=True)
TOTAL = S1 + S2 + S3
LOGGED_IN = f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n"


def body(n, top=None):
    return stuffed_body(n, last=(n == 3), top=top)


def test_greeting(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.greeting == b"+OK modpop3d ready\r\n"
        assert c.cmd("QUIT") == "+OK Logging out\r\n"
        assert c.closed()


def test_authorization_state_commands(start_daemon):
    d = start_daemon(core={"max-bad-commands": 100})
    with Conn(d.host, d.port) as c:
        for cmd in ("STAT", "LIST", "LIST 1", "UIDL", "UIDL 1", "RETR 1", "TOP 1 0", "DELE 1",
                    "NOOP", "RSET"):
            assert c.cmd(cmd) == "-ERR Not logged in\r\n", cmd
        assert c.cmd("PASS secret") == "-ERR Send USER first\r\n"
        assert c.cmd("FOO") == "-ERR Unknown command\r\n"
        assert c.cmd("") == "-ERR Empty command\r\n"
        assert c.cmd("USER") == "-ERR Syntax error\r\n"
        assert c.cmd("USER ") == "-ERR Syntax error\r\n"
        assert c.cmd("STAT 1") == "-ERR Syntax error\r\n"
        assert c.cmd("QUIT now") == "-ERR Syntax error\r\n"
        assert c.cmd("APOP alice 0123456789abcdef0123456789abcdef") == \
            "-ERR APOP is not available\r\n"
        assert c.cmd("STLS") == "-ERR STLS is not available\r\n"
        assert c.cmd("AUTH DIGEST-MD5") == "-ERR Unsupported authentication mechanism\r\n"
        c.send(b"NO\0OP\r\n")
        assert c.line() == b"-ERR NUL byte in command\r\n"
        # Keywords are case-insensitive; a USER line keeps spaces in the name.
        assert c.cmd("user alice") == "+OK Send your password\r\n"
        assert c.cmd("pass secret") == LOGGED_IN
        assert c.cmd("quit") == "+OK Logging out (3 messages left)\r\n"
        assert c.closed()


def test_transaction_state_commands(start_daemon):
    d = start_daemon(core={"max-bad-commands": 100})
    with Conn(d.host, d.port) as c:
        assert c.login() == LOGGED_IN
        for cmd in ("USER alice", "PASS secret", "APOP alice 0123456789abcdef0123456789abcdef",
                    "AUTH PLAIN", "AUTH", "STLS"):
            assert c.cmd(cmd) == "-ERR Already logged in\r\n", cmd
        assert c.cmd("NOOP") == "+OK\r\n"
        assert c.cmd("NOOP 1") == "-ERR Syntax error\r\n"
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
        assert c.cmd("STAT 1") == "-ERR Syntax error\r\n"
        assert c.cmd("LIST 1 2") == "-ERR Syntax error\r\n"
        assert c.cmd("RETR") == "-ERR Syntax error\r\n"
        assert c.cmd("RETR 1 2") == "-ERR Syntax error\r\n"
        assert c.cmd("TOP 1") == "-ERR Syntax error\r\n"
        assert c.cmd("TOP 1 x") == "-ERR Invalid line count\r\n"
        assert c.cmd("TOP 9 x") == "-ERR Invalid line count\r\n"
        assert c.cmd("DELE") == "-ERR Syntax error\r\n"
        assert c.cmd("RSET 1") == "-ERR Syntax error\r\n"
        assert c.cmd("UIDL 1 2") == "-ERR Syntax error\r\n"
        for cmd in ("RETR 4", "TOP 4 0", "DELE 4", "LIST 4", "UIDL 4", "RETR 0"):
            assert c.cmd(cmd) == "-ERR No such message\r\n", cmd
        assert c.cmd("XTND XMIT") == "-ERR Unknown command\r\n"
        assert c.multi("UIDL") == (b"+OK Unique-ID listing follows\r\n"
                                   b"1 mem-1\r\n2 mem-2\r\n3 mem-3\r\n.\r\n")
        assert c.cmd("UIDL 2") == "+OK 2 mem-2\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
        assert c.closed()


def test_rfc1939_example_session(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert c.login() == LOGGED_IN
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
        assert c.multi("LIST") == (f"+OK 3 messages ({TOTAL} octets)\r\n"
                                   f"1 {S1}\r\n2 {S2}\r\n3 {S3}\r\n.\r\n").encode()
        assert c.cmd("LIST 2") == f"+OK 2 {S2}\r\n"
        assert c.multi("RETR 1") == f"+OK {S1} octets\r\n".encode() + body(1)
        assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
        assert c.cmd("RETR 1") == "-ERR Message is deleted\r\n"
        assert c.multi("RETR 2") == f"+OK {S2} octets\r\n".encode() + body(2)
        assert c.cmd("DELE 2") == "+OK Message deleted\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (1 message left)\r\n"
        assert c.closed()
    # UPDATE happened: only message 3 is left, renumbered as 1.
    c, reply = login_retrying(daemon.host, daemon.port)
    with c:
        assert reply == f"+OK Logged in, 1 message ({S3} octets)\r\n"
        assert c.cmd("STAT") == f"+OK 1 {S3}\r\n"
        assert c.multi("UIDL") == b"+OK Unique-ID listing follows\r\n1 mem-3\r\n.\r\n"
        assert c.multi("RETR 1") == f"+OK {S3} octets\r\n".encode() + body(3)
        assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
    c, reply = login_retrying(daemon.host, daemon.port)
    with c:
        assert reply == "+OK Logged in, 0 messages (0 octets)\r\n"
        assert c.multi("LIST") == b"+OK 0 messages (0 octets)\r\n.\r\n"
        assert c.cmd("RETR 1") == "-ERR No such message\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"


def test_deleted_messages_vanish_and_rset_restores(daemon):
    with Conn(daemon.host, daemon.port) as c:
        c.login()
        assert c.cmd("DELE 2") == "+OK Message deleted\r\n"
        for cmd in ("RETR 2", "TOP 2 0", "DELE 2", "LIST 2", "UIDL 2"):
            assert c.cmd(cmd) == "-ERR Message is deleted\r\n", cmd
        assert c.cmd("STAT") == f"+OK 2 {S1 + S3}\r\n"
        assert c.multi("LIST") == (f"+OK 2 messages ({S1 + S3} octets)\r\n"
                                   f"1 {S1}\r\n3 {S3}\r\n.\r\n").encode()
        assert c.multi("UIDL") == b"+OK Unique-ID listing follows\r\n1 mem-1\r\n3 mem-3\r\n.\r\n"
        assert c.cmd("LIST 3") == f"+OK 3 {S3}\r\n"
        assert c.cmd("RSET") == f"+OK 3 messages ({TOTAL} octets)\r\n"
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
        assert c.cmd("LIST 2") == f"+OK 2 {S2}\r\n"
        assert c.multi("UIDL") == (b"+OK Unique-ID listing follows\r\n"
                                   b"1 mem-1\r\n2 mem-2\r\n3 mem-3\r\n.\r\n")
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
    # RSET undid the deletion for good: QUIT removed nothing.
    c, reply = login_retrying(daemon.host, daemon.port)
    with c:
        assert reply == LOGGED_IN


def test_dropped_connection_deletes_nothing(daemon):
    c = Conn(daemon.host, daemon.port)
    c.login()
    assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
    assert c.cmd("DELE 3") == "+OK Message deleted\r\n"
    c.close()  # no QUIT
    log = daemon.wait_log("reason=disconnected")
    logout = [l for l in log.splitlines() if "event=logout" in l]
    assert len(logout) == 1 and " deleted=0 " in logout[0], logout
    c, reply = login_retrying(daemon.host, daemon.port)
    with c:
        assert reply == LOGGED_IN
        assert c.multi("UIDL") == (b"+OK Unique-ID listing follows\r\n"
                                   b"1 mem-1\r\n2 mem-2\r\n3 mem-3\r\n.\r\n")


def test_half_closed_connection_answers_then_deletes_nothing(daemon):
    """A client that sends DELE and shuts down its side without QUIT: the
    pending commands are answered, then it is a drop (no UPDATE)."""
    import socket
    c = Conn(daemon.host, daemon.port)
    c.login()
    c.send("DELE 1\r\nNOOP\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    assert c.rest() == b"+OK Message deleted\r\n+OK\r\n"
    c.close()
    c, reply = login_retrying(daemon.host, daemon.port)
    with c:
        assert reply == LOGGED_IN


def test_strict_message_numbers(start_daemon):
    d = start_daemon(core={"max-bad-commands": 100})
    with Conn(d.host, d.port) as c:
        c.login()
        assert c.cmd("LIST 0") == "-ERR No such message\r\n"
        assert c.cmd("LIST 4294967295") == "-ERR No such message\r\n"
        for arg in ("4294967296", "4294967297", "99999999999999999999999", "-1", "+1", "1x",
                    "x", "0x1", "1.0", "\t1"):
            assert c.cmd("LIST " + arg) == "-ERR Invalid message number\r\n", arg
            assert c.cmd("RETR " + arg) == "-ERR Invalid message number\r\n", arg
            assert c.cmd("DELE " + arg) == "-ERR Invalid message number\r\n", arg
        assert c.cmd("LIST  1") == "-ERR Syntax error\r\n"
        assert c.cmd("LIST 1 ") == "-ERR Syntax error\r\n"
        assert c.cmd("TOP 1 -1") == "-ERR Invalid line count\r\n"
        assert c.cmd("TOP 1 4294967296") == "-ERR Invalid line count\r\n"
        # Nothing above deleted anything.
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"


def test_top(daemon):
    with Conn(daemon.host, daemon.port) as c:
        c.login()
        top0 = c.multi("TOP 1 0")
        assert top0 == (b"+OK Top of message follows\r\n"
                        b"From: tester@example.org\r\nSubject: message 1\r\n"
                        b"Message-ID: <1@memory>\r\n\r\n.\r\n")
        assert c.multi("TOP 1 2") == b"+OK Top of message follows\r\n" + body(1, top=2)
        # More lines than the body has: the whole message.
        assert c.multi("TOP 2 1000") == b"+OK Top of message follows\r\n" + body(2)
        assert c.multi("TOP 3 4294967295") == b"+OK Top of message follows\r\n" + body(3)
        assert c.multi("TOP 3 5") == (b"+OK Top of message follows\r\n" + body(3, top=5))
        assert b"..a line starting with a dot\r\n.\r\n" in body(3, top=5)
        # TOP does not count as retrieved, and deletes nothing.
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
    log = daemon.wait_log("event=logout")
    assert " retrieved=0 retrieved_octets=0 deleted=0 " in log


def test_dot_stuffing_and_final_crlf(start_daemon):
    d = start_daemon(modules="[auth_test]\nusers: alice:secret\nuid: {uid}\ngid: {gid}\n"
                             "[mailbox_memory]\ncount: 1\nbody-lines: 0\n")
    expected = (b"+OK 117 octets\r\n"
                b"From: tester@example.org\r\n"
                b"Subject: message 1\r\n"
                b"Message-ID: <1@memory>\r\n"
                b"\r\n"
                b"..a line starting with a dot\r\n"
                b"no final newline\r\n"
                b".\r\n")
    with Conn(d.host, d.port) as c:
        assert c.login() == "+OK Logged in, 1 message (117 octets)\r\n"
        assert c.cmd("LIST 1") == "+OK 1 117\r\n"
        assert c.multi("RETR 1") == expected
        assert c.cmd("QUIT") == "+OK Logging out (1 message left)\r\n"


def test_list_sizes_match_retrieved_octets(start_daemon):
    d = start_daemon(modules="[auth_test]\nusers: alice:secret\nuid: {uid}\ngid: {gid}\n"
                             "[mailbox_memory]\ncount: 5\nbody-lines: 37\n")
    with Conn(d.host, d.port) as c:
        c.login()
        listing = c.multi("LIST").decode().split("\r\n")[1:-2]
        sizes = {int(n): int(s) for n, s in (l.split(" ") for l in listing)}
        assert sorted(sizes) == [1, 2, 3, 4, 5]
        for n, size in sizes.items():
            c.send(f"RETR {n}\r\n")
            assert c.line() == f"+OK {size} octets\r\n".encode()
            wire = c.until_dot()
            lines = wire[:-3].split(b"\r\n")
            assert lines[-1] == b""
            stuffed = sum(1 for l in lines if l.startswith(b".."))
            assert stuffed == 1
            octets = len(wire) - 3 - stuffed
            # The last message has no final newline: the CRLF the server adds
            # before '.' belongs to the terminator, not to the message.
            assert octets - (2 if n == 5 else 0) == size, n
            assert c.cmd(f"LIST {n}") == f"+OK {n} {size}\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (5 messages left)\r\n"


def test_commit_on_early_close_applies_deletions(start_daemon):
    d = start_daemon(core={"commit-on-early-close": "yes"})
    c = Conn(d.host, d.port)
    c.login()
    assert c.cmd("DELE 1") == "+OK Message deleted\r\n"
    c.close()  # no QUIT: tpop3d's behaviour applies the deletion anyway
    c, reply = login_retrying(d.host, d.port, timeout=5)
    with c:
        assert reply == f"+OK Logged in, 2 messages ({S2 + S3} octets)\r\n"
        assert c.multi("UIDL") == b"+OK Unique-ID listing follows\r\n1 mem-2\r\n2 mem-3\r\n.\r\n"
    log = d.wait_log("event=logout")
    assert " reason=disconnected " in log and " deleted=1 " in log
