"""A third party builds modapi/examples/auth_example against a staged
install (headers + modpop3d-modapi.pc only), and the daemon loads it."""
import os
import shutil
import subprocess

from conftest import run


def test_example_module_builds_out_of_tree_and_loads(binary, source_root, stage, workdir):
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
