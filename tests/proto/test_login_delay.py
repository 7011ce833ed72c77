"""LOGIN-DELAY (RFC 2449): announced in CAPA, enforced per user."""
from pop3wire import Conn

CAPA_BEFORE = (b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n"
               b"SASL PLAIN LOGIN\r\n"
               b"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nLOGIN-DELAY 30 USER\r\n.\r\n")


def test_login_delay_is_announced_and_enforced(start_daemon):
    d = start_daemon(core={"login-delay": "30s"})
    with Conn(d.host, d.port) as c:
        assert c.multi("CAPA") == CAPA_BEFORE
        c.login()
        capa = c.multi("CAPA")
        assert b"\r\nLOGIN-DELAY 30\r\n" in capa  # the user's own value after login
        assert c.cmd("QUIT") == "+OK Logging out (3 messages left)\r\n"
    with Conn(d.host, d.port) as c:
        assert c.cmd("USER alice") == "+OK Send your password\r\n"
        assert c.cmd("PASS secret") == "-ERR [LOGIN-DELAY] Too soon since the last login\r\n"
    # Another user is not affected by alice's delay.
    with Conn(d.host, d.port) as c:
        c.login("bob", "hunter2")
    assert "why=\"login within 30 s of the previous one\"" in d.log_text()


def test_no_login_delay_by_default(start_daemon):
    d = start_daemon()
    for _ in range(2):
        with Conn(d.host, d.port) as c:
            assert b"LOGIN-DELAY" not in c.multi("CAPA")
            c.login()
