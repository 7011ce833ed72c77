"""A private Postfix instance for the POP-before-SMTP tests: the Debian
package's real master and smtpd, with their own config_directory,
queue_directory and data_directory in a temporary directory, listening on
127.0.0.1 only, relaying for nobody but the addresses the relay map names,
and delivering nothing (every transport is error:). The system Postfix is
neither used nor touched. Started once per pytest session (conftest.py).

Postfix must start as root (master binds, then its daemons drop to the
`postfix` user the Debian package created); when the tests do not run as
root the suite is skipped with the reason."""
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
POSTMAP = "/usr/sbin/postmap"
MASTER_DIST = "/usr/share/postfix/master.cf.dist"
# The services a queue needs; the pipe(8) examples of master.cf.dist name
# users that do not exist here.
KEEP = {"pickup", "cleanup", "qmgr", "tlsmgr", "rewrite", "bounce", "defer", "trace", "verify",
        "flush", "proxymap", "proxywrite", "smtp", "relay", "showq", "error", "retry", "discard",
        "local", "anvil", "scache", "postlog"}


def unavailable():
    """Why this machine cannot run the instance, or None."""
    if not (os.path.exists(POSTFIX) and os.path.exists(MASTER_DIST)):
        return "postfix is not installed (scripts/debian-packages.txt)"
    if os.getuid() != 0:
        return "a private Postfix instance must be started as root"
    try:
        import pwd
        pwd.getpwnam("postfix")
    except KeyError:
        return "the postfix user is missing (the Debian package creates it)"
    return None


def _master_cf(port):
    lines, keep = [], False
    for line in pathlib.Path(MASTER_DIST).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line[0] in " \t":
            if keep:
                lines.append(line)
            continue
        f = line.split()
        keep = f[0] in KEEP and f[1] != "inet"
        if keep:
            f[4] = "n"  # no chroot: the queue directory holds no etc/
            lines.append(" ".join(f))
    lines.insert(0, f"127.0.0.1:{port} inet n - n - - smtpd")
    return "\n".join(lines) + "\n"


class Postfix:
    """The running instance: `port`, `map_path` (the relay map's path without
    .db, in `map_dir`, which the POP3 daemon's auth process can write), and
    `map_command` (postmap for it)."""

    def __init__(self, port):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="modpop3d-postfix-"))
        os.chmod(self.root, 0o755)
        self.conf = self.root / "conf"
        self.queue = self.root / "queue"
        self.data = self.root / "data"
        self.map_dir = self.root / "popbsmtp"
        for d in (self.conf, self.queue, self.data, self.map_dir):
            d.mkdir()
            os.chmod(d, 0o755)
        shutil.chown(self.data, "postfix")
        self.port = port
        self.map_path = self.map_dir / "relay"
        self.log = self.root / "maillog"
        self.map_command = f"{POSTMAP} -c {self.conf} hash:{self.map_path}"

    def write_config(self):
        (self.conf / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = popbsmtp-test.localdomain
mydomain = localdomain
mydestination = $myhostname
# 127.0.0.1 only; the tests' SMTP client is 127.0.0.2, not trusted.
mynetworks = 127.0.0.1/32
# Nothing leaves this instance: the tests stop at RCPT (no DATA), and were
# a message queued anyway, every transport that could deliver is deferred
# and the relay host is a loopback port nobody serves.
relayhost = [127.0.0.1]:9
defer_transports = smtp, relay, local, virtual, lmtp
local_transport = error:the test instance delivers nothing
alias_maps =
alias_database =
smtpd_relay_restrictions =
smtpd_recipient_restrictions = check_client_access hash:{self.map_path},
    reject_unauth_destination
# One session per smtpd process: each connection opens the current map.
max_use = 1
smtpd_banner = $myhostname ESMTP
maillog_file = {self.log}
maillog_file_prefixes = {self.root}
smtputf8_enable = no
biff = no
""")
        (self.conf / "master.cf").write_text(_master_cf(self.port))

    def postfix(self, *args, check=True):
        return subprocess.run([POSTFIX, "-c", str(self.conf), *args], capture_output=True,
                              text=True, timeout=60, check=check)

    def start(self):
        self.write_config()
        # An empty map before any login: Postfix defers (4xx) on a missing
        # table, and the test wants the refusal a missing entry gives.
        self.map_path.write_text("")
        subprocess.run([*self.map_command.split()], check=True, timeout=30)
        # The hook runs as the daemon's mail-user (nobody when root): it
        # rewrites the map and postmap rewrites the .db.
        for p in (self.map_dir, self.map_path, self.map_path.with_name("relay.db")):
            shutil.chown(p, "nobody", "nogroup")
        self.postfix("check", check=False)
        self.postfix("start")
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(512).startswith(b"220 "):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("postfix did not answer within 20s:\n" + self.log_text())
            time.sleep(0.1)

    def stop(self):
        self.postfix("stop", check=False)
        # master waits for its children; bounded wait for the pid file to go.
        pid = self.queue / "pid" / "master.pid"
        for _ in range(100):
            if not pid.exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def rcpt(self, source, rcpt="someone@outside.example"):
        """One SMTP session from `source` up to RCPT TO; returns the RCPT
        reply line (e.g. '554 5.7.1 ...' or '250 2.1.5 Ok')."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10,
                                      source_address=(source, 0)) as s:
            f = s.makefile("rb")

            def reply():
                lines = []
                for _ in range(50):
                    line = f.readline()
                    if not line:
                        raise EOFError(b"".join(lines))
                    lines.append(line)
                    if line[3:4] != b"-":
                        return line.decode().rstrip("\r\n")
                raise AssertionError(lines)

            assert reply().startswith("220 ")
            for cmd, want in ((b"EHLO client.test", "250"),
                              (b"MAIL FROM:<sender@client.test>", "250")):
                s.sendall(cmd + b"\r\n")
                r = reply()
                assert r.startswith(want), (cmd, r)
            s.sendall(f"RCPT TO:<{rcpt}>\r\n".encode())
            answer = reply()
            s.sendall(b"QUIT\r\n")
            return answer
