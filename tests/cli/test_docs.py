"""The documentation agrees with the code: every configuration key a schema
declares (the core's and each installed module's, as `modpop3d -M` lists
them) is documented in the man page and shown in the conf.d snippet."""
import re

from conftest import run


def schema_by_module(binary, workdir, moduledir):
    conf = workdir / "m.conf"
    conf.write_text(f"module-dir: {moduledir}\n")
    out = run(binary, "-M", "-f", str(conf)).stdout
    modules, current = {}, None
    for line in out.splitlines():
        head = re.match(r"^(\w+) \((auth|mailbox|hook), version", line)
        if head:
            current = head.group(1)
            modules[current] = []
        elif line.startswith("core (global section)"):
            current = "core"
            modules[current] = []
        else:
            key = re.match(r"^    ([a-z0-9-]+) \(", line)
            if key and current:
                modules[current].append(key.group(1))
    return modules


def test_every_key_is_documented(binary, source_root, staged_module_dir, workdir):
    modules = schema_by_module(binary, workdir, staged_module_dir)
    assert "core" in modules and len(modules["core"]) > 10
    installed = [m for m in modules if m != "core"]
    assert "auth_flatfile" in installed and "mailbox_maildir" in installed
    missing = []
    core_page = (source_root / "man" / "modpop3d.conf.5").read_text()
    core_conf = (source_root / "conf.d" / "modpop3d.conf").read_text()
    for key in modules["core"]:
        if f"Cm {key} " not in core_page:
            missing.append(f"modpop3d.conf.5: {key}")
        if not re.search(rf"^#?{re.escape(key)}:", core_conf, re.M):
            missing.append(f"conf.d/modpop3d.conf: {key}")
    for name in installed:
        page = (source_root / "man" / f"modpop3d-{name}.8").read_text()
        snippets = list((source_root / "conf.d").glob(f"[0-9][0-9]-{name}.conf"))
        assert len(snippets) == 1, f"no conf.d snippet for {name}"
        snippet = snippets[0].read_text()
        assert f"[{name}]" in snippet
        for key in modules[name]:
            if key not in page:
                missing.append(f"modpop3d-{name}.8: {key}")
            if not re.search(rf"^#?\s*{re.escape(key)}\b", snippet, re.M):
                missing.append(f"{snippets[0].name}: {key}")
    assert missing == []
