"""Client sides of CRAM-MD5 (RFC 2195) and SCRAM-SHA-256(-PLUS) (RFC 5802,
RFC 7677) over a pop3wire.Conn, written from the RFCs with hashlib/hmac
only, for the SASL tests of several suites."""
import base64
import hashlib
import hmac
import secrets

from pop3wire import b64


def scram_escape(name):
    return name.replace("=", "=3D").replace(",", "=2C")


def scram_first(user, nonce=None, gs2="n,,"):
    """(client-first message, client-first-message-bare)."""
    bare = f"n={scram_escape(user)},r={nonce or secrets.token_urlsafe(18)}"
    return gs2 + bare, bare


def scram_final(password, bare, server_first, gs2="n,,", cbind=b""):
    """(client-final message, expected server-final) per RFC 5802 section 3;
    `cbind` is the channel binding data appended to the gs2 header in c=."""
    attrs = dict(a.split("=", 1) for a in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=" + b64(gs2.encode() + cbind) + ",r=" + attrs["r"]
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    expect = "v=" + b64(hmac.new(server_key, auth_message, "sha256").digest())
    return without_proof + ",p=" + b64(proof), expect


def challenge(reply):
    """The decoded data of a '+ base64' continuation line."""
    assert reply.startswith("+ ") and reply.endswith("\r\n"), reply
    return base64.b64decode(reply[2:-2], validate=True).decode()


def scram_login(conn, user, password, initial=True, gs2="n,,", cbind=b"",
                mechanism="SCRAM-SHA-256"):
    """A whole SCRAM exchange; returns the reply to the last line. The
    server's signature is checked whenever the server sends one."""
    first, bare = scram_first(user, gs2=gs2)
    if initial:
        reply = conn.cmd(f"AUTH {mechanism} " + b64(first))
    else:
        assert conn.cmd(f"AUTH {mechanism}") == "+ \r\n"
        reply = conn.cmd(b64(first))
    if not reply.startswith("+ "):
        return reply
    server_first = challenge(reply)
    assert server_first.startswith("r=" + bare.split(",r=")[1]), server_first
    final, expect = scram_final(password, bare, server_first, gs2=gs2, cbind=cbind)
    reply = conn.cmd(b64(final))
    if not reply.startswith("+ "):
        return reply
    assert challenge(reply) == expect  # the server knows the password too
    return conn.cmd("")


def cram_login(conn, user, password, initial_empty=False):
    chal = challenge(conn.cmd("AUTH CRAM-MD5 =" if initial_empty else "AUTH CRAM-MD5"))
    assert chal.startswith("<") and chal.endswith(">") and "@" in chal, chal
    digest = hmac.new(password.encode(), chal.encode(), "md5").hexdigest()
    return conn.cmd(b64(f"{user} {digest}"))
