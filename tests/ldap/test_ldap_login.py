"""auth_ldap through the real daemon against the session's real slapd:
search-then-bind and compare modes, the password schemes each can check,
APOP/CRAM-MD5/SCRAM from {PLAIN}/{SCRAM-SHA-256} values, templates with
$(local_part)/$(domain), the chain rule with a second instance, and the
attribute mapping (mailbox, login-delay, expire)."""
import hashlib
import re

import pytest

from e2ehelp import (AUTH_FAILED, LOGGED_IN_EMPTY, TEMP_FAILED, assert_no_secret, try_login,
                     write_atomically)
from pop3wire import Conn, b64
from saslclient import cram_login, scram_login
from slapd import PASSWORDS as PW
from slapd import SERVICE_PW as SERVICE_PW_TEXT
from conftest import SESSION_GID, SESSION_UID

ALL_MECHS = {"sasl-mechanisms": "SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"}


def logout(c):
    assert c.cmd("QUIT").startswith("+OK")


def test_search_then_bind_every_scheme_slapd_knows(real_daemon, ldap_section):
    d = real_daemon(ldap_section())
    for user in ("alice", "bob", "carol", "dave"):
        with Conn(d.host, d.port) as c:
            assert try_login(c, user, "wrong-" + PW[user]) == AUTH_FAILED, user
            assert try_login(c, user, PW[user]) == LOGGED_IN_EMPTY, user
            logout(c)
    with Conn(d.host, d.port) as c:
        # A SCRAM verifier is nothing slapd can bind with.
        assert try_login(c, "erin", PW["erin"]) == AUTH_FAILED
        # An empty password would be an unauthenticated bind, which slapd
        # answers with success: refused before it reaches the server.
        assert c.cmd("AUTH PLAIN " + b64("\0alice\0")) == AUTH_FAILED
        assert try_login(c, "nosuchuser", PW["alice"]) == AUTH_FAILED
    log = d.wait_log("event=logout user=dave")
    assert len(re.findall(r"event=login .*user=(alice|bob|carol|dave) ", log)) == 4, log
    assert_no_secret(d, *PW.values(), SERVICE_PW_TEXT)


def test_user_binds_never_change_the_search_identity(real_daemon, ldap_section):
    """One search connection and one user-bind connection: were a user's
    bind made on the search connection, the next search would run as that
    user, who may read only her own entry, and find no one else."""
    d = real_daemon(ldap_section(pool_size="1"))
    for user in ("alice", "bob", "alice", "carol", "bob"):
        with Conn(d.host, d.port) as c:
            assert try_login(c, user, PW[user]) == LOGGED_IN_EMPTY, user
        d.wait_log(f"event=logout user={user} ")
    with Conn(d.host, d.port) as c:
        assert try_login(c, "dave", "wrong") == AUTH_FAILED  # a failed bind changes nothing
        assert try_login(c, "alice", PW["alice"]) == LOGGED_IN_EMPTY


def test_a_search_the_server_refuses_is_temp_not_a_wrong_password(real_daemon, ldap_section):
    """Without bind-dn the searches are anonymous, which this directory's
    ACL refuses (insufficientAccess): a server error is [SYS/TEMP] and
    logged, never an answer about the password."""
    d = real_daemon(ldap_section(bind_dn=None, bind_password_file=None), allow_err=True)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PW["alice"]) == TEMP_FAILED
    line = d.wait_log("event=ldap_search_failed").splitlines()
    assert any("Insufficient access" in l and 'user="alice"' in l for l in line), line


def test_compare_mode_every_scheme_the_core_knows(real_daemon, ldap_section):
    d = real_daemon(ldap_section(mode="compare"))
    for user in ("alice", "bob", "carol", "erin"):
        with Conn(d.host, d.port) as c:
            assert try_login(c, user, "wrong-" + PW[user]) == AUTH_FAILED, user
            assert try_login(c, user, PW[user]) == LOGGED_IN_EMPTY, user
            logout(c)
    with Conn(d.host, d.port) as c:
        # {SSHA} is slapd's, not the core's: refused, and logged as such.
        assert try_login(c, "dave", PW["dave"]) == AUTH_FAILED
    d.wait_log("event=unsupported_secret user=\"dave\"")
    assert_no_secret(d, *PW.values(), SERVICE_PW_TEXT)


def test_compare_mode_serves_apop_cram_md5_and_scram(apop_daemon, ldap_section):
    d = apop_daemon(ldap_section(mode="compare"), core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        stamp = re.search(r"<[^>]+>", c.greeting.decode()).group(0)
        digest = hashlib.md5((stamp + PW["alice"]).encode()).hexdigest()
        wrong = hashlib.md5((stamp + "nope").encode()).hexdigest()
        assert c.cmd(f"APOP alice {wrong}") == AUTH_FAILED
        assert c.cmd(f"APOP alice {digest}") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert cram_login(c, "alice", "nope") == AUTH_FAILED
        # bob's value is a one-way {SHA}: nothing to compute CRAM-MD5 from.
        assert cram_login(c, "bob", PW["bob"]) == AUTH_FAILED
        assert cram_login(c, "alice", PW["alice"]) == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert scram_login(c, "erin", "nope") == AUTH_FAILED
    with Conn(d.host, d.port) as c:
        assert scram_login(c, "erin", PW["erin"]) == LOGGED_IN_EMPTY
    log = d.wait_log("event=logout user=erin")
    assert len(re.findall(r"event=login .*user=alice ", log)) == 2, log
    assert_no_secret(d, *PW.values())


def test_bind_mode_has_no_stored_secret_for_apop_or_cram_md5(apop_daemon, ldap_section):
    d = apop_daemon(ldap_section(), core=ALL_MECHS)
    with Conn(d.host, d.port) as c:
        stamp = re.search(r"<[^>]+>", c.greeting.decode()).group(0)
        digest = hashlib.md5((stamp + PW["alice"]).encode()).hexdigest()
        assert c.cmd(f"APOP alice {digest}") == AUTH_FAILED
        assert cram_login(c, "alice", PW["alice"]) == AUTH_FAILED
        assert try_login(c, "alice", PW["alice"]) == LOGGED_IN_EMPTY


def test_local_part_and_domain_templates(real_daemon, ldap_section):
    d = real_daemon(ldap_section(filter="(&(uid=$(local_part))(mail=$(local_part)@$(domain)))"))
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice@other.example", PW["alice"]) == AUTH_FAILED
        # No domain: the filter cannot be made; the user is unknown here.
        assert try_login(c, "alice", PW["alice"]) == AUTH_FAILED
        assert try_login(c, "alice@example.org", PW["alice"]) == LOGGED_IN_EMPTY
    d.wait_log("event=logout user=alice@example.org")


def test_base_template_is_dn_escaped(real_daemon, ldap_section):
    """$(domain) in the base: a domain with DN metacharacters cannot climb
    out of its RDN (it names a base that does not exist: unknown user)."""
    d = real_daemon(ldap_section(base="ou=people,dc=$(domain)", filter="(uid=$(local_part))",
                                 scope="sub"))
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice@example,dc=org", PW["alice"]) == AUTH_FAILED
        assert try_login(c, "alice@nowhere", PW["alice"]) == AUTH_FAILED
    assert "event=ldap_search_failed" not in d.log_text()
    d2 = real_daemon(ldap_section(base="ou=people,dc=$(domain),dc=org",
                                  filter="(uid=$(local_part))"))
    with Conn(d2.host, d2.port) as c:
        assert try_login(c, "alice@example", PW["alice"]) == LOGGED_IN_EMPTY


def test_unknown_user_asks_the_next_instance_wrong_password_stops(real_daemon, ldap_section,
                                                                  workdir):
    users = workdir / "users"
    write_atomically(users, f"frank:{{PLAIN}}Fr4nk-Pw:{SESSION_UID}:{SESSION_GID}:/nonexistent:"
                            f"empty:\nalice:{{PLAIN}}FlatAlice:{SESSION_UID}:{SESSION_GID}:"
                            "/nonexistent:empty:\n")
    modules = (ldap_section(name="auth_ldap/dir", mailbox_section=False, priority="10") +
               f"[auth_flatfile/files]\npriority: 20\nfile: {users}\ncheck-interval: 0\n"
               "[mailbox_empty]\n")
    d = real_daemon(modules)
    with Conn(d.host, d.port) as c:
        # alice is in the directory: its wrong password ends the chain.
        assert try_login(c, "alice", "FlatAlice") == AUTH_FAILED
        # frank is not: the flat file answers.
        assert try_login(c, "frank", "Fr4nk-Pw") == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PW["alice"]) == LOGGED_IN_EMPTY
    log = d.wait_log("event=logout user=alice")
    assert re.search(r"event=login .*user=frank .*module=auth_flatfile/files", log) or \
        "auth_flatfile/files" in log, log


def test_attribute_mapping_mailbox_login_delay_expire(real_daemon, ldap_section):
    d = real_daemon(ldap_section(mailbox_attribute="popMailbox",
                                 login_delay_attribute="popLoginDelay",
                                 expire_attribute="popExpire"),
                    core={"login-delay": "1s", "expire": "60"})
    with Conn(d.host, d.port) as c:
        assert try_login(c, "mia", PW["mia"]) == LOGGED_IN_EMPTY
        capa = c.multi("CAPA")
        assert b"\r\nLOGIN-DELAY 3600\r\n" in capa, capa
        assert b"\r\nEXPIRE 30\r\n" in capa, capa
        logout(c)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "mia", PW["mia"]) == \
            "-ERR [LOGIN-DELAY] Too soon since the last login\r\n"
    # alice has none of these attributes: the server's settings apply.
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PW["alice"]) == LOGGED_IN_EMPTY
        capa = c.multi("CAPA")
        assert b"\r\nLOGIN-DELAY 1\r\n" in capa and b"\r\nEXPIRE 60\r\n" in capa, capa
    log = d.log_text()
    assert "mailbox=empty" in log


def test_unusable_mailbox_attribute_refuses_and_logs(real_daemon, ldap_section):
    """An entry whose mapped attribute cannot be used is refused (not
    guessed at), and the log says which attribute."""
    # alice's mail attribute serves as the "mailbox" here: not a path.
    d = real_daemon(ldap_section(mailbox_attribute="mail"), allow_err=True)
    with Conn(d.host, d.port) as c:
        assert try_login(c, "alice", PW["alice"]) == AUTH_FAILED
    d.wait_log("event=ldap_bad_entry user=\"alice\"")
