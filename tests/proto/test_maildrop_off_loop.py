"""Opening and listing a maildrop runs off the worker's event loop when every
mailbox module is thread-safe (ARCHITECTURE.md): a maildrop that takes long
to open (mailbox_slow: 5 s for bob, as a 100,000-message maildrop on a cold
cache or a hung NFS server would) holds up only its own login, on a daemon
with one worker."""
import os

from conftest import DEFAULT_MODULES
from pop3wire import Conn
from procs import wait_for


def slow_modules(record):
    record.write_text("")
    os.chmod(record, 0o666)  # the worker runs as mail-user
    auth = DEFAULT_MODULES.split("[mailbox_memory]")[0] + "mailbox: slow:$(user)\n"
    return auth + f"[mailbox_slow]\nslow-users: bob\nopen-ms: 5000\nrecord: {record}\n"


def test_a_slow_maildrop_holds_up_only_its_own_login(start_daemon, workdir):
    record = workdir / "opens"
    d = start_daemon(modules=slow_modules(record))
    with Conn(d.host, d.port) as slow:
        assert slow.cmd("USER bob").startswith("+OK")
        slow.send("PASS hunter2\r\n")
        with Conn(d.host, d.port) as c:
            c.login()
            assert c.cmd("STAT") == "+OK 1 23\r\n"
            assert c.multi("RETR 1") == b"+OK 23 octets\r\nSubject: slow\r\n\r\nbody\r\n.\r\n"
            assert c.cmd("QUIT").startswith("+OK")
        assert "OPEN_DONE user=bob" not in record.read_text()  # bob's open still runs
        assert slow.nothing_pending()
        assert slow.line().startswith(b"+OK")  # then bob is in, with his listing
        assert "OPEN_DONE user=bob" in record.read_text()
        assert slow.cmd("STAT") == "+OK 1 23\r\n"
        assert slow.cmd("QUIT").startswith("+OK")


def test_a_client_gone_during_a_slow_open_ends_its_session(start_daemon, workdir):
    # The client sends PASS and closes while its maildrop opens on the pool:
    # the login completes (a pipelined PASS is answered, as before), its
    # session ends at once with the close, and the worker serves on.
    record = workdir / "opens"
    d = start_daemon(modules=slow_modules(record))
    with Conn(d.host, d.port) as slow:
        assert slow.cmd("USER bob").startswith("+OK")
        slow.send("PASS hunter2\r\n")
    wait_for("bob's slow open to end", lambda: "OPEN_DONE user=bob" in record.read_text(),
             timeout=10)
    d.wait_log("event=logout user=bob")
    with Conn(d.host, d.port) as c:
        c.login()
        assert c.cmd("STAT") == "+OK 1 23\r\n"
        assert c.cmd("QUIT").startswith("+OK")
    lines = d.log_text().splitlines()
    assert [l for l in lines if "event=logout user=bob" in l][0].count("reason=disconnected") == 1
