"""auth_mysql and auth_pgsql through the real daemon against real MariaDB
and PostgreSQL servers (sqlconf.py starts each ONCE per run): every password
scheme, APOP/CRAM-MD5/SCRAM from the database, unknown users passed to the
next instance, wrong passwords, injection attempts, an outage and the
recovery without restarting modpop3d, failover, a query past its timeout
while others keep logging in, the on-login row, the pool bound under many
logins, and the database password kept out of logs and `modpop3d -n`.

Every test runs once per database (the `backend` fixture)."""
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e_auth"))

from conftest import SESSION_GID, SESSION_UID, free_port, run  # noqa: E402
from e2ehelp import (AUTH_FAILED, LOGGED_IN_EMPTY, TEMP_FAILED,  # noqa: E402,F401
                     assert_no_secret, real_daemon, try_login)
from pop3wire import Conn, b64  # noqa: E402
from saslclient import cram_login, scram_login  # noqa: E402
from sqlconf import DB_PASSWORD, MariaDB, PostgreSQL, started  # noqa: E402
from sqlhelp import DOMAIN, Backend, module_installed, passwd_tool  # noqa: E402

SERVERS = {}
# CRAM-MD5 exercises the same lookup of a {PLAIN} secret as APOP (the
# suite's daemon probe expects the banner without an APOP timestamp).
CORE = {"sasl-mechanisms": "SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"}


@pytest.fixture(scope="session", params=["mysql", "pgsql"])
def backend(request, stage, staged_module_dir):
    """The database server (started once per run) with the users of every
    scheme in it."""
    module_installed(staged_module_dir, "auth_" + request.param)
    if request.param not in SERVERS:
        SERVERS[request.param] = started(MariaDB if request.param == "mysql" else PostgreSQL)
        request.addfinalizer(SERVERS[request.param].cleanup)
    b = Backend(request.param, SERVERS[request.param], passwd_tool(stage))
    b.server.sql(f"INSERT INTO domain VALUES ('{DOMAIN}', '/var/mail', '{b.unix_user}');")
    for local, _pw, secret in b.users:
        if secret.startswith("{SCRAM-SHA-256}"):
            # The verifier in its own column and no password: SCRAM and
            # USER/PASS both work from it.
            b.add_user(local, None, scram=secret[len("{SCRAM-SHA-256}"):])
        else:
            b.add_user(local, secret)
    return b


@pytest.fixture
def server_up(backend):
    """The server running at the start and at the end of the test."""
    if not backend.server.running():
        backend.server.start()
    yield backend.server
    if not backend.server.running():
        backend.server.start()


def login(d, user, pw):
    with Conn(d.host, d.port) as c:
        return try_login(c, user, pw)


# ------------------------------------------------------------------ schemes

def test_every_scheme_logs_in_and_refuses_a_wrong_password(backend, server_up, real_daemon):
    d = real_daemon(backend.section(), core=CORE)
    for local, pw, _secret in backend.users:
        assert login(d, f"{local}@{DOMAIN}", pw) == LOGGED_IN_EMPTY, (local, d.log_text())
        assert login(d, f"{local}@{DOMAIN}", pw + "x") == AUTH_FAILED, local
    assert_no_secret(d, DB_PASSWORD, *[pw for _l, pw, _s in backend.users])


def test_cram_and_scram_from_the_database(backend, server_up, real_daemon):
    d = real_daemon(backend.section(), core=CORE)
    with Conn(d.host, d.port) as c:
        assert cram_login(c, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert cram_login(c, f"plain@{DOMAIN}", "wrong") == AUTH_FAILED
    with Conn(d.host, d.port) as c:
        assert cram_login(c, f"plaintext@{DOMAIN}", "Pl4in-text") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        # A one-way hash serves no CRAM-MD5: refused like a wrong password.
        assert cram_login(c, f"sha512crypt@{DOMAIN}", "Pw-sha512-crypt") == AUTH_FAILED
    with Conn(d.host, d.port) as c:
        assert scram_login(c, f"scramsha256@{DOMAIN}", "Pw-scram-sha-256") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert scram_login(c, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert scram_login(c, f"plain@{DOMAIN}", "wrong").startswith("-ERR")


def test_unknown_user_goes_to_the_next_instance(backend, server_up, real_daemon, workdir):
    users = workdir / "users"
    users.write_text("flat@example.org:{PLAIN}Flat-pw\n")
    os.chmod(users, 0o644)
    os.chmod(workdir, 0o755)
    d = real_daemon(backend.section(extra="priority: 10") +
                    f"[auth_flatfile]\npriority: 20\nfile: {users}\nmatch: user\n"
                    f"default-mailbox: empty:\nuid: {backend.unix_user}\n", core=CORE)
    assert login(d, "flat@example.org", "Flat-pw") == LOGGED_IN_EMPTY
    # A user the database has is answered there: a wrong password stops the
    # chain (auth_flatfile is not asked).
    assert login(d, f"plain@{DOMAIN}", "Flat-pw") == AUTH_FAILED
    assert login(d, "nobody-here@example.org", "x") == AUTH_FAILED


# ---------------------------------------------------------------- injection

INJECTIONS = ["' OR '1'='1", "plain' -- ", "plain'#", "pl%", "pla_n", "\\' OR 1=1 -- ",
              "plain\\", "\"plain\"", "plain'; DROP TABLE popbox; --", "ünïcødé",
              "x" * 200, "$(user)", "plain' UNION SELECT 1,2,3,4,5 -- "]


def test_injection_attempts_are_just_unknown_names(backend, server_up, real_daemon):
    for local in ("o'brien", "back\\slash", "ünïcødé-ok", "per%cent_x"):
        backend.add_user(local, "{PLAIN}Odd-pw")
    d = real_daemon(backend.section(), core=CORE)
    before = backend.server.sql("SELECT COUNT(*) FROM popbox")
    for local in INJECTIONS:
        assert login(d, f"{local}@{DOMAIN}", "Pl4in-pw") == AUTH_FAILED, local
        assert login(d, f"plain@{local}", "Pl4in-pw") == AUTH_FAILED, local
    # Names with quotes, backslashes, LIKE wildcards and UTF-8 that exist
    # are found exactly.
    for local in ("o'brien", "back\\slash", "ünïcødé-ok", "per%cent_x"):
        assert login(d, f"{local}@{DOMAIN}", "Odd-pw") == LOGGED_IN_EMPTY, local
    assert login(d, f"per_cent%x@{DOMAIN}", "Odd-pw") == AUTH_FAILED
    # Bytes that are not UTF-8 are an unknown user, not a database error.
    with Conn(d.host, d.port) as c:
        c.send(b"USER \xff\xfe@" + DOMAIN.encode() + b"\r\n")
        c.line()
        assert c.cmd("PASS Pl4in-pw") == AUTH_FAILED
    assert backend.server.sql("SELECT COUNT(*) FROM popbox") == before
    assert "level=err" not in d.log_text()


def test_more_than_one_row_is_refused_and_logged(backend, server_up, real_daemon):
    backend.add_user("twice", "{PLAIN}Twice-pw")
    backend.add_user("twice", "{PLAIN}Twice-pw")
    d = real_daemon(backend.section(), core=CORE, allow_err=True)
    assert login(d, f"twice@{DOMAIN}", "Twice-pw") == AUTH_FAILED
    d.wait_log("event=ambiguous_user")


# -------------------------------------------------------- outage, failover

def test_outage_is_temp_and_recovery_needs_no_restart(backend, server_up, real_daemon):
    d = real_daemon(backend.section(extra="connect-timeout: 2s\nquery-timeout: 2s"),
                    core=CORE, allow_err=True)
    assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
    backend.server.stop()
    for _ in range(3):
        assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == TEMP_FAILED
        # Never a wrong-password answer, whatever the password.
        assert login(d, f"plain@{DOMAIN}", "wrong") == TEMP_FAILED
    backend.server.start()
    deadline = time.monotonic() + 20
    reply = None
    while time.monotonic() < deadline:
        reply = login(d, f"plain@{DOMAIN}", "Pl4in-pw")
        if reply == LOGGED_IN_EMPTY:
            break
        assert reply == TEMP_FAILED, reply
        time.sleep(0.2)
    assert reply == LOGGED_IN_EMPTY, d.log_text()
    assert login(d, f"plain@{DOMAIN}", "wrong") == AUTH_FAILED
    assert d.proc.poll() is None
    assert_no_secret(d, DB_PASSWORD, "Pl4in-pw")


def test_failover_to_the_second_host(backend, server_up, real_daemon):
    dead = free_port()  # nothing listens there
    d = real_daemon(backend.section(host=f"127.0.0.1:{dead};127.0.0.1:{backend.server.port}"),
                    core=CORE)
    for _ in range(5):
        assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
    d.wait_log(f"event=db_connect_failed host=127.0.0.1:{dead}")


def test_unix_socket(backend, server_up, real_daemon):
    if backend.name == "mysql":
        section = backend.section(host=backend.server.socket)
    else:  # the socket's directory; its name carries the port
        section = backend.section(host=backend.server.socket_dir,
                                  extra=f"port: {backend.server.port}")
    d = real_daemon(section, core=CORE)
    assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY


def test_slow_query_is_temp_while_others_log_in(backend, server_up, real_daemon):
    backend.add_user("sleepy", "{PLAIN}Sleepy-pw", nap=30)
    d = real_daemon(backend.section(query=backend.slow_query, extra="query-timeout: 3s"),
                    core=CORE, allow_err=True)
    result = {}

    def sleepy():
        with Conn(d.host, d.port, timeout=40) as c:
            result["reply"] = try_login(c, f"sleepy@{DOMAIN}", "Sleepy-pw")
            result["at"] = time.monotonic()

    t = threading.Thread(target=sleepy)
    t.start()
    others = []
    for _ in range(200):
        if "reply" in result:
            break
        assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
        others.append(time.monotonic())
    t.join(timeout=60)
    assert result.get("reply") == TEMP_FAILED, (result, d.log_text())
    # Other users logged in while the slow query was running.
    assert [x for x in others if x < result["at"]], others
    d.wait_log("event=query_timeout")


# ----------------------------------------------------------------- on-login

def test_onlogin_query_writes_its_row(backend, server_up, real_daemon):
    backend.server.sql("DELETE FROM relay;")
    d = real_daemon(backend.section(
        extra="onlogin-query: INSERT INTO relay (ip, login) VALUES ('$(clienthost)', "
              "'$(local_part)@$(domain)')"), core=CORE)
    assert login(d, f"md5hex@{DOMAIN}", "Md5-hex") == LOGGED_IN_EMPTY
    assert login(d, f"md5hex@{DOMAIN}", "wrong") == AUTH_FAILED   # no row for a failure
    deadline = time.monotonic() + 10
    rows = []
    while time.monotonic() < deadline:
        rows = backend.server.sql("SELECT ip, login FROM relay")
        if rows:
            break
        time.sleep(0.05)
    assert rows == [["127.0.0.1", f"md5hex@{DOMAIN}"]]


def test_onlogin_query_runs_after_cram_and_scram_logins(backend, server_up, real_daemon):
    # CRAM-MD5 and SCRAM are checked in the worker from the looked-up secret;
    # the instance that gave it still runs its on-login statement.
    backend.server.sql("DELETE FROM relay;")
    d = real_daemon(backend.section(
        extra="onlogin-query: INSERT INTO relay (ip, login) VALUES ('$(clienthost)', "
              "'$(local_part)@$(domain)')"), core=CORE)
    with Conn(d.host, d.port) as c:
        assert cram_login(c, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert cram_login(c, f"plaintext@{DOMAIN}", "wrong") == AUTH_FAILED  # no row
    with Conn(d.host, d.port) as c:
        assert scram_login(c, f"scramsha256@{DOMAIN}", "Pw-scram-sha-256") == LOGGED_IN_EMPTY
    want = sorted([["127.0.0.1", f"plain@{DOMAIN}"], ["127.0.0.1", f"scramsha256@{DOMAIN}"]])
    deadline = time.monotonic() + 10
    rows = []
    while time.monotonic() < deadline:
        rows = sorted(backend.server.sql("SELECT ip, login FROM relay"))
        if len(rows) >= 2:
            break
        time.sleep(0.05)
    assert rows == want


# ------------------------------------------------------------------- pool

def test_many_logins_respect_the_pool_bound(backend, server_up, real_daemon):
    pool = 3
    d = real_daemon(backend.section(extra=f"pool-size: {pool}"),
                    core=dict(CORE, **{"auth-threads": "8", "workers": "2"}))
    total, clients = 1000, 8
    errors, peak = [], [0]
    done = threading.Event()

    def client(n):
        for i in range(n):
            try:
                r = login(d, f"plain@{DOMAIN}", "Pl4in-pw")
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
                return
            if r != LOGGED_IN_EMPTY:
                errors.append(r)

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], backend.server.connections())
            time.sleep(0.05)

    s = threading.Thread(target=sampler)
    s.start()
    threads = [threading.Thread(target=client, args=(total // clients,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    s.join(timeout=30)
    assert not errors, errors[:5]
    assert 1 <= peak[0] <= pool, peak[0]
    assert backend.server.connections() <= pool


# ------------------------------------------------------------ the password

def test_password_never_shown_and_password_file(backend, server_up, real_daemon, binary,
                                                staged_module_dir, workdir):
    conf = workdir / "show.conf"
    conf.write_text(f"module-dir: {staged_module_dir}\nlisten: 127.0.0.1:{free_port()}\n" +
                    backend.section())
    r = run(binary, "-n", "-f", str(conf))
    assert r.returncode == 0, r.stderr
    assert DB_PASSWORD not in r.stdout + r.stderr
    assert "password: <hidden>" in r.stdout

    pwfile = workdir / "db.pw"
    pwfile.write_text(DB_PASSWORD + "\n")
    os.chmod(pwfile, 0o644)
    section = backend.section().replace(f"password: {DB_PASSWORD}\n",
                                        f"password-file: {pwfile}\n")
    conf.write_text(f"module-dir: {staged_module_dir}\n" + section)
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode != 0
    assert f"{conf}:6:" in r.stderr and "chmod 600" in r.stderr, r.stderr

    os.chmod(pwfile, 0o600)
    d = real_daemon(section, core=CORE)
    assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
    assert_no_secret(d, DB_PASSWORD)


def test_query_errors_name_file_and_line(backend, binary, staged_module_dir, workdir):
    conf = workdir / "bad.conf"
    conf.write_text(f"module-dir: {staged_module_dir}\n" +
                    backend.section(query="SELECT a FROM t WHERE u='$(password)'"))
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:7:" in r.stderr and "unknown variable $(password)" in r.stderr, r.stderr


# ------------------------------------------------------- optional columns

def test_named_columns_uid_gid_and_login_delay(backend, server_up, real_daemon):
    backend.add_user("delayed", "{PLAIN}Delay-pw")
    backend.server.sql("UPDATE popbox SET login_delay = 600 WHERE local_part = 'delayed';")
    query = (f"SELECT 'empty' AS mailbox_type, password_hash AS password, {SESSION_UID} AS uid, "
             f"{SESSION_GID} AS gid, login_delay AS login_delay FROM popbox "
             f"WHERE local_part = '$(local_part)' AND domain_name = '$(domain)'")
    d = real_daemon(backend.section(query=query, extra="columns: names"), core=CORE)
    assert login(d, f"delayed@{DOMAIN}", "Delay-pw") == LOGGED_IN_EMPTY
    # The per-user LOGIN-DELAY from the row is enforced on the next login.
    assert login(d, f"delayed@{DOMAIN}", "Delay-pw").startswith("-ERR [LOGIN-DELAY]")
    # A user whose login_delay is NULL has none.
    assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
    assert login(d, f"plain@{DOMAIN}", "Pl4in-pw") == LOGGED_IN_EMPTY
