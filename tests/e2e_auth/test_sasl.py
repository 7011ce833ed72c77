"""SASL CRAM-MD5 and SCRAM-SHA-256 through the real daemon and the real
auth_flatfile: secrets made by modpop3d-passwd and {PLAIN} entries, a SCRAM
client written here (hashlib/hmac only, RFC 5802/7677), CRAM-MD5 with
Python's hmac, failures that look alike, cancel, malformed input, CAPA, and
the session after the login (STAT, RETR), also through poplib."""
import base64
import glob
import hmac
import os
import poplib
import subprocess

import pytest

from conftest import SESSION_GID, SESSION_UID
from e2ehelp import AUTH_FAILED, assert_no_secret, real_daemon  # noqa: F401 (fixture)
from pop3wire import Conn, b64
import procs
from saslclient import challenge, cram_login, scram_final, scram_first, scram_login

SCRAM_PW = "Scr4m pencil"     # stored as a verifier made by modpop3d-passwd
PLAIN_PW = "Pl4in-secret"     # stored as {PLAIN}
HASHED_PW = "H4shed-secret"   # stored as a one-way hash: no CRAM-MD5, no SCRAM
MESSAGE = b"Subject: sasl\n\nhello over SASL\n.dot line\n"
RETR_BODY = b"Subject: sasl\r\n\r\nhello over SASL\r\n..dot line\r\n.\r\n"
LOGGED_IN_ONE = f"+OK Logged in, 1 message ({len(MESSAGE) + 4} octets)\r\n"
CANCELLED = "-ERR Authentication cancelled\r\n"
BAD_BASE64 = "-ERR Invalid base64 data\r\n"
UNSUPPORTED = "-ERR Unsupported authentication mechanism\r\n"
# CRAM-MD5 and SCRAM are opt-in (sasl-mechanisms); these tests enable all.
ALL_MECHS = {"sasl-mechanisms": "SCRAM-SHA-256-PLUS SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"}
SASL_FULL = "SASL SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN\r\n"


# ---------------------------------------------------------------- the store

def own(path):
    if os.getuid() == 0:
        os.chown(path, SESSION_UID, SESSION_GID)


@pytest.fixture
def store(workdir, stage):
    """Users: scram (verifier from modpop3d-passwd), plain ({PLAIN}), hashed
    (the tool's default one-way hash); each with a Maildir holding MESSAGE."""
    tool = glob.glob(str(stage) + "/**/bin/modpop3d-passwd", recursive=True)
    assert len(tool) == 1, tool

    def make(scheme, pw):
        args = [tool[0], "--stdin"] + (["-s", scheme] if scheme else [])
        out = subprocess.run(args, input=pw + "\n", capture_output=True, text=True,
                             timeout=60, check=True).stdout.strip()
        assert out, out
        return out

    verifier = make("scram-sha-256", SCRAM_PW)
    assert verifier.startswith("{SCRAM-SHA-256}4096:"), verifier
    homes = workdir / "homes"
    homes.mkdir(mode=0o755)
    own(homes)
    lines = []
    for user, secret in (("scram", verifier), ("plain", "{PLAIN}" + PLAIN_PW),
                         ("hashed", make(None, HASHED_PW))):
        lines.append(f"{user}:{secret}\n")
        md = homes / user / "Maildir"
        for d in (homes / user, md, md / "new", md / "cur", md / "tmp"):
            d.mkdir(mode=0o700)
            own(d)
        msg = md / "new" / "1700000000.M1P1.sasl"
        msg.write_bytes(MESSAGE)
        os.chmod(msg, 0o600)
        own(msg)
    users = workdir / "users"
    users.write_text("".join(lines))
    os.chmod(users, 0o600)
    own(users)
    return (f"[auth_flatfile]\nfile: {users}\ncheck-interval: 0\nhome: {homes}/$(user)\n"
            f"uid: {SESSION_UID}\ngid: {SESSION_GID}\n"
            "default-mailbox: maildir:$(home)/Maildir\n[mailbox_maildir]\n")


def check_session(conn):
    assert conn.cmd("STAT") == f"+OK 1 {len(MESSAGE) + 4}\r\n"
    assert conn.multi("RETR 1") == f"+OK {len(MESSAGE) + 4} octets\r\n".encode() + RETR_BODY
    assert conn.cmd("QUIT").startswith("+OK")


# ---------------------------------------------------------------- tests

def test_capa_and_bare_auth_list_the_mechanisms(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        capa = c.multi("CAPA").decode()
        assert SASL_FULL in capa
        assert "PLUS" not in capa  # no TLS, no channel binding
        assert c.multi("AUTH").decode() == ("+OK Supported mechanisms follow\r\n"
                                            "SCRAM-SHA-256\r\nCRAM-MD5\r\nPLAIN\r\nLOGIN\r\n.\r\n")
        assert c.cmd("AUTH SCRAM-SHA-256-PLUS") == UNSUPPORTED


def test_no_credentials_no_cram_or_scram(real_daemon):
    # auth_passwd verifies passwords but cannot hand out secrets.
    d = real_daemon("[auth_passwd]\n[mailbox_empty]\n", core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        capa = c.multi("CAPA").decode()
        assert "SASL PLAIN LOGIN\r\n" in capa
        assert "CRAM-MD5" not in capa and "SCRAM" not in capa
        assert c.multi("AUTH").decode() == \
            "+OK Supported mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n"
        assert c.cmd("AUTH CRAM-MD5") == UNSUPPORTED
        assert c.cmd("AUTH SCRAM-SHA-256 " + b64(scram_first("root")[0])) == UNSUPPORTED


@pytest.mark.parametrize("initial", [True, False])
def test_scram_with_a_verifier_from_modpop3d_passwd(real_daemon, store, initial):
    d = real_daemon(store, core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        assert scram_login(c, "scram", SCRAM_PW, initial=initial) == LOGGED_IN_ONE
        check_session(c)
    log = d.wait_log("event=logout user=scram")
    assert "method=SCRAM-SHA-256" in log
    assert_no_secret(d, SCRAM_PW)


def test_scram_from_a_plain_entry_and_flag_y_without_tls(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        # "y": the client could bind but the server offers no -PLUS: fine.
        assert scram_login(c, "plain", PLAIN_PW, gs2="y,,") == LOGGED_IN_ONE
        check_session(c)
    assert_no_secret(d, PLAIN_PW)


def test_scram_failures_look_alike(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        # Wrong password, unknown user, a user with only a one-way hash: the
        # server-first message comes each time (salt, 4096 iterations) and
        # the proof fails the same way.
        for user, pw in (("scram", "wrong"), ("plain", "wrong"), ("ghost", SCRAM_PW),
                         ("hashed", HASHED_PW)):
            assert scram_login(c, user, pw) == AUTH_FAILED, user
        assert scram_login(c, "scram", SCRAM_PW) == LOGGED_IN_ONE
    log = d.wait_log("event=login user=scram")
    for user in ("scram", "plain", "ghost", "hashed"):
        assert f"event=auth_failed user={user} rip=127.0.0.1" in log, log
    assert "method=SCRAM-SHA-256" in log
    assert_no_secret(d, SCRAM_PW, PLAIN_PW, HASHED_PW)


def test_scram_unknown_user_gets_a_stable_salt(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    salts = []
    with Conn(d.host, d.port) as c:
        for _ in range(2):
            first, bare = scram_first("ghost")
            server_first = challenge(c.cmd("AUTH SCRAM-SHA-256 " + b64(first)))
            attrs = dict(a.split("=", 1) for a in server_first.split(","))
            assert attrs["i"] == "4096"
            salts.append(attrs["s"])
            assert c.cmd("*") == CANCELLED
    assert salts[0] == salts[1]


def test_scram_protocol_errors(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        # Mandatory extension, proxy authzid, channel binding asked under
        # plain SCRAM-SHA-256: refused at once, as a failed login.
        for first in ("n,,m=x,n=scram,r=abc", "n,a=plain,n=scram,r=abc",
                      "p=tls-unique,,n=scram,r=abc", "n,,n=scram", "garbage"):
            assert c.cmd("AUTH SCRAM-SHA-256 " + b64(first)) == AUTH_FAILED, first
        # A nonce that is not the server's.
        first, bare = scram_first("scram")
        server_first = challenge(c.cmd("AUTH SCRAM-SHA-256 " + b64(first)))
        final, _ = scram_final(SCRAM_PW, bare, server_first.replace("r=", "r=X", 1))
        assert c.cmd(b64(final)) == AUTH_FAILED
        # A non-empty answer to the server's final message.
        first, bare = scram_first("scram")
        server_first = challenge(c.cmd("AUTH SCRAM-SHA-256 " + b64(first)))
        final, expect = scram_final(SCRAM_PW, bare, server_first)
        assert challenge(c.cmd(b64(final))) == expect
        assert c.cmd(b64("unexpected")) == AUTH_FAILED
        # Still usable afterwards.
        assert scram_login(c, "scram", SCRAM_PW) == LOGGED_IN_ONE


def test_failed_sasl_logins_count_towards_the_limit(real_daemon, store):
    d = real_daemon(store, core={**ALL_MECHS, "max-auth-failures": "2"})
    with Conn(d.host, d.port) as c:
        assert scram_login(c, "scram", "wrong") == AUTH_FAILED
        assert cram_login(c, "plain", "wrong") == AUTH_FAILED
        assert c.closed()


@pytest.mark.parametrize("initial_empty", [False, True])
def test_cram_md5(real_daemon, store, initial_empty):
    d = real_daemon(store, core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        assert cram_login(c, "plain", "wrong", initial_empty) == AUTH_FAILED
        assert cram_login(c, "ghost", PLAIN_PW, initial_empty) == AUTH_FAILED
        # A verifier or hash is no plaintext secret: CRAM-MD5 cannot use it.
        assert cram_login(c, "scram", SCRAM_PW, initial_empty) == AUTH_FAILED
        assert cram_login(c, "plain", PLAIN_PW, initial_empty) == LOGGED_IN_ONE
        check_session(c)
    log = d.wait_log("event=logout user=plain")
    assert "method=CRAM-MD5" in log
    assert "event=auth_failed user=ghost rip=127.0.0.1 lip=127.0.0.1 method=CRAM-MD5" in log
    assert_no_secret(d, PLAIN_PW)


def test_cram_md5_challenges_are_unique(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    seen = set()
    with Conn(d.host, d.port) as c:
        for _ in range(5):
            seen.add(challenge(c.cmd("AUTH CRAM-MD5")))
            assert c.cmd("*") == CANCELLED
    assert len(seen) == 5


def test_cancel_and_malformed_input(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        # "*" after the server-first message (a lookup was done) and after a
        # CRAM-MD5 challenge.
        first, _ = scram_first("scram")
        challenge(c.cmd("AUTH SCRAM-SHA-256 " + b64(first)))
        assert c.cmd("*") == CANCELLED
        challenge(c.cmd("AUTH CRAM-MD5"))
        assert c.cmd("*") == CANCELLED
        # Bad base64 in the initial response and in a continuation.
        assert c.cmd("AUTH SCRAM-SHA-256 bm,,") == BAD_BASE64
        assert c.cmd("AUTH SCRAM-SHA-256") == "+ \r\n"
        assert c.cmd("not base64!") == BAD_BASE64
        challenge(c.cmd("AUTH CRAM-MD5"))
        assert c.cmd("YWJj=") == BAD_BASE64
        # CRAM-MD5 takes no initial response.
        assert c.cmd("AUTH CRAM-MD5 " + b64("plain x")) == AUTH_FAILED
        # An over-long continuation line ends the exchange.
        assert c.cmd("AUTH SCRAM-SHA-256") == "+ \r\n"
        assert c.cmd("A" * 9000) == "-ERR Line too long\r\n"
        # None of this broke the connection.
        assert scram_login(c, "scram", SCRAM_PW) == LOGGED_IN_ONE
        check_session(c)


def test_poplib_cram_md5_and_scram(real_daemon, store):
    d = real_daemon(store, core=ALL_MECHS)
    p = poplib.POP3(d.host, d.port, timeout=10)
    try:
        caps = p.capa()
        assert caps["SASL"] == ["SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN"]
        chal = p._shortcmd("AUTH CRAM-MD5")
        assert chal.startswith(b"+ ")
        digest = hmac.new(PLAIN_PW.encode(), base64.b64decode(chal[2:]), "md5").hexdigest()
        assert p._shortcmd(b64(f"plain {digest}")).startswith(b"+OK Logged in")
        assert p.stat() == (1, len(MESSAGE) + 4)
        resp, lines, octets = p.retr(1)
        assert lines == [b"Subject: sasl", b"", b"hello over SASL", b".dot line"]
        p.quit()
    finally:
        p.close()
    p = poplib.POP3(d.host, d.port, timeout=10)
    try:
        first, bare = scram_first("scram")
        server_first = base64.b64decode(p._shortcmd("AUTH SCRAM-SHA-256 " + b64(first))[2:])
        final, expect = scram_final(SCRAM_PW, bare, server_first.decode())
        assert base64.b64decode(p._shortcmd(b64(final))[2:]).decode() == expect
        assert p._shortcmd("").startswith(b"+OK Logged in")
        assert p.stat()[0] == 1
        p.quit()
    finally:
        p.close()


def test_unreadable_verifier_is_logged_and_refused(real_daemon, store, workdir):
    # An iteration count below RFC 7677's 4096: the verifier is not used.
    users = workdir / "users"
    salt, stored, server = b64(b"0123456789abcdef"), b64(b"k" * 32), b64(b"s" * 32)
    users.write_text(users.read_text() + f"weak:{{SCRAM-SHA-256}}100:{salt}:{stored}:{server}\n")
    d = real_daemon(store, core=ALL_MECHS, allow_err=True)
    with Conn(d.host, d.port) as c:
        first, _ = scram_first("weak")
        assert c.cmd("AUTH SCRAM-SHA-256 " + b64(first)) == AUTH_FAILED
    log = d.wait_log("event=sasl_bad_secret")
    assert "mechanism=SCRAM-SHA-256 user=weak rip=127.0.0.1" in log
    assert "event=auth_failed user=weak" in log


def test_default_offers_only_plain_and_login_so_clients_never_pick_a_dead_end(real_daemon,
                                                                              store, workdir):
    """With the default sasl-mechanisms a user stored with a one-way hash
    logs in with any client: curl prefers CRAM-MD5 whenever it is offered
    and does not fall back when it fails."""
    import shutil
    d = real_daemon(store)
    with Conn(d.host, d.port) as c:
        capa = c.multi("CAPA")
        assert b"\r\nSASL PLAIN LOGIN\r\n" in capa, capa
        assert c.cmd("AUTH CRAM-MD5").startswith("-ERR Unsupported")
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed (Debian package curl)")
    r = subprocess.run([curl, "-sS", "--max-time", "20", "-l",
                        f"pop3://hashed:{HASHED_PW}@{d.host}:{d.port}/"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"1 "), r.stdout


def ghost_salt(d):
    """The salt the daemon makes up for the unknown user 'ghost'."""
    with Conn(d.host, d.port) as c:
        first, _ = scram_first("ghost")
        server_first = challenge(c.cmd("AUTH SCRAM-SHA-256 " + b64(first)))
        assert c.cmd("*") == CANCELLED
    return dict(a.split("=", 1) for a in server_first.split(","))["s"]


def test_made_up_salts_survive_a_restart_with_secret_key_file(real_daemon, store, workdir):
    key = workdir / "secret.key"
    core = dict(ALL_MECHS, **{"secret-key-file": str(key)})
    d = real_daemon(store, core=core)
    before = ghost_salt(d)
    assert key.stat().st_size == 32 and (key.stat().st_mode & 0o777) == 0o600
    assert d.terminate() == 0
    assert ghost_salt(real_daemon(store, core=core)) == before  # the same key, read back
    # Without the file, a key made at start: another salt after a restart.
    assert ghost_salt(real_daemon(store, core=ALL_MECHS)) != before


def test_a_key_file_others_can_read_stops_the_start(real_daemon, store, workdir):
    key = workdir / "secret.key"
    key.write_bytes(b"k" * 32)
    os.chmod(key, 0o644)
    with pytest.raises(AssertionError) as failed:
        real_daemon(store, core=dict(ALL_MECHS, **{"secret-key-file": str(key)}),
                    allow_err=True)
    assert "readable or writable by group or others" in str(failed.value)


def test_every_worker_makes_up_the_same_salt(real_daemon, store):
    d = real_daemon(store, core=dict(ALL_MECHS, workers="2"))
    workers = procs.workers_of(d, 2)
    salts = set()
    for w in workers:
        with procs.only(w, workers):  # this connection goes to worker w
            salts.add(ghost_salt(d))
    assert len(salts) == 1
