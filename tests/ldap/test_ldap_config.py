"""auth_ldap's configuration checks through `modpop3d -t` and `-n`: the
cleartext rule, the service password file, tpop3d's key names, and errors
naming FILE:LINE."""
import os
import re

from conftest import run
from slapd import SERVICE_DN, SERVICE_PW


def check(binary, staged_module_dir, workdir, section, flag="-t"):
    conf = workdir / "ldap.conf"
    conf.write_text(f"module-dir: {staged_module_dir}\nlisten: 127.0.0.1:1110\n" + section +
                    "[mailbox_empty]\n")
    return conf, run(binary, flag, "-f", str(conf))


def test_cleartext_to_another_machine_is_refused(binary, staged_module_dir, workdir):
    conf, r = check(binary, staged_module_dir, workdir,
                    "[auth_ldap]\nuri: ldap://192.0.2.10 ldap://127.0.0.1:389\n"
                    "base: dc=example,dc=org\n")
    assert r.returncode == 1, r
    assert re.search(rf"{re.escape(str(conf))}:4: .*ldap://192\.0\.2\.10 would carry passwords "
                     "in cleartext", r.stderr + r.stdout), r.stderr
    # StartTLS, ldaps:// or an explicit allowance make it acceptable.
    for extra in ("starttls: yes\n", "allow-cleartext-password: yes\n", "use-tls: yes\n"):
        _, r = check(binary, staged_module_dir, workdir,
                     "[auth_ldap]\nuri: ldap://192.0.2.10\nbase: dc=example,dc=org\n" + extra)
        assert r.returncode == 0, (extra, r.stderr)
    _, r = check(binary, staged_module_dir, workdir,
                 "[auth_ldap]\nuri: ldaps://192.0.2.10\nbase: dc=example,dc=org\n")
    assert r.returncode == 0, r.stderr


def test_service_password_file_rules(binary, staged_module_dir, workdir):
    pw = workdir / "secret"
    pw.write_text(SERVICE_PW + "\n")
    os.chmod(pw, 0o644)
    section = (f"[auth_ldap]\nuri: ldapi:///\nbind-dn: {SERVICE_DN}\n"
               f"bind-password-file: {pw}\n")
    conf, r = check(binary, staged_module_dir, workdir, section)
    assert r.returncode == 1
    assert f"{conf}:6: [auth_ldap] bind-password-file:" in r.stderr, r.stderr
    assert "chmod 600" in r.stderr
    os.chmod(pw, 0o600)
    _, r = check(binary, staged_module_dir, workdir, section)
    assert r.returncode == 0, r.stderr
    # -n prints the effective configuration: the file's name, never its
    # content.
    _, r = check(binary, staged_module_dir, workdir, section, flag="-n")
    assert r.returncode == 0, r.stderr
    assert f"bind-password-file: {pw}" in r.stdout, r.stdout
    assert SERVICE_PW not in r.stdout + r.stderr
    # A DN without a password file would bind unauthenticated.
    conf, r = check(binary, staged_module_dir, workdir,
                    f"[auth_ldap]\nuri: ldapi:///\nbind-dn: {SERVICE_DN}\n")
    assert r.returncode == 1 and f"{conf}:5: [auth_ldap] bind-dn:" in r.stderr, r.stderr


def test_tpop3d_password_key_is_refused_and_hidden(binary, staged_module_dir, workdir):
    section = "[auth_ldap]\nuri: ldapi:///\nsearchdn: cn=x\npassword: InConf1gPw\n"
    conf, r = check(binary, staged_module_dir, workdir, section)
    assert r.returncode == 1
    assert f"{conf}:6: [auth_ldap] password:" in r.stderr and "bind-password-file" in r.stderr
    assert "InConf1gPw" not in r.stderr + r.stdout
    _, r = check(binary, staged_module_dir, workdir, section, flag="-n")
    assert "InConf1gPw" not in r.stderr + r.stdout


def test_tpop3d_names_are_aliases(binary, staged_module_dir, workdir):
    # tpop3d's url carries the base; its other names map to ours.
    section = ("[auth_ldap]\nurl: ldap://127.0.0.1:389/ou=people,dc=example,dc=org\n"
               "mail-user-attr: uidNumber\nmail-group: 100\nmailbox-attr: popMailbox\n"
               "mboxtype-attr: popMailboxType\ntls: no\n")
    _, r = check(binary, staged_module_dir, workdir, section)
    assert r.returncode == 0, r.stderr
    conf, r = check(binary, staged_module_dir, workdir,
                    "[auth_ldap]\nuri: ldapi:///\nbind-dn: cn=a\nsearchdn: cn=b\n")
    assert r.returncode == 1
    assert f"{conf}:6: [auth_ldap] searchdn: means the same as bind-dn" in r.stderr, r.stderr


def test_bad_templates_and_uris_name_the_line(binary, staged_module_dir, workdir):
    conf, r = check(binary, staged_module_dir, workdir,
                    "[auth_ldap]\nuri: http://example.org\nfilter: uid=$(user)\n"
                    "base: ou=$(home)\n")
    assert r.returncode == 1
    err = r.stderr
    assert f"{conf}:4: [auth_ldap] uri:" in err, err
    assert f"{conf}:5: [auth_ldap] filter:" in err, err
    assert f"{conf}:6: [auth_ldap] base:" in err, err
