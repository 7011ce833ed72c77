"""The pieces the sql suite's tests share: one Backend per database (the
server fixture, the module's name, its tpop3d query), the users and their
secrets in every scheme, and config sections for the daemon."""
import base64
import glob
import hashlib
import os
import pwd
import subprocess

import pytest

from conftest import SESSION_UID
from sqlconf import DB_PASSWORD, DB_USER  # noqa: F401

# The unix user every row names: the sessions' own (nobody under root).
UNIX_USER = pwd.getpwuid(SESSION_UID).pw_name
DOMAIN = "example.org"


def md5hex(pw):
    return hashlib.md5(pw.encode()).hexdigest()


def schemes(tool):
    """(local_part, password, stored secret) in every scheme the core knows,
    the tpop3d ones computed here, the others made by modpop3d-passwd."""
    def made(scheme, pw):
        out = subprocess.run([tool, "--stdin", "-s", scheme], input=pw + "\n",
                             capture_output=True, text=True, timeout=60, check=True)
        return out.stdout.strip()

    sha1 = hashlib.sha1
    users = [
        ("plain", "Pl4in-pw", "{PLAIN}Pl4in-pw"),
        ("plaintext", "Pl4in-text", "{plaintext}Pl4in-text"),            # tpop3d's spelling
        ("md5bare", "Md5-bare", md5hex("Md5-bare")),                     # tpop3d SQL default
        ("md5hex", "Md5-hex", "{MD5}" + md5hex("Md5-hex")),
        ("md5b64", "Md5-b64", "{MD5}" + base64.b64encode(
            hashlib.md5(b"Md5-b64").digest()).decode()),
        ("sha1hex", "Sha1-hex", "{SHA1}" + sha1(b"Sha1-hex").hexdigest()),
        ("shab64", "Sha-b64", "{SHA}" + base64.b64encode(sha1(b"Sha-b64").digest()).decode()),
        ("mysql41", "My-sql", "{MYSQL}*" + sha1(sha1(b"My-sql").digest()).hexdigest().upper()),
    ]
    for scheme in ("yescrypt", "sha512-crypt", "sha256-crypt", "bcrypt", "md5-crypt",
                   "argon2id", "scram-sha-256"):
        pw = "Pw-" + scheme
        users.append((scheme.replace("-", ""), pw, made(scheme, pw)))
    # {CRYPT} prefix in front of a crypt string, as tpop3d wrote it.
    users.append(("cryptprefix", "Crypt-pw", "{CRYPT}" + made("sha512-crypt", "Crypt-pw")))
    return users


class Backend:
    def __init__(self, name, server, tool):
        self.name = name            # "mysql" or "pgsql"
        self.module = "auth_" + name
        self.server = server
        self.users = schemes(tool)
        self.unix_user = UNIX_USER
        self.tool = tool
        cat = ("concat(domain.path, '/', popbox.mbox_name)" if name == "mysql"
               else "domain.path || '/' || popbox.mbox_name")
        # tpop3d's default query (README.auth_mysql) with the type column
        # taken from the row and one extra named column.
        self.query = (f"SELECT {cat}, popbox.password_hash, domain.unix_user, popbox.mbox_type, "
                      f"popbox.scram AS scram FROM popbox, domain "
                      f"WHERE popbox.local_part='$(local_part)' AND "
                      f"popbox.domain_name='$(domain)' AND "
                      f"popbox.domain_name=domain.domain_name")
        nap = ("IF(SLEEP(popbox.nap) = 0, '', '')" if name == "mysql"
               else "(SELECT ''::text FROM pg_sleep(popbox.nap))")
        slow_cat = (f"concat(domain.path, '/', popbox.mbox_name, {nap})" if name == "mysql"
                    else f"domain.path || '/' || popbox.mbox_name || {nap}")
        self.slow_query = self.query.replace(cat, slow_cat, 1)

    def q(self, s):
        """A value as an SQL literal for this server (test data only)."""
        if self.name == "mysql":
            s = s.replace("\\", "\\\\")
        return "'" + s.replace("'", "''") + "'"

    def add_user(self, local, secret, scram=None, nap=0, mbox_type="empty", domain=DOMAIN):
        sc = self.q(scram) if scram else "NULL"
        pw = self.q(secret) if secret is not None else "NULL"
        self.server.sql(f"INSERT INTO popbox (local_part, domain_name, password_hash, "
                        f"mbox_name, mbox_type, scram, nap) VALUES ({self.q(local)}, "
                        f"{self.q(domain)}, {pw}, {self.q(local)}, {self.q(mbox_type)}, "
                        f"{sc}, {nap});")

    def section(self, host=None, instance="", query=None, extra=""):
        host = host or f"127.0.0.1:{self.server.port}"
        head = f"[{self.module}/{instance}]" if instance else f"[{self.module}]"
        return (f"{head}\nhostname: {host}\ndatabase: mail\nusername: {DB_USER}\n"
                f"password: {DB_PASSWORD}\npass-query: {query or self.query}\n"
                f"retry-interval: 100ms\nretry-max: 500ms\n{extra}\n"
                "[mailbox_empty]\n")


def passwd_tool(stage):
    tool = glob.glob(str(stage) + "/**/bin/modpop3d-passwd", recursive=True)
    assert len(tool) == 1, tool
    return tool[0]


def module_installed(staged_module_dir, module):
    if not os.path.exists(os.path.join(staged_module_dir, module + ".so")):
        pytest.skip(f"{module} was not built (library missing)")
