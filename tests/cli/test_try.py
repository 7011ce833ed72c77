"""scripts/try, the README's first command, from a checkout a newcomer may
have: inside a directory of mode 0700 (root's home), where the unprivileged
auth process and workers cannot reach ./demo. try must then put the users
file and the mail where they can, log in itself, and say so."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import free_port


@pytest.fixture
def closed_checkout(source_root):
    """A checkout's scripts/ inside a directory only its owner can enter."""
    home = pathlib.Path(tempfile.mkdtemp(prefix="modpop3d-home-"))
    os.chmod(home, 0o700)
    checkout = home / "modpop3d"
    shutil.copytree(source_root / "scripts", checkout / "scripts")
    yield checkout
    shutil.rmtree(home, ignore_errors=True)


def run_try(checkout, build_root, *args):
    env = dict(os.environ, MODPOP3D_TRY_BUILD=str(build_root),
               MODPOP3D_TRY_PORT=str(free_port()), MODPOP3D_TRY_TLS_PORT=str(free_port()))
    return subprocess.run([str(checkout / "scripts" / "try"), "--no-build", *args], env=env,
                          capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL), env


def test_try_serves_logins_from_a_checkout_in_a_closed_directory(closed_checkout, build_root):
    r, env = run_try(closed_checkout, build_root, "--check")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "logged in as alice over USER/PASS, STLS and implicit TLS (1 message(s))" in out
    if os.getuid() != 0:
        return  # the mail user is this user: ./demo is reachable
    # As root the mail user 'modpop3d' cannot enter the checkout: the state
    # moved, and try said where.
    moved = [line for line in out.splitlines() if "cannot enter" in line]
    assert len(moved) == 1, out
    state = pathlib.Path(moved[0].rsplit(" ", 2)[-2])
    try:
        assert str(state).startswith("/var/lib/modpop3d-try/modpop3d-")
        assert (state / "users").read_text().startswith("alice:")
        assert len(list((state / "mail" / "alice" / "Maildir" / "new").iterdir())) == 1
        assert not (closed_checkout / "demo" / "users").exists()
        # The configuration it generated names the moved files.
        conf = (closed_checkout / "demo" / "modpop3d.conf").read_text()
        assert f"file: {state}/users" in conf
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_try_refuses_to_print_client_commands_for_a_server_that_denies_logins(
        closed_checkout, build_root):
    # A users file with another password: the server starts, but the
    # self-test login fails, and try says so instead of printing commands.
    r, env = run_try(closed_checkout, build_root, "--check")
    assert r.returncode == 0, r.stdout + r.stderr
    state = closed_checkout / "demo"
    for line in (r.stdout + r.stderr).splitlines():
        if "cannot enter" in line:
            state = pathlib.Path(line.rsplit(" ", 2)[-2])
    try:
        users = state / "users"
        text = users.read_text()
        users.write_text("alice:{PLAIN}not-wonderland\n")
        r2, _ = run_try(closed_checkout, build_root)
        out = r2.stdout + r2.stderr
        assert r2.returncode == 1, out
        assert "the self-test login failed" in out
        assert "curl" not in r2.stdout
        users.write_text(text)
    finally:
        if state != closed_checkout / "demo":
            shutil.rmtree(state, ignore_errors=True)
