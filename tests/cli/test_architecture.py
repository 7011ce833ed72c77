"""ARCHITECTURE.md stays true: its folder table names exactly the folders of
the tree (core/'s and the top level's), and each folder of core/ includes
only what its row says it may (the layering: config/ reaches no socket code,
worker/ never reaches into process/, the POP3 engine only into util/)."""
import re
import subprocess

import pytest

ROW = re.compile(r"^\| `([a-z0-9_.]+(?:/[a-z0-9_]+)?)/` \|([^|]+)\|([^|]*)\|$")


def table(source_root):
    rows = {}
    for line in (source_root / "ARCHITECTURE.md").read_text().splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), set(m.group(3).split()))
    assert len(rows) > 10, "ARCHITECTURE.md has no folder table"
    return rows


def top_level_folders(source_root):
    """Folders of the source tree: those git tracks files in, or, outside a
    git checkout, every folder but dot folders and Meson build trees (which
    hold meson-private/, themselves or in a subfolder such as build-ci/gcc)."""
    if (source_root / ".git").exists():
        out = subprocess.run(["git", "-C", str(source_root), "ls-files", "-z"],
                             capture_output=True, check=True, timeout=60).stdout
        return {f.split(b"/")[0].decode() for f in out.split(b"\0")
                if b"/" in f and not f.startswith(b".")}

    def build_tree(p):
        return (p / "meson-private").exists() or any(
            (c / "meson-private").exists() for c in p.iterdir() if c.is_dir())

    return {p.name for p in source_root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and not build_tree(p)}


def core_folders(source_root):
    return {p.name for p in (source_root / "core").iterdir() if p.is_dir()}


def includes_of(folder):
    """The other core folders that files of `folder` include."""
    used = {}
    for f in sorted(folder.rglob("*")):
        if f.suffix not in (".cpp", ".hpp", ".h"):
            continue
        for m in re.finditer(r'^#include "([a-z0-9_]+)/', f.read_text(), re.M):
            if m.group(1) != folder.name:
                used.setdefault(m.group(1), f.name)
    return used


def test_every_folder_has_a_row_and_every_row_a_folder(source_root):
    rows = table(source_root)
    documented_core = {r.split("/")[1] for r in rows if r.startswith("core/")}
    assert documented_core == core_folders(source_root)
    documented_top = {r for r in rows if "/" not in r} | {"core"}
    assert documented_top == top_level_folders(source_root)
    assert all(owns for owns, _ in rows.values())


def test_core_folders_include_only_what_their_row_allows(source_root):
    rows = table(source_root)
    wrong = []
    for name in sorted(core_folders(source_root)):
        _, allowed = rows[f"core/{name}"]
        for used, example in includes_of(source_root / "core" / name).items():
            if used not in allowed:
                wrong.append(f"core/{name}/{example} includes {used}/")
    assert wrong == []


def test_the_layers_have_no_cycle(source_root):
    rows = table(source_root)
    graph = {r.split("/")[1]: uses for r, (_, uses) in rows.items() if r.startswith("core/")}
    state = {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        if state.get(node) == "open":
            pytest.fail("include cycle: " + " -> ".join(path + [node]))
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, path + [node])
        state[node] = "done"

    for node in sorted(graph):
        visit(node, [])
    assert state and all(v == "done" for v in state.values())
