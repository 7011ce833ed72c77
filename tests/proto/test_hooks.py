"""Hook modules run in the auth process (DESIGN.md): AUTH_OK, AUTH_FAIL,
LOGIN and LOGOUT reach it from the login workers over their channel, with
the counters; a veto at AUTH_OK or LOGIN refuses the login. hook_test
records each event with the pid and uid that ran it."""
import os
import time

from conftest import DEFAULT_MODULES, SESSION_UID
from pop3wire import Conn
from procs import auth_of, wait_for


def hook_modules(record, extra=""):
    # The auth process runs as mail-user: it must be able to append.
    record.write_text("")
    os.chmod(record, 0o666)
    return DEFAULT_MODULES + f"[hook_test]\nrecord: {record}\n{extra}"


def events(record):
    return record.read_text().splitlines()


def test_events_run_in_the_auth_process_with_counters(start_daemon, workdir):
    record = workdir / "events"
    d = start_daemon(modules=hook_modules(record))
    auth = auth_of(d)
    with Conn(d.host, d.port) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS wrong").startswith("-ERR [AUTH]")
        c.login()
        assert c.multi("RETR 1").startswith(b"+OK")
        assert c.cmd("DELE 2") == "+OK Message deleted\r\n"
        assert c.cmd("QUIT").startswith("+OK Logging out")
    got = wait_for("the LOGOUT event", lambda: (lambda e: e if any(
        l.startswith("LOGOUT") for l in e) else None)(events(record)))
    where = f"pid={auth} uid={SESSION_UID}"
    assert got == [
        f"AUTH_FAIL user=alice {where} messages=0 retrieved=0 deleted=0",
        f"AUTH_OK user=alice {where} messages=0 retrieved=0 deleted=0",
        f"LOGIN user=alice {where} messages=3 retrieved=0 deleted=0",
        f"LOGOUT user=alice {where} messages=3 retrieved=1 deleted=1",
    ]


def test_a_veto_refuses_the_login(start_daemon, workdir):
    record = workdir / "events"
    d = start_daemon(modules=hook_modules(record, "veto-login: bob\nveto-auth: alice\n"))
    with Conn(d.host, d.port) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS secret").startswith("-ERR [AUTH]")
        assert c.cmd("USER bob") == "+OK Send your password\r\n"
        assert c.cmd("PASS hunter2").startswith("-ERR")
        assert c.cmd("STAT").startswith("-ERR")  # still not logged in
    lines = events(record)
    assert any(l.startswith("AUTH_OK user=alice") for l in lines)
    assert any(l.startswith("LOGIN user=bob") for l in lines)
    assert not any(l.startswith("LOGOUT") for l in lines)
    time.sleep(0.2)
    assert "event=login " not in d.log_text()
