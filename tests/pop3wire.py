"""Raw POP3 over a socket, and the expected bytes of mailbox_memory's messages.

The expected content is written out here from the description of the
generated messages in tests/modules/mailbox_memory.cpp, not computed by the
code under test: LF line ends on disk, CRLF and dot-stuffing on the wire.
"""
import base64
import socket
import time

TIMEOUT = 10.0  # every socket operation


def message_text(number, body_lines=4, last=False):
    """The message as mailbox_memory stores it (LF line ends)."""
    m = (f"From: tester@example.org\nSubject: message {number}\n"
         f"Message-ID: <{number}@memory>\n\n")
    for line in range(body_lines):
        m += f"body line {line} of message {number}\n"
    m += ".a line starting with a dot\n"
    m += "no final newline" if last else "the end\n"
    return m


def message_crlf(number, body_lines=4, last=False):
    """The message with CRLF line ends, as bytes: what LIST counts."""
    return message_text(number, body_lines, last).replace("\n", "\r\n").encode()


def message_size(number, body_lines=4, last=False):
    return len(message_crlf(number, body_lines, last))


def stuffed_body(number, body_lines=4, last=False, top=None):
    """The multi-line body as sent after '+OK ...\\r\\n', terminator included."""
    lines = message_text(number, body_lines, last).split("\n")
    if not last:
        lines.pop()  # the text ends in LF: no partial last line
    if top is not None:
        blank = lines.index("")
        lines = lines[:blank + 1 + top]
    out = b""
    for l in lines:
        out += (("." + l) if l.startswith(".") else l).encode() + b"\r\n"
    return out + b".\r\n"


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


class Conn:
    """A POP3 connection with exact-byte reads. Every read is bounded by TIMEOUT."""

    def __init__(self, host, port, source=None, greeting=True, timeout=TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.greeting = self.line() if greeting else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(f"connection closed; unread: {self.buf!r}")
        self.buf += data

    def line(self):
        """One reply line, CRLF included, as bytes."""
        for _ in range(100000):
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                return out
            self._fill()
        raise AssertionError("no line end")

    def until_dot(self):
        """Lines up to and including the '.' terminator line."""
        out = b""
        for _ in range(1000000):
            l = self.line()
            out += l
            if l == b".\r\n":
                return out
        raise AssertionError("no terminator")

    def exact(self, n):
        for _ in range(100000):
            if len(self.buf) >= n:
                out, self.buf = self.buf[:n], self.buf[n:]
                return out
            self._fill()
        raise AssertionError("short read")

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def cmd(self, text):
        """Send one command line; return the first reply line (str, CRLF kept)."""
        self.send(text + "\r\n")
        return self.line().decode()

    def multi(self, text):
        """Send a command with a multi-line answer; return everything as bytes."""
        self.send(text + "\r\n")
        first = self.line()
        if not first.startswith(b"+OK"):
            return first
        return first + self.until_dot()

    def login(self, user="alice", password="secret"):
        assert self.cmd(f"USER {user}") == "+OK Send your password\r\n"
        reply = self.cmd(f"PASS {password}")
        assert reply.startswith("+OK Logged in, "), reply
        return reply

    def rest(self, timeout=TIMEOUT):
        """Everything until the server closes (bounded); returns the bytes."""
        deadline = time.monotonic() + timeout
        out, self.buf = self.buf, b""
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return out
            if not data:
                return out
            out += data
        raise AssertionError(f"not closed within {timeout}s; got {out!r}")

    def closed(self, timeout=TIMEOUT):
        """True when the server closed with nothing more sent."""
        return self.rest(timeout) == b""

    def nothing_pending(self, wait=0.0):
        """True when no byte has arrived (after waiting `wait` seconds)."""
        if self.buf:
            return False
        self.sock.settimeout(wait if wait > 0 else 0.001)
        try:
            self.sock.recv(1, socket.MSG_PEEK)  # data, or b"" for a close
            return False
        except (socket.timeout, BlockingIOError):
            return True
        finally:
            self.sock.settimeout(TIMEOUT)


def login_retrying(host, port, user="alice", password="secret", timeout=10.0):
    """Log in, retrying (bounded) while an earlier session still holds the
    maildrop or still counts against the per-address limit: the daemon
    handles closes asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        c = Conn(host, port, greeting=False)
        greeting = c.line()
        if greeting.startswith(b"-ERR [SYS/TEMP] Too many connections"):
            # Earlier connections of this address are still being closed.
            c.close()
            if time.monotonic() > deadline:
                raise AssertionError("still refused: too many connections")
            time.sleep(0.05)
            continue
        assert greeting == b"+OK modpop3d ready\r\n", greeting
        assert c.cmd(f"USER {user}") == "+OK Send your password\r\n"
        reply = c.cmd(f"PASS {password}")
        if reply.startswith("+OK Logged in, "):
            return c, reply
        c.close()
        assert reply.startswith("-ERR [IN-USE]"), reply
        if time.monotonic() > deadline:
            raise AssertionError("maildrop still in use")
        time.sleep(0.05)
