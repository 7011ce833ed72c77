"""Line framing: the 255-octet limit, pipelining, commands split byte by byte."""
import time


from pop3wire import Conn, message_size, stuffed_body

S1, S2, S3 = message_size(1), message_size(2), message_size(3, last=True)
TOTAL = S1 + S2 + S3


def test_line_limit_is_255_octets_with_crlf(daemon):
    with Conn(daemon.host, daemon.port) as c:
        # 5 + 248 + CRLF = 255 octets: accepted.
        assert c.cmd("USER " + "a" * 248) == "+OK Send your password\r\n"
        # 256 octets: one -ERR, and the session goes on.
        c.send("USER " + "a" * 249 + "\r\n")
        assert c.line() == b"-ERR Line too long\r\n"
        assert c.cmd("CAPA").startswith("+OK")
        c.until_dot()
        c.login()
        c.send("LIST " + "1" * 4000 + "\r\n")
        assert c.line() == b"-ERR Line too long\r\n"
        assert c.cmd("STAT") == f"+OK 3 {TOTAL}\r\n"
        assert c.nothing_pending(0.2)
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"


def test_long_line_sent_in_pieces_gets_one_error(daemon):
    with Conn(daemon.host, daemon.port) as c:
        c.login()
        for _ in range(10):
            c.send("x" * 2000)
        c.send("\r\n")
        assert c.line() == b"-ERR Line too long\r\n"
        assert c.cmd("NOOP") == "+OK\r\n"
        assert c.nothing_pending(0.2)
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"


def test_repeated_long_lines_close_the_connection(daemon):
    with Conn(daemon.host, daemon.port) as c:
        c.send(("NOOP" + "x" * 300 + "\r\n") * 3)
        assert c.rest() == b"-ERR Line too long\r\n" * 3


def test_pipelining_whole_session_in_one_send(daemon):
    with Conn(daemon.host, daemon.port) as c:
        c.send("CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 1\r\n"
               "TOP 3 1\r\nDELE 2\r\nLIST 2\r\nNOOP\r\nRSET\r\nDELE 1\r\nQUIT\r\n")
        got = c.rest()
    expected = (
        b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n"
        b"SASL PLAIN LOGIN\r\n"
        b"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n.\r\n"
        b"+OK Send your password\r\n" +
        f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n".encode() +
        f"+OK 3 {TOTAL}\r\n".encode() +
        f"+OK 3 messages ({TOTAL} octets)\r\n1 {S1}\r\n2 {S2}\r\n3 {S3}\r\n.\r\n".encode() +
        b"+OK 2 mem-2\r\n" +
        f"+OK {S1} octets\r\n".encode() + stuffed_body(1) +
        b"+OK Top of message follows\r\n" + stuffed_body(3, last=True, top=1) +
        b"+OK Message deleted\r\n"
        b"-ERR Message is deleted\r\n"
        b"+OK\r\n" +
        f"+OK 3 messages ({TOTAL} octets)\r\n".encode() +
        b"+OK Message deleted\r\n"
        b"+OK Logging out (2 messages left)\r\n")
    assert got == expected


def test_pipelined_commands_after_a_failed_login_are_answered(daemon):
    with Conn(daemon.host, daemon.port) as c:
        c.send("USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n")
        assert c.rest() == (b"+OK Send your password\r\n"
                            b"-ERR [AUTH] Authentication failed\r\n"
                            b"+OK Send your password\r\n" +
                            f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n".encode() +
                            f"+OK 3 {TOTAL}\r\n".encode() +
                            b"+OK Logging out (3 messages left)\r\n")


def test_commands_split_byte_by_byte(daemon):
    script = b"USER alice\r\nPASS secret\nLIST 2\r\nRETR 3\r\nQUIT\r\n"  # a bare LF too
    with Conn(daemon.host, daemon.port) as c:
        for i in range(len(script)):
            c.send(script[i:i + 1])
            time.sleep(0.002)
        got = c.rest()
    assert got == (b"+OK Send your password\r\n" +
                   f"+OK Logged in, 3 messages ({TOTAL} octets)\r\n".encode() +
                   f"+OK 2 {S2}\r\n".encode() +
                   f"+OK {S3} octets\r\n".encode() + stuffed_body(3, last=True) +
                   b"+OK Logging out (3 messages left)\r\n")


def test_big_message_is_retrieved_completely(start_daemon):
    """A 1.2 MB message: more than the daemon buffers (256 KiB high water),
    so its retrieval must pause and resume until the end."""
    d = start_daemon(modules="[auth_test]\nusers: alice:secret\nuid: {uid}\ngid: {gid}\n"
                             "[mailbox_memory]\ncount: 2\nbody-lines: 40000\n")
    size = message_size(1, 40000)
    with Conn(d.host, d.port, timeout=5) as c:
        c.login()
        c.send("RETR 1\r\nNOOP\r\n")
        assert c.line() == f"+OK {size} octets\r\n".encode()
        assert c.until_dot() == stuffed_body(1, 40000)
        assert c.line() == b"+OK\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (2 messages left)\r\n"
