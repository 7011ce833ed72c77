"""Filter injection through the login name, and a filter that matches more
than one entry. Every substituted value is escaped (RFC 4515), so hostile
names match nothing (no wildcard match, no filter syntax error), while real
names holding the same metacharacters, or UTF-8, log in."""
from e2ehelp import AUTH_FAILED, LOGGED_IN_EMPTY, assert_no_secret, try_login
from pop3wire import Conn, b64
from slapd import PASSWORDS as PW

# Unescaped, each of these would widen (uid=$(user)) to other entries or
# break the filter: "*" matches every uid, ")(uid=*" closes the assertion.
HOSTILE = ["*", "a*", "*e", ")(uid=*", "alice)(uid=*", "*)(|(uid=*", "alice)(|(uid=*)",
           "\\", "\\2a", "alice\\", "(", ")", "we*", "we*rd(1)*", "j\\c3\\b6rg"]


def test_hostile_names_match_nothing(real_daemon, ldap_section):
    d = real_daemon(ldap_section())
    with Conn(d.host, d.port) as c:
        for name in HOSTILE:
            for pw in (PW["alice"], PW["twin"], PW["we*rd(1)\\x"]):
                assert try_login(c, name, pw) == AUTH_FAILED, (name, pw)
    log = d.log_text()
    # A wildcard that matched would have found the two twins (or several
    # users) and said so; a broken filter would be a search failure.
    assert "event=ldap_ambiguous_user" not in log, log
    assert "event=ldap_search_failed" not in log, log
    assert "event=login " not in log, log
    assert d.proc.poll() is None


def test_nul_and_controls_never_reach_a_filter(real_daemon, ldap_section):
    d = real_daemon(ldap_section())
    with Conn(d.host, d.port) as c:
        # A NUL inside the name, through USER and through AUTH PLAIN's
        # authorization identity (which must equal the login).
        c.send(b"USER ali\x00ce\r\n")
        reply = c.line()
        if reply.startswith(b"+OK"):
            assert c.cmd("PASS " + PW["alice"]) == AUTH_FAILED
        else:
            assert reply.startswith(b"-ERR"), reply
        assert c.cmd("AUTH PLAIN " + b64("alice\0alice\x00\0" + PW["alice"])).startswith("-ERR")
        assert c.cmd("AUTH PLAIN " + b64("\0ali\x01ce\0" + PW["alice"])).startswith("-ERR")
    log = d.log_text()
    assert "event=login " not in log and "event=ldap_search_failed" not in log, log


def test_real_names_with_metacharacters_and_utf8_log_in(real_daemon, ldap_section):
    d = real_daemon(ldap_section())
    weird = "we*rd(1)\\x"
    with Conn(d.host, d.port) as c:
        assert c.cmd("AUTH PLAIN " + b64(f"\0{weird}\0nope")) == AUTH_FAILED
        assert c.cmd("AUTH PLAIN " + b64(f"\0{weird}\0{PW[weird]}")) == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        c.send("USER jörg\r\n".encode())
        assert c.line() == b"+OK Send your password\r\n"
        assert c.cmd("PASS " + PW["jörg"]) == LOGGED_IN_EMPTY
    with Conn(d.host, d.port) as c:
        # The same letters, not valid UTF-8: octets that match nothing.
        c.send(b"USER j\xf6rg\r\n")
        if c.line().startswith(b"+OK"):
            assert c.cmd("PASS " + PW["jörg"]) == AUTH_FAILED
    log = d.wait_log('event=logout user="j\\xc3\\xb6rg"')
    assert "event=ldap_search_failed" not in log, log
    assert_no_secret(d, *PW.values())


def test_more_than_one_entry_is_refused_and_logged(real_daemon, ldap_section):
    d = real_daemon(ldap_section(), allow_err=True)
    with Conn(d.host, d.port) as c:
        # The right password for both entries: still refused, and the chain
        # stops there (PERM, not unknown user).
        assert try_login(c, "twin", PW["twin"]) == AUTH_FAILED
        assert try_login(c, "alice", PW["alice"]) == LOGGED_IN_EMPTY
    line = next(l for l in d.log_text().splitlines() if "event=ldap_ambiguous_user" in l)
    assert "level=err" in line and 'user="twin"' in line, line
    assert "cn=twin1,ou=people,dc=example,dc=org" in line
    assert "cn=twin2,ou=people,dc=example,dc=org" in line
    assert "event=login " not in "".join(l for l in d.log_text().splitlines()
                                          if "user=twin" in l)
    assert_no_secret(d, PW["twin"])
