"""A third party builds modapi/examples/auth_example against a staged
install (headers + modpop3d-modapi.pc only), and the daemon loads it."""
import os
import poplib
import shutil
import subprocess

from conftest import run, start_daemon  # noqa: F401 (fixture)


def test_example_module_builds_out_of_tree_and_loads(binary, source_root, stage, workdir,
                                                     test_module_dir, start_daemon):
    pcdirs = [str(p.parent) for p in stage.rglob("modpop3d-modapi.pc")]
    assert pcdirs, "meson install did not stage modpop3d-modapi.pc"
    assert list(stage.rglob("modpop3d/module.h")), "headers not staged"
    src = workdir / "auth_example"
    shutil.copytree(source_root / "modapi" / "examples" / "auth_example", src)
    env = dict(os.environ, PKG_CONFIG_PATH=":".join(pcdirs),
               PKG_CONFIG_SYSROOT_DIR=str(stage))
    # Nothing from the source tree is visible to this build: only the stage.
    build = workdir / "build"
    subprocess.run(["meson", "setup", str(build), str(src), "-Dwerror=true"], env=env,
                   check=True, capture_output=True)
    r = subprocess.run(["ninja", "-C", str(build)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    so = build / "auth_example.so"
    assert so.exists()
    exported = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True,
                              text=True, check=True).stdout
    assert [l.split()[-1] for l in exported.splitlines() if " T " in l] == \
        ["modpop3d_module_entry"]

    moddir = workdir / "modules"
    moddir.mkdir()
    shutil.copy(so, moddir)
    conf = workdir / "m.conf"
    conf.write_text(f"module-dir: {moddir}\n[auth_example]\nusers: alice bob\n"
                    "password: {PLAIN}secret\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 0, r.stderr
    r = run(binary, "-M", "-f", str(conf))
    assert "auth_example (auth, version 1.0, ABI 1.0, package modpop3d-auth-example)" in r.stdout
    conf.write_text(f"module-dir: {moddir}\n[auth_example]\nusers: alice\npassword:\n")
    r = run(binary, "-t", "-f", str(conf))
    assert r.returncode == 1
    assert f"{conf}:4: [auth_example] password: must not be empty" in r.stderr

    # The daemon serves logins through it (with the test suite's in-memory
    # mailbox module beside it in the same module directory).
    shutil.copy(os.path.join(test_module_dir, "mailbox_memory.so"), moddir)
    d = start_daemon(core={"module-dir": str(moddir)},
                     modules="[auth_example]\nusers: alice bob\npassword: {{PLAIN}}secret\n"
                             "mailbox: memory:$(user)\n[mailbox_memory]\ncount: 2\n")
    pop = poplib.POP3(d.host, d.port, timeout=10)
    pop.user("alice")
    assert pop.pass_("secret") == b"+OK Logged in, 2 messages (435 octets)"
    assert pop.stat() == (2, 435)
    pop.quit()
    pop = poplib.POP3(d.host, d.port, timeout=10)
    pop.user("carol")
    try:
        pop.pass_("secret")
        raise AssertionError("an unlisted user logged in")
    except poplib.error_proto as e:
        assert e.args[0] == b"-ERR [AUTH] Authentication failed"
    pop.quit()
