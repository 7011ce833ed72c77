"""End to end: the daemon with the REAL staged modules (auth_flatfile,
mailbox_maildir, mailbox_mbox, mailbox_empty) serving stores written here.

Every expected byte is computed in this file from the stored text: CRLF line
ends (a CR already before LF is kept), dot-stuffing, the terminator.
"""
import glob
import os
import pathlib
import subprocess

import pytest

from conftest import SESSION_UID, SESSION_GID
from pop3wire import Conn, login_retrying

PASSWORDS = {"mdu": "maildir-pass", "mbu": "mbox-pass", "nou": "nothing-pass",
             "both": "both-pass"}

# Stored messages: awkward on purpose. Maildir keeps any bytes; an mbox needs
# a final LF on each message (the separator follows) and no "From " lines.
MESSAGES = [
    b"Subject: dots\n\n.leading dot\n..two dots\n.\nend\n",
    b"Subject: crlf\r\n\r\nalready CRLF\r\nmixed\n",
    b"Subject: 8bit\n\n" + bytes(range(0x80, 0x100)) + b"\n\xff\xfe caf\xc3\xa9\n",
    b"Subject: empty body\n\n",
    b"Subject: nul\n\nbefore\x00after \x00\x00 end\n",
]
NO_FINAL_NEWLINE = b"Subject: no final newline\n\nlast line without LF"


def wire_lines(stored):
    """The stored message as CRLF lines (bytes, without line ends)."""
    lines = stored.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [l[:-1] if l.endswith(b"\r") else l for l in lines]


def pop3_size(stored):
    """LIST size: the stored octets with every bare LF counted as CRLF. A last
    line without LF gets no CRLF here (the modules' convention): the CRLF the
    wire adds before the terminator is not part of the message."""
    return len(stored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def retr_body(stored, top=None):
    """The multi-line reply body after the +OK line, terminator included."""
    lines = wire_lines(stored)
    if top is not None:
        blank = lines.index(b"")
        lines = lines[:blank + 1 + top]
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return out + b".\r\n"


def unstuff(body):
    """Reverse of the wire form: drop the terminator and the stuffed dots."""
    assert body.endswith(b".\r\n")
    lines = body[:-3].split(b"\r\n")[:-1]
    return sum(len(l[1:] if l.startswith(b".") else l) + 2 for l in lines)


# ---------------------------------------------------------------- the store

def own(path):
    if os.getuid() == 0:
        os.chown(path, SESSION_UID, SESSION_GID)


class Store:
    def __init__(self, root, stage):
        self.root = root
        self.homes = root / "homes"
        self.homes.mkdir(mode=0o755)
        own(self.homes)
        self.counter = 0
        tool = glob.glob(str(stage) + "/**/bin/modpop3d-passwd", recursive=True)
        assert len(tool) == 1, tool
        lines = []
        for user, pw in PASSWORDS.items():
            h = subprocess.run([tool[0], "--stdin"], input=pw + "\n", capture_output=True,
                               text=True, timeout=30, check=True).stdout.strip()
            assert h and ":" not in h, h
            lines.append(f"{user}:{h}\n")
            home = self.homes / user
            home.mkdir(mode=0o700)
            own(home)
        self.users = root / "users"
        self.users.write_text("".join(lines))
        os.chmod(self.users, 0o600)
        own(self.users)

    def maildir(self, user):
        md = self.homes / user / "Maildir"
        for d in (md, md / "new", md / "cur", md / "tmp"):
            d.mkdir(mode=0o700, exist_ok=True)
            own(d)
        return md

    def deliver(self, user, content):
        """tmp/ then rename into new/, as an MDA; returns the new/ path."""
        md = self.maildir(user)
        self.counter += 1
        name = f"{1700000000 + self.counter}.M{self.counter}P1.e2e"
        tmp = md / "tmp" / name
        tmp.write_bytes(content)
        os.chmod(tmp, 0o600)
        own(tmp)
        os.rename(tmp, md / "new" / name)
        return md / "new" / name

    def mbox(self, user, messages):
        path = self.homes / user / "mbox"
        data = b""
        for i, m in enumerate(messages):
            assert m.endswith(b"\n") and b"\nFrom " not in m
            data += f"From sender{i}@example.org Mon Jan  1 00:00:0{i} 2024\n".encode()
            data += m + b"\n"
        path.write_bytes(data)
        os.chmod(path, 0o600)
        own(path)
        return path

    def modules(self):
        return (f"[auth_flatfile]\nfile: {self.users}\nhome: {self.homes}/$(user)\n"
                f"uid: {SESSION_UID}\ngid: {SESSION_GID}\n"
                "default-mailbox: maildir:$(home)/Maildir bsd:$(home)/mbox empty:\n"
                "[mailbox_maildir]\n[mailbox_mbox]\nlock-timeout: 1s\n[mailbox_empty]\n")


@pytest.fixture
def store(workdir, stage):
    return Store(workdir, stage)


@pytest.fixture
def e2e(start_daemon, staged_module_dir, store):
    """A factory: a daemon on the staged modules serving `store`."""
    def start(**core):
        return start_daemon(core={"module-dir": staged_module_dir, **core},
                            modules=store.modules())
    return start


def login(d, user):
    c, reply = login_retrying(d.host, d.port, user, PASSWORDS[user])
    return c, reply


def uidl_listing(d, user):
    c, _ = login(d, user)
    with c:
        listing = c.multi("UIDL")
        assert c.cmd("QUIT").startswith("+OK")
    assert listing.startswith(b"+OK")
    return listing


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_retr_top_list_byte_exact(e2e, store, kind):
    msgs = list(MESSAGES)
    if kind == "maildir":
        msgs.append(NO_FINAL_NEWLINE)
        for m in msgs:
            store.deliver("both", m)
    else:
        store.mbox("both", msgs)
    d = e2e()
    c, reply = login(d, "both")
    with c:
        total = sum(pop3_size(m) for m in msgs)
        assert reply == f"+OK Logged in, {len(msgs)} messages ({total} octets)\r\n"
        assert c.cmd("STAT") == f"+OK {len(msgs)} {total}\r\n"
        listing = c.multi("LIST")
        expect = b"".join(f"{i} {pop3_size(m)}\r\n".encode() for i, m in enumerate(msgs, 1))
        assert listing.split(b"\r\n", 1)[1] == expect + b".\r\n"
        for i, m in enumerate(msgs, 1):
            assert c.cmd(f"LIST {i}") == f"+OK {i} {pop3_size(m)}\r\n"
            got = c.multi(f"RETR {i}")
            first, body = got.split(b"\r\n", 1)
            assert first.startswith(b"+OK"), got
            assert body == retr_body(m), (i, body)
            assert unstuff(body) == pop3_size(m) + (0 if m.endswith(b"\n") else 2)
            for n in (0, 1, 100):
                got = c.multi(f"TOP {i} {n}")
                assert got.split(b"\r\n", 1)[1] == retr_body(m, top=n), (i, n)
        assert c.cmd("QUIT").startswith("+OK")


def test_uidls_stable_across_sessions_and_restart(e2e, store):
    for m in MESSAGES:
        store.deliver("mdu", m)
    store.mbox("mbu", MESSAGES)
    d = e2e()
    first = {u: uidl_listing(d, u) for u in ("mdu", "mbu")}
    assert first == {u: uidl_listing(d, u) for u in ("mdu", "mbu")}
    for u in first:
        assert first[u].count(b"\r\n") == len(MESSAGES) + 2
        uidls = [l.split(b" ")[1] for l in first[u].split(b"\r\n")[1:-2]]
        assert len(set(uidls)) == len(MESSAGES)
    assert d.terminate() == 0
    d2 = e2e()
    assert first == {u: uidl_listing(d2, u) for u in ("mdu", "mbu")}


def test_maildir_dele_quit_removes_and_drop_keeps(e2e, store):
    paths = [store.deliver("mdu", m) for m in MESSAGES]
    d = e2e()
    # A dropped session (no QUIT) changes nothing.
    c, _ = login(d, "mdu")
    assert c.cmd("DELE 1").startswith("+OK")
    c.close()
    c, reply = login(d, "mdu")  # retries while the dropped session is closing
    with c:
        assert reply.startswith(f"+OK Logged in, {len(MESSAGES)} messages")
        assert c.cmd("DELE 2").startswith("+OK")
        assert c.cmd("QUIT").startswith("+OK")
        assert c.closed()
    md = paths[0].parent.parent
    bases = sorted(p.name.split(":")[0] for d in ("new", "cur") for p in (md / d).iterdir())
    assert bases == sorted(p.name for i, p in enumerate(paths) if i != 1)
    c, reply = login(d, "mdu")
    with c:
        assert reply.startswith(f"+OK Logged in, {len(MESSAGES) - 1} messages")
        assert c.cmd("QUIT").startswith("+OK")


def test_mbox_dele_quit_removes_and_drop_keeps(e2e, store):
    path = store.mbox("mbu", MESSAGES)
    before = path.read_bytes()
    d = e2e()
    c, _ = login(d, "mbu")
    assert c.cmd("DELE 1").startswith("+OK")
    c.close()
    c, reply = login(d, "mbu")
    with c:
        assert reply.startswith(f"+OK Logged in, {len(MESSAGES)} messages")
        assert c.cmd("QUIT").startswith("+OK")
    assert path.read_bytes() == before
    c, _ = login(d, "mbu")
    with c:
        assert c.cmd("DELE 2").startswith("+OK")
        assert c.cmd("QUIT").startswith("+OK")
        assert c.closed()
    left = [m for i, m in enumerate(MESSAGES) if i != 1]
    c, reply = login(d, "mbu")
    with c:
        total = sum(pop3_size(m) for m in left)
        assert reply == f"+OK Logged in, {len(left)} messages ({total} octets)\r\n"
        for i, m in enumerate(left, 1):
            assert c.multi(f"RETR {i}").split(b"\r\n", 1)[1] == retr_body(m)
        assert c.cmd("QUIT").startswith("+OK")
    assert MESSAGES[1] not in path.read_bytes()


def test_spec_list_mbox_only_and_nothing(e2e, store):
    store.mbox("mbu", MESSAGES[:2])
    d = e2e()
    c, reply = login(d, "mbu")
    with c:
        total = sum(pop3_size(m) for m in MESSAGES[:2])
        assert reply == f"+OK Logged in, 2 messages ({total} octets)\r\n"
        assert c.multi("RETR 2").split(b"\r\n", 1)[1] == retr_body(MESSAGES[1])
        assert c.cmd("QUIT").startswith("+OK")
    c, reply = login(d, "nou")
    with c:
        assert reply == "+OK Logged in, 0 messages (0 octets)\r\n"
        assert c.cmd("STAT") == "+OK 0 0\r\n"
        assert c.multi("UIDL") == b"+OK Unique-ID listing follows\r\n.\r\n"
        assert c.cmd("RETR 1") == "-ERR No such message\r\n"
        assert c.cmd("QUIT").startswith("+OK")


def test_mbox_second_session_in_use(e2e, store):
    store.mbox("mbu", MESSAGES[:1])
    d = e2e()
    c, _ = login(d, "mbu")
    with c:
        with Conn(d.host, d.port) as c2:
            assert c2.cmd("USER mbu") == "+OK Send your password\r\n"
            assert c2.cmd(f"PASS {PASSWORDS['mbu']}").startswith("-ERR [IN-USE]")
        assert c.cmd("STAT") == f"+OK 1 {pop3_size(MESSAGES[0])}\r\n"
        assert c.cmd("QUIT").startswith("+OK")


def test_maildir_delivery_during_session_seen_next_time(e2e, store):
    store.deliver("mdu", MESSAGES[0])
    d = e2e()
    c, reply = login(d, "mdu")
    with c:
        assert reply.startswith("+OK Logged in, 1 message (")
        store.deliver("mdu", MESSAGES[1])
        assert c.cmd("STAT") == f"+OK 1 {pop3_size(MESSAGES[0])}\r\n"
        assert c.cmd("LIST 2") == "-ERR No such message\r\n"
        assert c.cmd("QUIT").startswith("+OK")
    c, reply = login(d, "mdu")
    with c:
        total = pop3_size(MESSAGES[0]) + pop3_size(MESSAGES[1])
        assert reply == f"+OK Logged in, 2 messages ({total} octets)\r\n"
        assert c.multi("RETR 2").split(b"\r\n", 1)[1] == retr_body(MESSAGES[1])
        assert c.cmd("QUIT").startswith("+OK")


# ---------------------------------------------------------------- EXPIRE (RFC 2449)

def maildir_names(md):
    return sorted(p.name.split(":")[0] for d in ("new", "cur") for p in (md / d).iterdir())


def test_expire_0_deletes_what_was_retrieved_at_quit_only(e2e, store):
    paths = [store.deliver("mdu", m) for m in MESSAGES[:3]]
    md = paths[0].parent.parent
    d = e2e(expire="0")
    with Conn(d.host, d.port) as c:
        assert b"\r\nEXPIRE 0 USER\r\n" in c.multi("CAPA")
    # RETR, then drop without QUIT: nothing is deleted.
    c, _ = login(d, "mdu")
    assert c.multi("RETR 1").startswith(b"+OK")
    c.close()
    c, reply = login(d, "mdu")
    with c:
        assert reply.startswith("+OK Logged in, 3 messages")
        assert b"\r\nEXPIRE 0\r\n" in c.multi("CAPA")
        assert c.multi("RETR 2").startswith(b"+OK")
        assert c.multi("TOP 3 0").startswith(b"+OK")  # TOP is not a download
        assert c.cmd("QUIT").startswith("+OK")
        assert c.closed()
    assert maildir_names(md) == sorted(p.name for i, p in enumerate(paths) if i != 1)
    d.wait_log("expired=1")
    c, reply = login(d, "mdu")
    with c:
        assert reply.startswith("+OK Logged in, 2 messages")
        c.cmd("QUIT")


def test_expire_days_hides_and_deletes_old_seen_mail(e2e, store):
    import time
    md = store.maildir("mdu")
    old_seen = md / "cur" / "1500000000.M1P1.e2e:2,S"         # seen, delivered in 2017
    old_unseen = md / "new" / "1500000001.M2P1.e2e"          # never retrieved
    now = int(time.time())
    new_seen = md / "cur" / f"{now - 3600}.M3P1.e2e:2,S"     # seen an hour ago
    for p in (old_seen, old_unseen, new_seen):
        p.write_bytes(b"Subject: x\n\nbody\n")
        os.chmod(p, 0o600)
        own(p)
    d = e2e(expire="30")
    c, reply = login(d, "mdu")
    with c:
        assert reply.startswith("+OK Logged in, 2 messages"), reply
        assert b"\r\nEXPIRE 30\r\n" in c.multi("CAPA")
        c.close()  # dropped: the hidden message stays on disk
    assert old_seen.exists()
    c, reply = login(d, "mdu")
    with c:
        assert reply.startswith("+OK Logged in, 2 messages")
        assert c.cmd("QUIT").startswith("+OK")
        assert c.closed()
    assert not old_seen.exists()
    assert maildir_names(md) == sorted([old_unseen.name, new_seen.name.split(":")[0]])


def test_expire_never_is_announced_and_deletes_nothing(e2e, store):
    paths = [store.deliver("mdu", m) for m in MESSAGES[:2]]
    d = e2e(expire="never")
    c, _ = login(d, "mdu")
    with c:
        assert b"\r\nEXPIRE NEVER\r\n" in c.multi("CAPA")
        assert c.multi("RETR 1").startswith(b"+OK")
        assert c.cmd("QUIT").startswith("+OK")
        assert c.closed()
    assert maildir_names(paths[0].parent.parent) == sorted(p.name for p in paths)


def test_expire_bad_value_is_a_config_error(binary, workdir):
    from conftest import run
    conf = workdir / "expire.conf"
    conf.write_text("listen: 127.0.0.1:1\nexpire: soon\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:2: expire: 'soon' is not a number of days" in r.stderr, r.stderr
