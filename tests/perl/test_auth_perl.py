"""auth_perl through the real daemon over POP3, with real Perl scripts run
by the installed (staged) module: logins good and bad, the shipped example
script unchanged, die and an endless loop (TEMP, other logins go on), a
syntax error failing `modpop3d -t` and a SIGHUP reload (the old script keeps
serving; a good new script is read), where the interpreters run, and the
onlogin sub once per login.

The daemon runs its auth process as mail-user (nobody when the tests run as
root): the interpreters run as that user, so the scripts and their directory
are world-readable and out/ is world-writable. The script maps logins to
SESSION_UID, the uid the sessions run as.
"""
import os
import pathlib
import select
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e_auth"))
from e2ehelp import (AUTH_FAILED, LOGGED_IN_EMPTY, SEND_PASSWORD, TEMP_FAILED,  # noqa: E402
                     assert_no_secret, real_daemon, try_login, write_atomically)
from conftest import SESSION_UID  # noqa: E402
from pop3wire import Conn  # noqa: E402

SOURCE = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = SOURCE / "modules" / "auth_perl" / "examples" / "tpop3d-auth.pl"

SCRIPT = r"""
use strict;
use warnings;
our $out;
sub record {
    my ($file, $line) = @_;
    open(my $fh, '>>', "$out/$file") or die "open $out/$file: $!";
    print $fh "$line\n";
    close $fh;
}
sub pass {
    my ($r) = @_;
    my $u = $r->{user};
    if ($u eq 'alice') {
        return { result => 'NO' } unless $r->{pass} eq 'PASSWORD';
        return { result => 'YES', uid => UID, gid => UID };
    }
    die "the user database is on fire\n" if $u eq 'dies';
    if ($u eq 'loop') { record('looping', $$); 1 while 1; }
    if ($u eq 'where') {
        record('where', join(' ', $<, $>, $$, getppid()));
        return { result => 'NO' };
    }
    return { result => 'NO' };
}
sub onlogin {
    my ($r) = @_;
    record('onlogin', "$r->{method} $r->{user} $r->{clienthost}");
    return { logmsg => "onlogin saw $r->{user}" };
}
1;
"""


@pytest.fixture(autouse=True)
def _module_built(staged_module_dir):
    if not (pathlib.Path(staged_module_dir) / "auth_perl.so").exists():
        pytest.skip("auth_perl is not built (no libperl-dev?)")


def script_text(password="wonderland"):
    return SCRIPT.replace("PASSWORD", password).replace("UID", str(SESSION_UID))


class Site:
    """workdir/perl: the script (0644) in a 0755 directory, out/ 0777."""

    def __init__(self, workdir):
        self.dir = workdir / "perl"
        self.out = self.dir / "out"
        self.out.mkdir(parents=True)
        os.chmod(self.dir, 0o755)
        os.chmod(self.out, 0o777)
        self.script = self.dir / "auth.pl"
        write_atomically(self.script, script_text())

    def lines(self, name):
        f = self.out / name
        return f.read_text().splitlines() if f.exists() else []

    def section(self, timeout="5s", extra=""):
        return (f"[auth_perl]\n"
                f"start: our $out = '{self.out}'; do '{self.script}';\n"
                f"pass: pass\nonlogin: onlogin\ntimeout: {timeout}\n"
                f"mailbox: empty:\nmin-uid: 1\n{extra}"
                f"[mailbox_empty]\n")


def wait_for(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not within {timeout}s")


def nothing_received(conn):
    if conn.buf:
        return False
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return not readable


def test_login_good_and_bad(real_daemon, workdir):
    site = Site(workdir)
    d = real_daemon(site.section())
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wrong-wonderland") == AUTH_FAILED
        assert try_login(c, "mallory", "wonderland") == AUTH_FAILED
        assert try_login(c, "alice", "wonderland") == LOGGED_IN_EMPTY
        assert c.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
    d.wait_log("event=logout user=alice")
    assert_no_secret(d, "wonderland")


def test_example_script_installed_and_unchanged(real_daemon, workdir, stage):
    installed = list(pathlib.Path(stage).glob("**/doc/modpop3d/examples/tpop3d-auth.pl"))
    assert len(installed) == 1, installed
    assert installed[0].read_bytes() == EXAMPLE.read_bytes()
    site = Site(workdir)
    users = site.dir / "users"
    write_atomically(users, f"alice:wonderland:{SESSION_UID}:{SESSION_UID}\n"
                            f"bob@example.org:builder:{SESSION_UID}:{SESSION_UID}\n")
    relay = site.out / "relay"
    script = site.dir / "tpop3d-auth.pl"
    write_atomically(script, installed[0].read_text())
    d = real_daemon(f"[auth_perl]\n"
                    f"auth-perl-start: our $users_file = '{users}'; "
                    f"our $relay_file = '{relay}'; do '{script}';\n"
                    f"auth-perl-pass: pass\nauth-perl-apop: apop\nauth-perl-onlogin: onlogin\n"
                    f"mailbox: empty:\nmin-uid: 1\n[mailbox_empty]\n")
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wrong") == AUTH_FAILED
        assert try_login(c, "bob@example.org", "builder") == LOGGED_IN_EMPTY
        assert c.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
    log = d.wait_log("event=logout user=bob@example.org")
    assert "loaded 2 users from" in log
    assert_no_secret(d, "builder")


def test_die_is_temp_and_logged(real_daemon, workdir):
    site = Site(workdir)
    d = real_daemon(site.section(), allow_err=True)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "dies", "x") == TEMP_FAILED
        assert try_login(c, "alice", "wonderland") == LOGGED_IN_EMPTY
    log = d.wait_log('event=perl_error sub=pass error="the user database is on fire"')
    assert "level=err" in log


def test_endless_loop_is_killed_while_others_log_in(real_daemon, workdir):
    site = Site(workdir)
    d = real_daemon(site.section(timeout="3s"), allow_err=True)
    with Conn(d.host, d.port) as first:
        assert first.cmd("USER loop") == SEND_PASSWORD
        first.send("PASS whatever\r\n")
        wait_for(lambda: site.lines("looping"), "the loop to start")
        for _ in range(3):
            with Conn(d.host, d.port) as second:
                assert try_login(second, "alice", "wonderland") == LOGGED_IN_EMPTY
                assert second.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
        assert nothing_received(first), "the loop was answered before the other logins"
        assert first.line().decode() == TEMP_FAILED
        assert try_login(first, "alice", "wonderland") == LOGGED_IN_EMPTY
    log = d.wait_log("did not answer within 3000ms: helper killed")
    pid = site.lines("looping")[0]
    wait_for(lambda: not pathlib.Path(f"/proc/{pid}").exists(), "the looping helper gone")
    assert "event=perl_failure sub=pass" in log


def test_interpreters_run_unprivileged_below_the_auth_process(real_daemon, workdir):
    site = Site(workdir)
    d = real_daemon(site.section())
    with Conn(d.host, d.port) as c:
        assert try_login(c, "where", "x") == AUTH_FAILED
    uid, euid, pid, ppid = site.lines("where")[0].split()
    assert uid == euid and int(uid) != 0
    assert int(uid) == (65534 if os.getuid() == 0 else os.getuid())
    # helper -> spawner -> the auth process; never a worker (client bytes).
    status = pathlib.Path(f"/proc/{ppid}/status").read_text()
    auth_pid = next(l.split()[1] for l in status.splitlines() if l.startswith("PPid:"))
    assert pathlib.Path(f"/proc/{auth_pid}/comm").read_text().strip() == "modpop3d-auth"


def test_syntax_error_fails_check_and_reload(real_daemon, workdir, binary):
    site = Site(workdir)
    d = real_daemon(site.section(), allow_err=True)
    # "ready" comes before the auth process has loaded the script: a login
    # first, so that the running generation has read the good one.
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wonderland") == LOGGED_IN_EMPTY
    # A broken script: `modpop3d -t` names the file:line of start and the
    # Perl error, and exits non-zero.
    write_atomically(site.script, "sub pass {\n  return { result => 'YES' ;\n}\n1;\n")
    r = subprocess.run([binary, "-t", "-f", str(d.conf)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0
    start_line = d.conf.read_text().splitlines().index(
        next(l for l in d.conf.read_text().splitlines() if l.startswith("start:"))) + 1
    assert f"{d.conf}:{start_line}" in r.stderr, r.stderr
    assert "syntax error" in r.stderr and "auth.pl line" in r.stderr, r.stderr
    # ... and a reload with it fails: the old interpreters keep serving.
    os.kill(d.proc.pid, signal.SIGHUP)
    d.wait_log("event=reload_failed why=")
    try:
        with Conn(d.host, d.port) as c:
            assert try_login(c, "alice", "wonderland") == LOGGED_IN_EMPTY
    except Exception as e:
        raise AssertionError(f"{e!r}\n{d.log_text()}") from e
    # A good new script: the reload reads it (alice's password changed).
    write_atomically(site.script, script_text(password="looking-glass"))
    os.kill(d.proc.pid, signal.SIGHUP)
    d.wait_log("event=reloaded generation=2")
    deadline = time.monotonic() + 10
    while True:  # logins may still meet the old generation for a moment
        with Conn(d.host, d.port) as c:
            if try_login(c, "alice", "looking-glass") == LOGGED_IN_EMPTY:
                break
        assert time.monotonic() < deadline, "the new script was not used"
        time.sleep(0.1)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wonderland") == AUTH_FAILED


def test_onlogin_once_per_login(real_daemon, workdir):
    site = Site(workdir)
    d = real_daemon(site.section())
    for i in range(3):
        with Conn(d.host, d.port) as c:
            assert try_login(c, "alice", "wonderland") == LOGGED_IN_EMPTY
            assert c.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
        d.wait_log(f"event=logout user=alice", timeout=10)
    # The core calls auth_ops.on_login on the auth pool after each login
    # (AuthChain::run_on_login): exactly once per login.
    wait_for(lambda: len(site.lines("onlogin")) >= 3, "three onlogin calls")
    time.sleep(0.5)
    assert site.lines("onlogin") == ["ONLOGIN alice 127.0.0.1"] * 3
    assert d.log_text().count('sub=onlogin text="onlogin saw alice"') == 3
