"""Real POP3 clients against the daemon: poplib, curl, fetchmail, getmail, mpop.

Each client fetches the three generated messages; what it stores must be
the message as generated (tests/modules/mailbox_memory.cpp), apart from the
trace headers the client itself prepends.
"""
import getpass
import os
import poplib
import re
import shutil
import subprocess

import pytest

from pop3wire import message_crlf, message_size, message_text

S = {1: message_size(1), 2: message_size(2), 3: message_size(3, last=True)}
TOTAL = sum(S.values())


def generated(n):
    return message_text(n, last=(n == 3))


def need(program, package):
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (Debian package {package}; "
                    "see scripts/debian-packages.txt)")
    return path


def strip_trace_headers(text, names):
    """Remove the trace header fields (with their folded continuation lines)
    a client prepends; fail if anything else precedes the original headers."""
    lines = text.split("\n")
    i = 0
    while i < len(lines) and not lines[i].startswith("From: tester@example.org"):
        name = lines[i].split(":", 1)[0]
        assert name in names, f"unexpected header before the message: {lines[i]!r}"
        i += 1
        while i < len(lines) and lines[i][:1] in (" ", "\t"):
            i += 1
    return "\n".join(lines[i:])


def subject_number(text):
    m = re.search(r"^Subject: message (\d+)$", text, re.M)
    assert m, text
    return int(m.group(1))


def check_stored(texts, names):
    """texts: what a client stored (LF line ends); each must be one of the
    three messages, each message exactly once."""
    found = {}
    for t in texts:
        body = strip_trace_headers(t, names)
        n = subject_number(body)
        assert n not in found, f"message {n} stored twice"
        found[n] = body
    assert sorted(found) == [1, 2, 3]
    for n in (1, 2):
        assert found[n] == generated(n)
    # The last message has no final newline; a client storing it as a text
    # file ends its last line.
    assert found[3] in (generated(3), generated(3) + "\n")


def check_still_there(daemon):
    """The clients ran with 'keep': a new session sees all three messages."""
    p = poplib.POP3(daemon.host, daemon.port, timeout=10)
    try:
        p.user("alice")
        p.pass_("secret")
        assert p.stat() == (3, TOTAL)
    finally:
        p.quit()


def run_client(args, workdir, timeout=60, env=None):
    e = dict(os.environ, HOME=str(workdir), LC_ALL="C")
    e.update(env or {})
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=e,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return r


def maildir(path):
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    return path


def read_maildir(path):
    return [(path / "new" / f).read_text() for f in sorted(os.listdir(path / "new"))] + \
           [(path / "cur" / f).read_text() for f in sorted(os.listdir(path / "cur"))]


def test_poplib_full_session(daemon):
    p = poplib.POP3(daemon.host, daemon.port, timeout=10)
    assert p.getwelcome() == b"+OK modpop3d ready"
    assert p.user("alice") == b"+OK Send your password"
    assert p.pass_("secret") == f"+OK Logged in, 3 messages ({TOTAL} octets)".encode()
    assert p.stat() == (3, TOTAL)
    resp, listing, _ = p.list()
    assert listing == [f"{n} {S[n]}".encode() for n in (1, 2, 3)]
    assert p.list(2) == f"+OK 2 {S[2]}".encode()
    resp, uidls, _ = p.uidl()
    assert uidls == [b"1 mem-1", b"2 mem-2", b"3 mem-3"]
    for n in (1, 2, 3):
        resp, lines, octets = p.retr(n)
        assert resp == f"+OK {S[n]} octets".encode()
        # poplib strips CRLF and un-stuffs dots.
        assert lines == message_crlf(n, last=(n == 3)).split(b"\r\n")[:len(lines)]
        assert b"\r\n".join(lines) + (b"" if n == 3 else b"\r\n") == \
            message_crlf(n, last=(n == 3))
    resp, lines, _ = p.top(2, 1)
    assert lines == [b"From: tester@example.org", b"Subject: message 2",
                     b"Message-ID: <2@memory>", b"", b"body line 0 of message 2"]
    assert p.dele(2) == b"+OK Message deleted"
    with pytest.raises(poplib.error_proto, match="Message is deleted"):
        p.retr(2)
    assert p.quit() == b"+OK Logging out (2 messages left)"
    # The deletion was applied: message 2 is gone in a new session.
    p = poplib.POP3(daemon.host, daemon.port, timeout=10)
    p.user("alice")
    p.pass_("secret")
    assert p.stat() == (2, S[1] + S[3])
    assert p.uidl()[1] == [b"1 mem-1", b"2 mem-3"]
    assert p.retr(2)[1][1] == b"Subject: message 3"
    p.quit()


def test_poplib_capa_and_apop_absent(daemon):
    p = poplib.POP3(daemon.host, daemon.port, timeout=10)
    caps = p.capa()
    assert caps == {"TOP": [], "UIDL": [], "USER": [],
                    "SASL": ["PLAIN", "LOGIN"],
                    "RESP-CODES": [], "AUTH-RESP-CODE": [], "PIPELINING": []}
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication failed"):
        p.user("alice")
        p.pass_("wrong")
    p.quit()


def test_curl_lists_and_retrieves(daemon):
    curl = need("curl", "curl")
    url = f"pop3://{daemon.host}:{daemon.port}/"
    r = subprocess.run([curl, "-s", "-S", "--max-time", "30", url, "-u", "alice:secret"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"1 {S[1]}\r\n2 {S[2]}\r\n3 {S[3]}\r\n".encode()
    for n in (1, 3):
        r = subprocess.run([curl, "-s", "-S", "--max-time", "30", f"{url}{n}",
                            "-u", "alice:secret"], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        # curl un-stuffs the dots and keeps the CRLF before the terminator,
        # which the server adds to the last message (it has no final newline).
        expected = message_crlf(n, last=(n == 3)) + (b"\r\n" if n == 3 else b"")
        assert r.stdout == expected
    r = subprocess.run([curl, "-s", "--max-time", "30", url, "-u", "alice:wrong"],
                       capture_output=True, timeout=60)
    assert r.returncode == 67  # CURLE_LOGIN_DENIED
    check_still_there(daemon)


def test_fetchmail(daemon, workdir):
    fetchmail = need("fetchmail", "fetchmail")
    out = workdir / "fetchmail-out"
    out.mkdir()
    mda = workdir / "mda.sh"
    # One file per message, in delivery order.
    mda.write_text("#!/bin/sh\nn=$(ls '%s' | wc -l)\nexec cat > '%s'/msg.$n\n" % (out, out))
    mda.chmod(0o755)
    rc = workdir / "fetchmailrc"
    rc.write_text("set no syslog\n"
                  f"poll {daemon.host} port {daemon.port} proto pop3\n"
                  f"  user \"alice\" there with password \"secret\" is {getpass.getuser()} here\n"
                  f"  options keep sslproto '' mda \"{mda}\"\n")
    rc.chmod(0o600)
    run_client([fetchmail, "-f", str(rc), "--nodetach", "-N", "-i", str(workdir / "fetchids"),
                "--pidfile", str(workdir / "fetchmail.pid")], workdir)
    files = sorted(os.listdir(out))
    assert files == ["msg.0", "msg.1", "msg.2"]
    check_stored([(out / f).read_text() for f in files], {"Received"})
    check_still_there(daemon)


def test_getmail(daemon, workdir):
    getmail = need("getmail", "getmail6")
    md = maildir(workdir / "getmail-maildir")
    dest_user = ""
    if os.getuid() == 0:  # getmail refuses to deliver as root
        dest_user = "user = nobody\n"
        for root, dirs, _ in os.walk(md):
            os.chown(root, 65534, 65534)
    gmdir = workdir / "getmail"
    gmdir.mkdir()
    rc = gmdir / "getmailrc"
    rc.write_text("[retriever]\ntype = SimplePOP3Retriever\n"
                  f"server = {daemon.host}\nport = {daemon.port}\n"
                  "username = alice\npassword = secret\n\n"
                  f"[destination]\ntype = Maildir\npath = {md}/\n{dest_user}\n"
                  "[options]\ndelete = false\nread_all = true\nverbose = 0\n"
                  "message_log_syslog = false\n")
    run_client([getmail, "--getmaildir", str(gmdir), "--rcfile", "getmailrc"], workdir)
    check_stored(read_maildir(md), {"Return-Path", "Delivered-To", "Received"})
    check_still_there(daemon)


def test_mpop(daemon, workdir):
    mpop = need("mpop", "mpop")
    md = maildir(workdir / "mpop-maildir")
    (workdir / "mpoprc").write_text("")
    (workdir / "mpoprc").chmod(0o600)
    run_client([mpop, "-C", str(workdir / "mpoprc"), f"--host={daemon.host}",
                f"--port={daemon.port}", "--user=alice", "--passwordeval=echo secret",
                "--tls=off", "--auth=user", "--keep=on", "--only-new=off",
                f"--delivery=maildir,{md}", f"--uidls-file={workdir / 'mpop-uidls'}"], workdir)
    check_stored(read_maildir(md), {"Received"})
    check_still_there(daemon)
