"""auth_flatfile through the real daemon: logins, identical failures, a file
changed on disk, the positive auth cache, hostile names, and the chain rule
between two instances."""
import pytest

from e2ehelp import (AUTH_FAILED, LOGGED_IN_EMPTY, SEND_PASSWORD, SESSION_GID, SESSION_UID,
                     assert_no_secret, real_daemon, try_login, write_atomically)
from pop3wire import Conn, b64


def line(user, password):
    # name:secret:uid:gid:home:mailbox - the session uid so the fast path
    # serves it, and the always-empty maildrop.
    return f"{user}:{{PLAIN}}{password}:{SESSION_UID}:{SESSION_GID}:/nonexistent:empty:\n"


def flatfile_modules(path, section="auth_flatfile", extra=""):
    return f"[{section}]\nfile: {path}\ncheck-interval: 0\n{extra}[mailbox_empty]\n"


def test_login_wrong_password_and_unknown_user(real_daemon, workdir):
    users = workdir / "users"
    write_atomically(users, line("alice", "Al1cePw") + line("bob", "B0bPw"))
    d = real_daemon(flatfile_modules(users))
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "wrong-Al1cePw") == AUTH_FAILED
        assert try_login(c, "nosuchuser", "Al1cePw") == AUTH_FAILED
        assert try_login(c, "alice", "Al1cePw") == LOGGED_IN_EMPTY
        assert c.cmd("STAT") == "+OK 0 0\r\n"
        assert c.cmd("QUIT") == "+OK Logging out (maildrop empty)\r\n"
    with Conn(d.host, d.port) as c:
        assert try_login(c, "bob", "B0bPw") == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=bob")
    assert_no_secret(d, "Al1cePw", "B0bPw")


def test_file_changed_on_disk_is_used_without_restart(real_daemon, workdir):
    users = workdir / "users"
    write_atomically(users, line("alice", "OldPw1"))
    d = real_daemon(flatfile_modules(users))
    with Conn(d.host, d.port) as c:
        assert try_login(c, "carol", "CarolPw") == AUTH_FAILED
        assert try_login(c, "alice", "OldPw1") == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=alice")
    write_atomically(users, line("alice", "NewPw2") + line("carol", "CarolPw"))
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "OldPw1") == AUTH_FAILED
        assert try_login(c, "carol", "CarolPw") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "NewPw2") == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=alice rip")
    assert_no_secret(d, "OldPw1", "NewPw2", "CarolPw")


def test_auth_cache_reuses_a_success_until_it_expires(real_daemon, workdir):
    """auth-cache-ttl: the second login with the same password is served from
    the cache (logged at debug as auth_cache_hit) even after the file
    changed; a wrong password and the new password ask the module."""
    users = workdir / "users"
    write_atomically(users, line("alice", "CachedPw"))
    d = real_daemon(flatfile_modules(users),
                    core={"auth-cache-ttl": "1h", "log-level": "debug"})
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "CachedPw") == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=alice")
    assert "event=auth_cache_hit" not in d.log_text()
    write_atomically(users, line("alice", "ChangedPw"))
    with Conn(d.host, d.port) as c:
        # Wrong passwords are never answered from the cache.
        assert try_login(c, "alice", "cachedpw") == AUTH_FAILED
        # The documented trade-off: the old password still works until the
        # entry expires.
        assert try_login(c, "alice", "CachedPw") == LOGGED_IN_EMPTY
    text = d.wait_log("event=auth_cache_hit")
    assert sum(1 for l in text.splitlines() if "event=auth_cache_hit" in l) == 1
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "ChangedPw") == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=alice rip=127.0.0.1 lip=127.0.0.1 tls=0 method=USER reason=disconnected")
    hits = [l for l in d.log_text().splitlines() if "event=auth_cache_hit" in l]
    assert len(hits) == 1, hits
    assert_no_secret(d, "CachedPw", "ChangedPw", "cachedpw")


HOSTILE = ["/", "..", "../../etc/passwd", "%", "'", "*", "(", "a)(uid=*", "alice'--",
           "alice%00", "x" * 240, "alice@..", "alice@/etc", "alice@%2e%2e"]


@pytest.mark.parametrize("template", [False, True], ids=["one-file", "per-domain"])
def test_hostile_user_names(real_daemon, workdir, template):
    """Names a backend could misread (paths, LIKE/LDAP/SQL metacharacters,
    300 bytes) all get the one failure reply, and the daemon stays up."""
    (workdir / "users").mkdir()
    write_atomically(workdir / "users" / "example.org", line("alice", "HostilePw"))
    path = workdir / "users" / ("$(domain)" if template else "example.org")
    d = real_daemon(flatfile_modules(path, extra="match: user\n" if not template else ""))
    with Conn(d.host, d.port) as c:
        for name in HOSTILE:
            assert try_login(c, name, "HostilePw") == AUTH_FAILED, name
        # 300 bytes do not fit a command line (255): "USER" is refused as
        # too long, and through AUTH PLAIN the name fails like any other.
        assert c.cmd("USER " + "x" * 300) == "-ERR Line too long\r\n"
        assert c.cmd("AUTH PLAIN") == "+ \r\n"
        assert c.cmd(b64("\0" + "x" * 300 + "\0HostilePw")) == AUTH_FAILED
        assert c.cmd("NOOP") == "-ERR Not logged in\r\n"
        if not template:
            assert try_login(c, "alice", "HostilePw") == LOGGED_IN_EMPTY
    assert d.proc.poll() is None
    assert_no_secret(d, "HostilePw")


def test_chain_nouser_falls_through_badpass_stops(real_daemon, workdir):
    first, second = workdir / "first", workdir / "second"
    write_atomically(first, line("alice", "FirstPw"))
    write_atomically(second, line("alice", "SecondPw") + line("bob", "BobPw"))
    d = real_daemon(
        f"[auth_flatfile/second]\npriority: 20\nfile: {second}\ncheck-interval: 0\n"
        f"[auth_flatfile/first]\npriority: 10\nfile: {first}\ncheck-interval: 0\n"
        "[mailbox_empty]\n")
    with Conn(d.host, d.port) as c:
        # alice is in the first (priority 10): its BADPASS ends the chain,
        # the second instance's password for alice is not tried.
        assert try_login(c, "alice", "SecondPw") == AUTH_FAILED
        # bob is unknown to the first: NOUSER asks the second.
        assert try_login(c, "bob", "BobPw") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", "FirstPw") == LOGGED_IN_EMPTY
    log = d.wait_log("event=logout user=alice")
    logins = [l for l in log.splitlines() if "event=login " in l]
    assert len(logins) == 2, log
    assert_no_secret(d, "FirstPw", "SecondPw", "BobPw")


def test_per_domain_file_login(real_daemon, workdir):
    (workdir / "users").mkdir()
    write_atomically(workdir / "users" / "example.org", line("alice", "DomainPw"))
    d = real_daemon(flatfile_modules(workdir / "users" / "$(domain)"))
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice@example.org", "DomainPw") == LOGGED_IN_EMPTY
