"""modpop3d -t / -n / -M / --version / --help: what an admin runs first."""
import re

from conftest import run


def write(path, text):
    path.write_text(text)
    return str(path)


def test_version_and_help(binary):
    r = run(binary, "--version")
    assert r.returncode == 0
    assert re.fullmatch(r"modpop3d \S+ \(module ABI 1\.0\)\n", r.stdout)
    r = run(binary, "--help")
    assert r.returncode == 0
    for flag in ("-t", "-n", "-M", "-f FILE"):
        assert flag in r.stdout
    r = run(binary, "--bogus")
    assert r.returncode == 2
    assert "unknown option '--bogus'" in r.stderr


def test_shipped_configuration_is_valid(binary, source_root):
    r = run(binary, "-t", "-f", str(source_root / "conf.d" / "modpop3d.conf"))
    assert r.returncode == 0, r.stderr
    assert "configuration is valid" in r.stdout


def test_accepts_a_configuration_with_modules(binary, workdir, test_module_dir):
    conf = write(workdir / "m.conf",
                 f"module-dir: {test_module_dir}\nlisten: 127.0.0.1:1110\n"
                 "[auth_test]\nusers: a:b\n[auth_test/second]\nusers: c:d\npriority: 5\n"
                 "[mailbox_memory]\ncount: 4\n")
    r = run(binary, "-t", "-f", conf)
    assert r.returncode == 0, r.stderr
    assert "(3 module instances)" in r.stdout


def test_rejects_unknown_key_bad_value_missing_and_mismatched_modules(binary, workdir,
                                                                      test_module_dir):
    conf = write(workdir / "bad.conf",
                 f"module-dir: {test_module_dir}\n"      # 1
                 "timeout-idel: 10m\n"                   # 2 unknown key
                 "max-connections: many\n"               # 3 bad value
                 "[auth_test]\n"                         # 4
                 "users: a:b\n"                          # 5
                 "uid: 0\n"                              # 6 out of range (module schema)
                 "[auth_ldap]\n"                         # 7 missing module
                 "[auth_abi_major2]\n"                   # 8 ABI mismatch
                 "[auth_abi_minor_new]\n")               # 9 newer minor
    r = run(binary, "-t", "-f", conf)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    expect = [
        f"{conf}:2: unknown key 'timeout-idel' in global section; did you mean 'timeout-idle'?",
        f"{conf}:3: global section max-connections: 'many' is not a whole number",
        f"{conf}:6: [auth_test] uid: '0' is out of range (1 to 65534)",
        f"{conf}:7: module 'auth_ldap' not found in {test_module_dir}: is the "
        "modpop3d-auth-ldap package installed?",
    ]
    for e in expect:
        assert "modpop3d: " + e in lines, (e, lines)
    assert any(l.startswith(f"modpop3d: {conf}:8: module 'auth_abi_major2'") and
               "built for modpop3d ABI 2.0, this server has ABI 1.0" in l for l in lines), lines
    assert any(l.startswith(f"modpop3d: {conf}:9: module 'auth_abi_minor_new'") and
               "needs modpop3d ABI 1.1" in l for l in lines), lines
    assert lines[-1] == f"modpop3d: {conf}: configuration has 6 errors"


def test_module_conf_check_errors_have_file_and_line(binary, workdir, test_module_dir):
    (workdir / "conf.d").mkdir()
    write(workdir / "conf.d" / "10-test.conf", "[auth_test]\n# comment\nusers: a:b broken\n")
    write(workdir / "conf.d" / "10-test.conf~", "[auth_test/backup]\nusers: ignored\n")
    conf = write(workdir / "main.conf",
                 f"module-dir: {test_module_dir}\ninclude conf.d/*.conf\n")
    r = run(binary, "-t", "-f", conf)
    assert r.returncode == 1
    snippet = workdir / "conf.d" / "10-test.conf"
    assert (f"modpop3d: {snippet}:3: [auth_test] users: item 'broken' is not name:password"
            in r.stderr.splitlines()), r.stderr


def test_unreadable_configuration(binary, workdir):
    r = run(binary, "-t", "-f", str(workdir / "nothere.conf"))
    assert r.returncode == 1
    assert "cannot read the configuration file" in r.stderr


def test_effective_configuration_fills_defaults(binary, workdir, test_module_dir):
    conf = write(workdir / "n.conf",
                 f"module-dir: {test_module_dir}\nlisten: 127.0.0.1:1110\nlisten: [::1]:1110\n"
                 "[auth_test]\nusers: a:b\n")
    r = run(binary, "-n", "-f", conf)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "listen: 127.0.0.1:1110" in out and "listen: [::1]:1110" in out
    assert "timeout-idle: 10m" in out
    assert "[auth_test]" in out
    assert "users: a:b" in out
    assert "home: /tmp/home/$(user)" in out
    assert "priority: 100" in out


def test_module_listing(binary, workdir, test_module_dir):
    conf = write(workdir / "l.conf", f"module-dir: {test_module_dir}\n")
    r = run(binary, "-M", "-f", conf)
    # The broken test modules are refused (exit 1), the good ones listed.
    assert r.returncode == 1
    assert "auth_test (auth, version 1, ABI 1.0, package modpop3d-auth-test)" in r.stdout
    assert "mailbox_memory (mailbox" in r.stdout
    assert "users (list) required" in r.stdout
    assert "timeout-idle (duration, 600000..86400000) default '10m'" in r.stdout
    assert "auth_abi_major2" in r.stderr
