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


def test_a_hung_login_hook_holds_up_only_its_own_login(start_daemon, workdir):
    # One worker: bob's LOGIN hook hangs for 5 s in the auth process while
    # alice logs in, reads and quits on the same worker. The worker never
    # waits for a hook, so alice is served before bob's hook is done.
    record = workdir / "events"
    d = start_daemon(core={"hook-timeout": "60s"},
                     modules=hook_modules(record, "stall-login: bob\nstall-ms: 5000\n"))
    with Conn(d.host, d.port) as slow:
        assert slow.cmd("USER bob").startswith("+OK")
        slow.send("PASS hunter2\r\n")
        wait_for("bob's LOGIN hook running",
                 lambda: any(l.startswith("LOGIN user=bob") for l in events(record)))
        with Conn(d.host, d.port) as c:
            c.login()
            assert c.cmd("STAT").startswith("+OK 3 ")
            assert c.cmd("QUIT").startswith("+OK")
        assert "STALL_DONE user=bob" not in events(record)  # bob's hook still runs
        assert slow.nothing_pending()
        # Then bob's login ends as the hook says.
        assert slow.line().startswith(b"+OK")
        assert "STALL_DONE user=bob" in events(record)
        assert slow.cmd("STAT").startswith("+OK")
        assert slow.cmd("QUIT").startswith("+OK")


def test_a_login_hook_past_hook_timeout_is_a_temporary_failure(start_daemon, workdir):
    record = workdir / "events"
    d = start_daemon(core={"hook-timeout": "500ms"},
                     modules=hook_modules(record, "stall-login: bob\nstall-ms: 5000\n"))
    with Conn(d.host, d.port) as slow:
        assert slow.cmd("USER bob").startswith("+OK")
        assert slow.cmd("PASS hunter2").startswith("-ERR [SYS/TEMP]")
        # The answer came from the timeout, not from the hook.
        assert "STALL_DONE user=bob" not in events(record)
        assert slow.cmd("STAT").startswith("-ERR")  # not logged in
        d.wait_log("event=hook_timeout")
        with Conn(d.host, d.port) as c:  # the worker serves on
            c.login()
            assert c.cmd("QUIT").startswith("+OK")
    assert not any("event=login user=bob" in l for l in d.log_text().splitlines())
