"""Throw-away MariaDB and PostgreSQL servers for the sql suite, started
ONCE per pytest run (session fixtures) and stopped at its end.

Each server runs from Debian's packages (mariadb-server, postgresql) as an
unprivileged user (mysql / postgres when the tests run as root, else the
invoking user), with its data under /tmp (tempfile; the repository may sit
in a 0700 /root), listening on a unix socket in that directory and on
127.0.0.1 at a free port. The fixtures create the tpop3d-style schema
(popbox, domain) plus a relay table for on-login queries, and a database
user `modpop3d` with a password, which the daemon uses over TCP.

Tests reach the servers through `sql(text)` (the server's own command-line
client as the superuser) and may stop() and start() them (outage tests);
a fixture restarts a stopped server before the next test.
"""
import glob
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import free_port

DB_PASSWORD = "db-S3cret'\"pw"   # the modpop3d database user's password
DB_USER = "modpop3d"


def _server_user(name):
    """(uid, gid, name) the server runs as: `name` when we are root."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid(), None
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid, name


def _wait(pred, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s")


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _tempdir(prefix, uid, gid):
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(d, 0o755)
    os.chown(d, uid, gid) if os.getuid() == 0 else None
    return d


class MariaDB:
    """mariadb-install-db + mariadbd on D/mysql.sock and 127.0.0.1:port."""

    def __init__(self):
        self.proc = None
        self.uid, self.gid, self.user = _server_user("mysql")
        self.dir = _tempdir("modpop3d-mariadb-", self.uid, self.gid)
        self.socket = str(self.dir / "mysql.sock")
        self.port = free_port()
        self.proc = None
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        self.daemon = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:/usr/local/sbin")
        if install is None or self.daemon is None:
            pytest.skip("mariadb-server is not installed")
        subprocess.run([install, "--no-defaults", f"--datadir={self.dir}/data",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       user=self.user, group=self.user, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.start()
        self.sql(f"""
CREATE DATABASE mail CHARACTER SET utf8mb4;
CREATE USER '{DB_USER}'@'localhost' IDENTIFIED BY '{sql_quote_my(DB_PASSWORD)}';
CREATE USER '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{sql_quote_my(DB_PASSWORD)}';
GRANT SELECT, INSERT, UPDATE, DELETE ON mail.* TO '{DB_USER}'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON mail.* TO '{DB_USER}'@'127.0.0.1';
""", db=None)
        self.sql(SCHEMA)

    def start(self):
        log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [self.daemon, "--no-defaults", f"--datadir={self.dir}/data",
             f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--pid-file={self.dir}/mariadbd.pid", "--skip-name-resolve",
             "--max-connections=200", "--innodb-buffer-pool-size=16M", "--skip-log-bin",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin"],
            user=self.user, group=self.user, stdin=subprocess.DEVNULL, stdout=log,
            stderr=log)
        log.close()
        _wait(lambda: os.path.exists(self.socket) and _port_open(self.port) or
              self.proc.poll() is not None, "mariadbd ready")
        assert self.proc.poll() is None, (self.dir / "server.log").read_text()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.running():
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.proc = None

    def sql(self, text, db="mail"):
        """Run SQL as root over the socket; rows as lists of strings."""
        args = ["mariadb", "--no-defaults", "-S", self.socket, "-uroot", "-N", "-B"]
        if db:
            args += ["-D", db]
        out = subprocess.run(args, input=text, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [line.split("\t") for line in out.stdout.splitlines()]

    def connections(self):
        """Connections of the modpop3d user the server has open now."""
        return int(self.sql(f"SELECT COUNT(*) FROM information_schema.processlist "
                            f"WHERE user = '{DB_USER}'")[0][0])

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return found[-1] if found else shutil.which(name)


class PostgreSQL:
    """initdb + pg_ctl on a socket in D and 127.0.0.1:port; local socket
    logins are trusted (the superuser's psql), TCP logins need a password."""

    def __init__(self):
        self.uid, self.gid, self.user = _server_user("postgres")
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if self.initdb is None or self.pg_ctl is None or shutil.which("psql") is None:
            pytest.skip("postgresql is not installed")
        self.dir = _tempdir("modpop3d-pgsql-", self.uid, self.gid)
        self.socket_dir = str(self.dir)
        self.port = free_port()
        subprocess.run([self.initdb, "-D", f"{self.dir}/data", "-U", "postgres",
                        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                        "--no-sync"],
                       user=self.user, group=self.user, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.start()
        self.sql(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{sql_quote_pg(DB_PASSWORD)}';",
                 db="postgres")
        self.sql("CREATE DATABASE mail ENCODING 'UTF8' TEMPLATE template0;", db="postgres")
        self.sql(SCHEMA + f"GRANT SELECT, INSERT, UPDATE, DELETE ON popbox, domain, relay "
                          f"TO {DB_USER};")

    def start(self):
        subprocess.run([self.pg_ctl, "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log",
                        "-w", "-t", "60", "-o",
                        f"-k {self.socket_dir} -h 127.0.0.1 -p {self.port} "
                        f"-c max_connections=100 -c fsync=off", "start"],
                       user=self.user, group=self.user, check=True, timeout=90,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def running(self):
        return os.path.exists(f"{self.dir}/data/postmaster.pid")

    def stop(self):
        if self.running():
            subprocess.run([self.pg_ctl, "-D", f"{self.dir}/data", "-m", "fast", "-w",
                            "-t", "60", "stop"],
                           user=self.user, group=self.user, timeout=90,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def sql(self, text, db="mail"):
        out = subprocess.run(["psql", "-h", self.socket_dir, "-p", str(self.port), "-U",
                              "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t",
                              "-F", "\t"],
                             input=text, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def connections(self):
        return int(self.sql(f"SELECT COUNT(*) FROM pg_stat_activity "
                            f"WHERE usename = '{DB_USER}'")[0][0])

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def sql_quote_my(s):
    return s.replace("\\", "\\\\").replace("'", "''")


def sql_quote_pg(s):
    return s.replace("'", "''")


# tpop3d's vmail-sql schema (README.auth_mysql), plus optional per-user
# columns and the relay table an on-login query fills.
SCHEMA = """
CREATE TABLE domain (domain_name VARCHAR(255) NOT NULL, path VARCHAR(255) NOT NULL,
                     unix_user VARCHAR(64) NOT NULL);
CREATE TABLE popbox (local_part VARCHAR(255) NOT NULL, domain_name VARCHAR(255) NOT NULL,
                     password_hash VARCHAR(512), mbox_name VARCHAR(255) NOT NULL,
                     mbox_type VARCHAR(16) NOT NULL, home VARCHAR(255), scram VARCHAR(512),
                     login_delay INTEGER, expire VARCHAR(16), nap INTEGER NOT NULL DEFAULT 0);
CREATE TABLE relay (ip VARCHAR(64) NOT NULL, login VARCHAR(255) NOT NULL);
"""


def started(cls):
    """A server, stopped again if setting it up fails half-way."""
    server = cls.__new__(cls)
    try:
        server.__init__()
    except BaseException:
        if getattr(server, "dir", None) is not None:
            server.cleanup()
        raise
    return server
