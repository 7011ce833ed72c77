"""A throw-away OpenLDAP slapd for the ldap suite: a test CA and server
certificate made with openssl, a generated slapd.conf (mdb backend, a small
schema for the POP attributes), the directory loaded with slapadd, and slapd
listening on ldap:// and ldaps:// at free 127.0.0.1 ports and on an ldapi://
socket, all under one temporary directory in /tmp.

Passwords are stored in several schemes: slapd checks them itself in bind
mode, the module checks them with the core's schemes in compare mode."""
import base64
import hashlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

from conftest import SESSION_GID, SESSION_UID, free_port

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SUFFIX = "dc=example,dc=org"
PEOPLE = "ou=people," + SUFFIX
SERVICE_DN = "cn=modpop3d,ou=services," + SUFFIX
SERVICE_PW = "Serv1ce-Pw"
ADMIN_DN = "cn=admin," + SUFFIX
ADMIN_PW = "Adm1n-Pw"

# Login name -> password. Schemes: see users() below.
PASSWORDS = {
    "alice": "Al1ce-Pw",       # no scheme: slapd's cleartext, the module's default-scheme
    "bob": "B0b-Pw",           # {SHA}
    "carol": "Car0l-Pw",       # {CRYPT} sha512-crypt
    "dave": "Dav3-Pw",         # {SSHA}: slapd knows it, the core does not
    "erin": "Er1n-Pw",         # {SCRAM-SHA-256} verifier: the core knows it, slapd does not
    "mia": "M1a-Pw",           # mailbox, login-delay and expire attributes
    "twin": "Tw1n-Pw",         # two entries share this uid
    "we*rd(1)\\x": "We1rd-Pw",  # filter metacharacters in the name itself
    "jörg": "J0erg-Pw",        # UTF-8 name
}

SCHEMA = """\
attributetype ( 1.3.6.1.4.1.32473.1.1.1 NAME 'popLoginDelay'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.2 NAME 'popExpire'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.3 NAME 'popMailbox'
  EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.1.1.4 NAME 'popMailboxType'
  EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.1.2.1 NAME 'popAccount' SUP top AUXILIARY
  MAY ( popLoginDelay $ popExpire $ popMailbox $ popMailboxType ) )
"""


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, timeout=60, **kw)


def make_ca(d, name):
    """A self-signed CA: returns (cert path, key path)."""
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN=modpop3d test {name}", "-keyout", str(key), "-out", str(cert),
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return cert, key


def make_server_cert(d, ca_cert, ca_key):
    key, csr, cert, ext = d / "server.key", d / "server.csr", d / "server.pem", d / "ext.cnf"
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(csr)])
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert)])
    return cert, key


def ldif_value(attr, value):
    """One LDIF line; base64 for values LDIF cannot carry as they are."""
    if isinstance(value, str):
        value = value.encode()
    safe = all(0x20 <= b < 0x7f for b in value) and value[:1] not in (b" ", b":", b"<")
    if safe and not value.endswith(b" "):
        return f"{attr}: {value.decode()}\n"
    return f"{attr}:: {base64.b64encode(value).decode()}\n"


def ssha(password):
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def users(scram_verifier):
    """(rdn, uid, mail, userPassword, extra attrs) of every person."""
    pw = PASSWORDS
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(pw["bob"].encode()).digest()).decode()
    crypt6 = run(["openssl", "passwd", "-6", "-salt", "ldapsalt", pw["carol"]],
                 text=True).stdout.strip()
    return [
        ("uid=alice", "alice", "alice@example.org", pw["alice"], {}),
        ("uid=bob", "bob", "bob@example.org", sha, {}),
        ("uid=carol", "carol", "carol@example.org", "{CRYPT}" + crypt6, {}),
        ("uid=dave", "dave", "dave@example.org", ssha(pw["dave"]), {}),
        ("uid=erin", "erin", "erin@example.org", scram_verifier, {}),
        ("uid=mia", "mia", "mia@example.org", pw["mia"],
         {"popMailbox": "empty:/srv/mail/mia", "popLoginDelay": "3600", "popExpire": "30"}),
        ("cn=twin1", "twin", "twin@example.org", pw["twin"], {}),
        ("cn=twin2", "twin", "twin@example.org", pw["twin"], {}),
        ("cn=weird", "we*rd(1)\\x", "weird@example.org", pw["we*rd(1)\\x"], {}),
        ("cn=joerg", "jörg", "joerg@example.org", pw["jörg"], {}),
    ]


def make_ldif(scram_verifier):
    out = (f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
           "o: Example\ndc: example\n\n"
           f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
           f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n\n"
           f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\n"
           f"objectClass: simpleSecurityObject\ncn: modpop3d\nuserPassword: {SERVICE_PW}\n\n")
    for rdn, uid, mail, password, extra in users(scram_verifier):
        cn = rdn.split("=", 1)[1]
        out += f"dn: {rdn},{PEOPLE}\n"
        out += ("objectClass: inetOrgPerson\nobjectClass: posixAccount\n"
                "objectClass: popAccount\n")
        out += ldif_value("uid", uid) + ldif_value("cn", cn) + ldif_value("sn", cn)
        out += ldif_value("mail", mail) + ldif_value("userPassword", password)
        out += (f"uidNumber: {SESSION_UID}\ngidNumber: {SESSION_GID}\n"
                "homeDirectory: /nonexistent\n")
        for k, v in extra.items():
            out += ldif_value(k, v)
        out += "\n"
    return out


class Slapd:
    """The running server; .ldap_uri, .ldaps_uri, .ldapi_uri, .ca, .wrong_ca."""

    def __init__(self, scram_verifier):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="modpop3d-slapd-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.ca, ca_key = make_ca(self.root, "ca")
        self.wrong_ca, _ = make_ca(self.root, "wrong-ca")
        self.cert, self.key = make_server_cert(self.root, self.ca, ca_key)
        for p in (self.ca, self.wrong_ca, self.cert):
            os.chmod(p, 0o644)
        (self.root / "pop.schema").write_text(SCHEMA)
        self.data = self.root / "data"
        self.data.mkdir(mode=0o700)
        self.port, self.tls_port = free_port(), free_port()
        self.socket = self.root / "ldapi"
        self.ldap_uri = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_uri = f"ldaps://127.0.0.1:{self.tls_port}"
        self.ldapi_uri = "ldapi://" + urllib.parse.quote(str(self.socket), safe="")
        self.conf = self.root / "slapd.conf"
        self.conf.write_text(self._conf())
        (self.root / "data.ldif").write_text(make_ldif(scram_verifier))
        run([SLAPADD, "-f", str(self.conf), "-l", str(self.root / "data.ldif")])
        self.proc = None
        self.log = self.root / "slapd.log"

    def _conf(self):
        schema = "/etc/ldap/schema"
        return (f"include {schema}/core.schema\ninclude {schema}/cosine.schema\n"
                f"include {schema}/nis.schema\ninclude {schema}/inetorgperson.schema\n"
                f"include {self.root}/pop.schema\n"
                "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                # Like many servers, accept a DN with an empty password as
                # an unauthenticated bind: the module must never send one.
                "allow bind_anon_dn\n"
                f"pidfile {self.root}/slapd.pid\nargsfile {self.root}/slapd.args\n"
                f"TLSCACertificateFile {self.ca}\nTLSCertificateFile {self.cert}\n"
                f"TLSCertificateKeyFile {self.key}\n"
                "database mdb\nmaxsize 33554432\n"
                f"suffix \"{SUFFIX}\"\nrootdn \"{ADMIN_DN}\"\nrootpw {ADMIN_PW}\n"
                f"directory {self.data}\n"
                "index uid,mail eq\n"
                # The service DN may read stored passwords (compare mode);
                # everyone else may only bind with them.
                "access to attrs=userPassword\n"
                f"  by dn.exact=\"{SERVICE_DN}\" read\n"
                "  by anonymous auth\n  by * none\n"
                # People are found by the service DN only; a user bound as
                # herself sees only her own entry (so a search made with a
                # user's identity would find no one else).
                f"access to dn.subtree=\"{PEOPLE}\"\n"
                f"  by dn.exact=\"{SERVICE_DN}\" read\n"
                "  by self read\n  by anonymous auth\n  by * none\n"
                "access to * by * read\n")

    def start(self):
        assert self.proc is None
        urls = f"{self.ldap_uri}/ {self.ldaps_uri}/ {self.ldapi_uri}/"
        with open(self.log, "ab") as log:
            # -d 0: stay in the foreground (no debug output) so that the
            # fixture owns the process.
            self.proc = subprocess.Popen([SLAPD, "-f", str(self.conf), "-h", urls, "-d", "0"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"slapd exited with {self.proc.returncode}:\n"
                                     + self.log.read_text(errors="replace"))
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise AssertionError("slapd did not answer within 20 s:\n" +
                             self.log.read_text(errors="replace"))

    def _answers(self):
        if not self.socket.exists():
            return False
        r = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", self.ldap_uri, "-b", SUFFIX,
                            "-s", "base", "1.1"], capture_output=True, timeout=10)
        return r.returncode == 0

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        # The ports must be free again before a restart binds them.
        for port in (self.port, self.tls_port):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) != 0:
                        break
                time.sleep(0.05)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
