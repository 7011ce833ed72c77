"""TLS through the real daemon: implicit TLS, STLS (RFC 2595), the plaintext
policy, protocol versions, SNI, resumption, bad certificate configurations
and handshakes broken off at random points.

Certificates are made for each test session with the openssl command line;
clients are Python's ssl/poplib, curl, fetchmail and openssl s_client.
"""
import os
import poplib
import random
import shutil
import socket
import ssl
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from conftest import free_port, run  # noqa: E402
from pop3wire import Conn, message_crlf, message_size  # noqa: E402

TOTAL = message_size(1) + message_size(2) + message_size(3, last=True)


def make_cert(directory, name, cn):
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
                    "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return crt, key


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    os.chmod(d, 0o755)
    return {"main": make_cert(d, "main", "localhost"),
            "sni": make_cert(d, "sni", "mail.example.org"),
            "other": make_cert(d, "other", "other.example.net"),
            "dir": d}


def client_ctx(minimum=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum:
        ctx.minimum_version = minimum
    return ctx


def tls_core(certs, **more):
    crt, key = certs["main"]
    core = {"tls-certificate": str(crt), "tls-key": str(key), "log-level": "debug"}
    core.update(more)
    return core


@pytest.fixture
def tls_daemon(start_daemon, certs):
    """STLS on the main listener and implicit TLS on a second port."""
    port = free_port()
    d = start_daemon(core=tls_core(certs),
                     extra=f"listen: 127.0.0.1:{port} tls=implicit\n")
    d.implicit_port = port
    return d


def implicit_conn(d, hostname=None):
    raw = socket.create_connection((d.host, d.implicit_port), timeout=10)
    s = client_ctx().wrap_socket(raw, server_hostname=hostname)
    c = Conn.__new__(Conn)
    c.sock, c.buf = s, b""
    return c


def stls(c):
    assert c.cmd("STLS") == "+OK Begin TLS negotiation\r\n"
    c.sock = client_ctx().wrap_socket(c.sock, server_hostname="localhost")
    return c


# ---------------------------------------------------------------- implicit TLS and STLS

def test_implicit_tls_poplib_retrieves_and_deletes(tls_daemon):
    d = tls_daemon
    p = poplib.POP3_SSL(d.host, d.implicit_port, context=client_ctx(), timeout=10)
    try:
        assert p.getwelcome().startswith(b"+OK")
        assert b"STLS" not in b"".join(p.capa().keys() and [k.encode() for k in p.capa()])
        p.user("alice")
        p.pass_("secret")
        assert p.stat() == (3, TOTAL)
        resp, lines, octets = p.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == message_crlf(1)
        p.dele(2)
    finally:
        p.quit()
    line = d.wait_log("event=logout")
    assert "deleted=1" in line
    login = [l for l in d.log_lines("login")][-1]
    assert " tls=1 " in login, login
    # the deletion was applied (mailbox_memory keeps it for the daemon's life)
    p = poplib.POP3_SSL(d.host, d.implicit_port, context=client_ctx(), timeout=10)
    try:
        p.user("alice")
        p.pass_("secret")
        assert p.stat()[0] == 2
    finally:
        p.quit()


def test_stls_poplib_and_capa_before_and_after(tls_daemon):
    d = tls_daemon
    p = poplib.POP3(d.host, d.port, timeout=10)
    try:
        assert "STLS" in p.capa()
        p.stls(context=client_ctx())
        caps = p.capa()
        assert "STLS" not in caps, caps
        assert "USER" in caps
        p.user("alice")
        p.pass_("secret")
        assert p.stat() == (3, TOTAL)
        assert p.retr(3)[1][-1] == b"no final newline"
    finally:
        p.quit()
    assert " tls=1 " in d.log_lines("login")[-1]


def test_stls_twice_and_after_login_are_refused(tls_daemon):
    d = tls_daemon
    with Conn(d.host, d.port) as c:
        stls(c)
        assert c.cmd("STLS") == "-ERR TLS is already active\r\n"
        c.login()
        assert c.cmd("STLS").startswith("-ERR")
        assert c.cmd("QUIT").startswith("+OK")


def test_user_given_before_stls_is_forgotten(tls_daemon):
    d = tls_daemon
    with Conn(d.host, d.port) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        stls(c)
        assert c.cmd("PASS secret") == "-ERR Send USER first\r\n"


def test_stls_injection_is_discarded_and_the_client_dropped(tls_daemon):
    """CVE-2011-0411: STLS and CAPA in one segment. The CAPA must never be
    answered, in plaintext or inside TLS, and the connection is dropped."""
    d = tls_daemon
    with Conn(d.host, d.port) as c:
        c.send(b"STLS\r\nCAPA\r\n")
        assert c.line() == b"+OK Begin TLS negotiation\r\n"
        assert c.rest() == b"", "nothing may follow: the CAPA was injected"
    d.wait_log("event=stls_injection rip=127.0.0.1")


def test_plaintext_sent_after_the_stls_answer_breaks_the_handshake(tls_daemon):
    d = tls_daemon
    with Conn(d.host, d.port) as c:
        assert c.cmd("STLS") == "+OK Begin TLS negotiation\r\n"
        c.send(b"CAPA\r\nUSER alice\r\n")
        assert c.rest() == b""  # no answer: the bytes were taken as a bad ClientHello
    d.wait_log("event=tls_failed rip=127.0.0.1")


def test_stls_not_offered_without_tls(daemon):
    with Conn(daemon.host, daemon.port) as c:
        assert b"STLS" not in c.multi("CAPA")
        assert c.cmd("STLS") == "-ERR STLS is not available\r\n"


# ---------------------------------------------------------------- plaintext policy

def test_plaintext_auth_tls_listener_refuses_until_stls(start_daemon, certs):
    d = start_daemon(core=tls_core(certs, **{"plaintext-auth": "tls"}))
    with Conn(d.host, d.port) as c:
        capa = c.multi("CAPA")
        assert b"\r\nUSER\r\n" not in capa and b"PLAIN" not in capa and b"LOGIN" not in capa
        assert b"\r\nSTLS\r\n" in capa
        reply = c.cmd("USER alice")
        assert reply.startswith("-ERR") and "TLS" in reply, reply
        assert c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").startswith("-ERR")
        stls(c)
        capa = c.multi("CAPA")
        assert b"\r\nUSER\r\n" in capa and b"PLAIN" in capa
        c.login()
        assert c.cmd("QUIT").startswith("+OK")


def test_listener_option_overrides_the_global_policy(start_daemon, certs):
    """Global policy 'tls'; a second listener says plaintext-auth=always."""
    port = free_port()
    d = start_daemon(core=tls_core(certs, **{"plaintext-auth": "tls"}),
                     extra=f"listen: 127.0.0.1:{port} tls=none plaintext-auth=always\n")
    with Conn(d.host, port) as c:
        c.login()
        c.cmd("QUIT")
    with Conn(d.host, d.port) as c:
        assert c.cmd("USER alice").startswith("-ERR")


def test_bad_trusted_network_is_a_config_error(binary, workdir):
    conf = workdir / "bad.conf"
    conf.write_text("listen: 127.0.0.1:1\nplaintext-trusted-networks: 10.0.0.0/33\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:2: plaintext-trusted-networks: '10.0.0.0/33'" in r.stderr, r.stderr


# ---------------------------------------------------------------- versions, SNI, resumption

def s_client(port, *args, data=b"QUIT\r\n"):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief",
                           "-ign_eof",
                           *args], input=data, capture_output=True, timeout=30)


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_versions_refused_by_default(tls_daemon, version):
    r = s_client(tls_daemon.implicit_port, version, "-cipher", "DEFAULT@SECLEVEL=0")
    out = r.stdout + r.stderr
    assert b"+OK" not in r.stdout, out
    assert r.returncode != 0, out


@pytest.mark.parametrize("version,name", [("-tls1_2", b"TLSv1.2"), ("-tls1_3", b"TLSv1.3")])
def test_modern_tls_versions_accepted(tls_daemon, version, name):
    r = s_client(tls_daemon.implicit_port, version)
    out = r.stdout + r.stderr
    assert b"Protocol version: " + name in out, out
    assert b"+OK modpop3d ready" in r.stdout, out


def test_legacy_listener_accepts_tls1_0_when_asked(start_daemon, certs):
    port = free_port()
    start_daemon(core=tls_core(certs), extra=f"listen: 127.0.0.1:{port} tls=implicit tls-legacy=yes\n")
    r = s_client(port, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert b"Protocol version: TLSv1\n" in r.stdout + r.stderr, r.stdout + r.stderr
    assert b"+OK modpop3d ready" in r.stdout


def peer_cert(port, hostname):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with client_ctx().wrap_socket(raw, server_hostname=hostname) as s:
        return s.getpeercert(binary_form=True)


def test_sni_chooses_the_certificate(start_daemon, certs):
    crt, key = certs["sni"]
    port = free_port()
    start_daemon(core=tls_core(certs), extra=f"tls-sni: mail.example.org {crt} {key}\n"
                                                f"listen: 127.0.0.1:{port} tls=implicit\n")
    assert b"mail.example.org" in peer_cert(port, "mail.example.org")
    assert b"mail.example.org" in peer_cert(port, "MAIL.Example.ORG")
    default = peer_cert(port, "unknown.example.com")
    assert b"localhost" in default and b"mail.example.org" not in default


def test_listener_certificate_overrides_the_global_one(start_daemon, certs):
    crt, key = certs["other"]
    port = free_port()
    start_daemon(core=tls_core(certs),
                 extra=f"listen: 127.0.0.1:{port} tls=implicit certificate={crt} key={key}\n")
    assert b"other.example.net" in peer_cert(port, None)


def test_session_resumption(tls_daemon):
    d = tls_daemon
    ctx = client_ctx()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # a session is at hand right after the handshake
    raw = socket.create_connection((d.host, d.implicit_port), timeout=10)
    with ctx.wrap_socket(raw) as s:
        assert s.recv(100).startswith(b"+OK")
        session = s.session
        s.sendall(b"QUIT\r\n")
        s.recv(100)
    raw = socket.create_connection((d.host, d.implicit_port), timeout=10)
    with ctx.wrap_socket(raw, session=session) as s:
        assert s.session_reused
        assert s.recv(100).startswith(b"+OK")
    d.wait_log("resumed=1")


# ---------------------------------------------------------------- big transfers over TLS

def test_big_message_over_tls_arrives_whole(start_daemon, certs):
    modules = ("[auth_test]\nusers: alice:secret\nuid: {uid}\ngid: {gid}\n"
               "[mailbox_memory]\ncount: 1\nbody-lines: 40000\n")
    port = free_port()
    d = start_daemon(core=tls_core(certs), modules=modules,
                     extra=f"listen: 127.0.0.1:{port} tls=implicit\n")
    p = poplib.POP3_SSL(d.host, port, context=client_ctx(), timeout=30)
    try:
        p.user("alice")
        p.pass_("secret")
        expected = message_crlf(1, body_lines=40000, last=True)
        assert p.stat() == (1, len(expected))
        assert len(expected) > 1_000_000
        lines = p.retr(1)[1]
        assert b"\r\n".join(lines) + b"\r\n" == expected + b"\r\n"
    finally:
        p.quit()


# ---------------------------------------------------------------- real clients

def need(program, package):
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (Debian package {package})")
    return path


def test_curl_pop3s_and_stls(tls_daemon, workdir):
    curl = need("curl", "curl")
    d = tls_daemon
    r = subprocess.run([curl, "-sS", "-k", "--max-time", "20",
                        f"pop3s://alice:secret@{d.host}:{d.implicit_port}/1"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == message_crlf(1)
    r = subprocess.run([curl, "-sS", "-k", "--ssl-reqd", "--max-time", "20",
                        f"pop3://alice:secret@{d.host}:{d.port}/2"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == message_crlf(2)
    assert len([l for l in d.log_lines("login") if " tls=1 " in l]) == 2


@pytest.mark.parametrize("mode", ["implicit", "stls"])
def test_fetchmail_over_tls(tls_daemon, workdir, mode):
    import getpass
    fetchmail = need("fetchmail", "fetchmail")
    d = tls_daemon
    out = workdir / f"fetchmail-{mode}"
    out.mkdir()
    mda = workdir / f"mda-{mode}.sh"
    mda.write_text("#!/bin/sh\nn=$(ls '%s' | wc -l)\nexec cat > '%s'/msg.$n\n" % (out, out))
    mda.chmod(0o755)
    port = d.implicit_port if mode == "implicit" else d.port
    ssl_opt = "ssl" if mode == "implicit" else "sslproto 'tls1.2+'"
    rc = workdir / f"fetchmailrc-{mode}"
    rc.write_text("set no syslog\n"
                  f"poll {d.host} port {port} proto pop3\n"
                  f"  user \"alice\" there with password \"secret\" is {getpass.getuser()} here\n"
                  f"  options keep {ssl_opt} no sslcertck mda \"{mda}\"\n")
    rc.chmod(0o600)
    e = dict(os.environ, HOME=str(workdir), LC_ALL="C")
    r = subprocess.run([fetchmail, "-f", str(rc), "--nodetach", "-N",
                        "-i", str(workdir / f"fetchids-{mode}"),
                        "--pidfile", str(workdir / f"fetchmail-{mode}.pid")],
                       capture_output=True, text=True, timeout=60, env=e, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert sorted(os.listdir(out)) == ["msg.0", "msg.1", "msg.2"]
    assert len([l for l in d.log_lines("login") if " tls=1 " in l]) == 1


# ---------------------------------------------------------------- bad configurations

def write_conf(workdir, text):
    conf = workdir / "tls.conf"
    conf.write_text(text)
    return conf


@pytest.mark.parametrize("case", ["missing", "garbage", "mismatch", "no-cert"])
def test_bad_certificate_stops_check_and_start(binary, workdir, certs, test_module_dir, case):
    crt, key = certs["main"]
    other_crt, other_key = certs["other"]
    garbage = workdir / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    port = free_port()
    lines = {
        "missing": (f"tls-certificate: {workdir}/nope.crt\ntls-key: {key}\n", "nope.crt"),
        "garbage": (f"tls-certificate: {garbage}\ntls-key: {key}\n", "garbage.pem"),
        "mismatch": (f"tls-certificate: {crt}\ntls-key: {other_key}\n", "does not match"),
        "no-cert": ("", "has no certificate"),
    }
    text, needle = lines[case]
    mail_user = "mail-user: nobody\n" if os.getuid() == 0 else ""
    conf = write_conf(workdir, f"module-dir: {test_module_dir}\n{mail_user}{text}"
                               f"listen: 127.0.0.1:{port} tls=implicit\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1 and needle in r.stderr, r.stderr
    if case == "no-cert":
        assert f"{conf}:" in r.stderr  # names file and line
    r = subprocess.run([binary, "-f", str(conf), "-e"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert needle in r.stderr
    # never fell back to plaintext: nothing listens there
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_world_readable_key_is_refused(binary, workdir, certs):
    crt, key = certs["main"]
    loose = workdir / "loose.key"
    loose.write_bytes(key.read_bytes())
    os.chmod(loose, 0o644)
    conf = write_conf(workdir, f"tls-certificate: {crt}\ntls-key: {loose}\n"
                               f"listen: 127.0.0.1:{free_port()} tls=stls\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1, r.stderr
    assert "private key" in r.stderr and "readable or writable by other users" in r.stderr
    assert "chmod o-rwx" in r.stderr


def test_unknown_listener_option_names_file_and_line(binary, workdir):
    conf = write_conf(workdir, "# a comment\nlisten: 127.0.0.1:1 tls=sometimes\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:2: listen: tls=sometimes: expected none, stls or implicit" in r.stderr


# ---------------------------------------------------------------- hostile handshakes

def client_hello():
    """The first flight of a real TLS client, from Python's ssl in memory."""
    ctx = client_ctx()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_handshakes_broken_at_random_points(start_daemon, certs):
    port = free_port()
    d = start_daemon(core=tls_core(certs, **{"log-level": "info"}),
                     extra=f"listen: 127.0.0.1:{port} tls=implicit\n")
    pid = d.proc.pid
    hello = client_hello()
    rng = random.Random(1939)

    def one_round(i):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        kind = i % 4
        if kind == 0:    # a prefix of a real ClientHello, then close
            s.sendall(hello[:rng.randrange(1, len(hello))])
        elif kind == 1:  # garbage
            s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))))
        elif kind == 2:  # abort with RST in the middle
            s.sendall(hello[:rng.randrange(1, len(hello))])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        else:            # a full handshake, then gone without a word
            t = client_ctx().wrap_socket(s, server_hostname="localhost")
            t.recv(10)
            s = t
        s.close()

    for i in range(40):  # warm up allocator pools before measuring
        one_round(i)
    time.sleep(0.5)
    base_fds, base_rss = fd_count(pid), rss_kib(pid)
    for i in range(400):
        one_round(i)
    # The server handles closes asynchronously: wait (bounded) for the fds.
    deadline = time.monotonic() + 15
    while fd_count(pid) > base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fd_count(pid) <= base_fds
    # Under ASan freed memory sits in its quarantine, so RSS says nothing
    # there; LeakSanitizer checks for leaks at exit instead.
    if "ASAN_OPTIONS" not in os.environ:
        assert rss_kib(pid) - base_rss < 4096, "memory grows with broken handshakes"
    p = poplib.POP3_SSL(d.host, port, context=client_ctx(), timeout=10)
    p.user("alice")
    p.pass_("secret")
    assert p.stat() == (3, TOTAL)
    p.quit()


def test_handshake_deadline_closes_a_silent_client(start_daemon, certs):
    port = free_port()
    d = start_daemon(core=tls_core(certs, **{"tls-handshake-timeout": "1s"}),
                     extra=f"listen: 127.0.0.1:{port} tls=implicit\n")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        assert s.recv(10) == b""  # closed by the server, not by our timeout
    d.wait_log('reason="handshake timeout"')


def test_proxy_header_then_implicit_tls(start_daemon, certs):
    """Behind a balancer the PROXY header comes first, then the ClientHello:
    the header must be taken exactly, leaving the TLS bytes to OpenSSL."""
    port = free_port()
    d = start_daemon(core=tls_core(certs, **{"proxy-trusted-networks": "127.0.0.1",
                                             "plaintext-auth": "tls"}),
                     extra=f"listen: 127.0.0.1:{port} tls=implicit proxy=yes\n")
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 995\r\n")
    s = client_ctx().wrap_socket(raw, server_hostname="localhost")
    c = Conn.__new__(Conn)
    c.sock, c.buf = s, b""
    assert c.line() == b"+OK modpop3d ready\r\n"
    c.login()
    assert c.cmd("QUIT").startswith("+OK")
    c.close()
    line = d.wait_log("event=login")
    assert " rip=203.0.113.7 " in d.log_lines("login")[-1] and " tls=1 " in d.log_lines("login")[-1], line


def test_sessions_resume_on_another_worker(start_daemon, certs):
    """The master makes the TLS contexts, so every worker holds the same
    ticket keys and session cache: a session from one worker resumes on
    another, and on a worker started after it (a restart)."""
    from procs import children, only, wait_for, workers_of
    port = free_port()
    d = start_daemon(core=tls_core(certs, workers="2"),
                     extra=f"listen: 127.0.0.1:{port} tls=implicit\n")
    a, b = workers_of(d, 2)
    ctx = client_ctx()

    def connect(session=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        s = ctx.wrap_socket(raw, session=session)
        assert s.recv(100).startswith(b"+OK")  # TLS 1.3 tickets arrive with the data
        return s

    with only(a, [a, b]):
        s = connect()
        s.sendall(b"QUIT\r\n")
        s.recv(100)
        session = s.session
        s.close()
    with only(b, [a, b]):
        s = connect(session)
        assert s.session_reused, "worker b resumed worker a's session"
        s.close()
    os.kill(a, 9)
    now = wait_for("a replacement worker",
                   lambda: (lambda c: c if len(c) == 2 and a not in c else None)(
                       children(d.proc.pid)))
    new = [p for p in now if p != b][0]
    d.wait_log(f"event=worker_serving pid={new} ")
    with only(new, now):
        s = connect(session)
        assert s.session_reused, "a restarted worker has the same keys"
        s.close()


def test_sighup_reloads_certificates_and_keeps_the_old_on_error(start_daemon, certs):
    import signal
    port = free_port()
    d = start_daemon(core=tls_core(certs), extra=f"listen: 127.0.0.1:{port} tls=implicit\n")
    assert b"localhost" in peer_cert(port, None)
    other_crt, other_key = certs["other"]
    text = d.conf.read_text()
    main_crt, main_key = certs["main"]
    d.conf.write_text(text.replace(str(main_crt), str(other_crt)).replace(str(main_key),
                                                                           str(other_key)))
    os.kill(d.proc.pid, signal.SIGHUP)
    d.wait_log("event=reloaded generation=2")
    deadline = time.monotonic() + 15
    while b"other.example.net" not in peer_cert(port, None):  # old workers retire
        assert time.monotonic() < deadline, "the new certificate is not served"
        time.sleep(0.1)
    # A broken certificate: the reload fails, naming the file; the running
    # configuration (the new certificate) stays.
    d.conf.write_text(d.conf.read_text().replace(str(other_crt), "/nonexistent/cert.pem"))
    os.kill(d.proc.pid, signal.SIGHUP)
    log = d.wait_log("event=reload_failed why=")
    assert "/nonexistent/cert.pem" in log
    assert b"other.example.net" in peer_cert(port, None)


# ---------------------------------------------------------------- bounded memory over TLS

def test_capa_flood_over_tls_without_reading_leaves_the_worker_bounded(live_memory_only,
                                                                       tls_daemon):
    """As in plaintext (e2e_auth/test_backpressure.py): once the replies
    wait unread, the worker stops reading, whatever TLS holds in between."""
    from procs import children
    d = tls_daemon
    (worker,) = children(d.proc.pid)

    def rss_kb():
        with open(f"/proc/{worker}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    raw.connect((d.host, d.implicit_port))
    s = client_ctx().wrap_socket(raw)
    before = rss_kb()
    s.settimeout(2.0)  # a send the server does not take for 2 s ends the flood
    chunk, sent, deadline = b"CAPA\r\n" * 2000, 0, time.monotonic() + 30
    try:
        while sent < 16 << 20 and time.monotonic() < deadline:
            s.sendall(chunk)
            sent += len(chunk)
    except (TimeoutError, socket.timeout):
        pass
    grown = rss_kb() - before
    s.close()
    assert sent < 2 << 20, f"the server kept reading: {sent} bytes taken"
    assert grown < 8 * 1024, f"worker grew by {grown} KiB after {sent} bytes"
