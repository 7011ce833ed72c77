"""bench_smoke: the benchmark tools work and their verification bites.

Not a timing test. It checks that bench/loadgen reports errors when the
bytes are wrong (a corrupting trivial server, a wrong manifest), reports
none when they are right, and that `bench/run --smoke` runs every scenario
against the real modpop3d with zero verification errors (sys-churn, which
creates system users, only as root). Dovecot is not
needed (the runner is told to use modpop3d only).
"""
import json
import os
import re
import subprocess
import sys

import pytest


def _tool(name):
    path = os.environ.get(name)
    if not path:
        pytest.fail(f"{name} is not set: run through 'meson test'")
    return path


@pytest.fixture(scope="module")
def tools():
    return _tool("MODPOP3D_BENCH_LOADGEN"), _tool("MODPOP3D_BENCH_TRIVIAL")


@pytest.fixture(scope="module")
def store(source_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("store")
    subprocess.run([sys.executable, str(source_root / "bench" / "storegen" / "storegen.py"),
                    str(out / "s"), "--smoke"], check=True, stdout=subprocess.DEVNULL, timeout=120)
    return out / "s"


class Trivial:
    def __init__(self, binary, store, *extra):
        self.proc = subprocess.Popen([binary, "--store", str(store / "store"), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening 127\.0\.0\.1:(\d+)", line)
        assert m, line
        self.port = int(m.group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def loadgen(binary, port, manifest, *args):
    p = subprocess.run([binary, "--port", str(port), "--manifest", str(manifest),
                        "--time-limit", "30", *args], capture_output=True, text=True, timeout=90)
    m = re.search(r"^RESULT (.*)$", p.stdout, re.M)
    assert m, p.stdout + p.stderr
    result = dict(kv.split("=", 1) for kv in m.group(1).split())
    return p, result


@pytest.mark.parametrize("scenario,args", [
    ("churn", ["--sessions", "30", "--concurrency", "8"]),
    ("bulk", []),
    ("delete", ["--concurrency", "4"]),
    ("big", ["--users", "big300"]),
])
def test_loadgen_clean_against_trivial_server(tools, store, scenario, args):
    lg, triv = tools
    t = Trivial(triv, store)
    try:
        p, r = loadgen(lg, t.port, store / "manifest", "--scenario", scenario, *args)
    finally:
        t.stop()
    assert p.returncode == 0 and r["errors"] == "0", p.stderr
    assert int(r["ok"]) > 0


def test_loadgen_compares_with_the_store(tools, store):
    """--store: RETRs are compared with wire bytes rebuilt from the store."""
    lg, triv = tools
    t = Trivial(triv, store)
    try:
        p, r = loadgen(lg, t.port, store / "manifest", "--scenario", "bulk",
                       "--store", str(store / "store"))
    finally:
        t.stop()
    assert p.returncode == 0 and r["errors"] == "0", p.stderr
    assert int(r["expected"]) > 0 and int(r["retr"]) > 0, r
    assert float(r["cpu_s"]) >= 0


@pytest.mark.parametrize("compare", [False, True], ids=["sha256", "store"])
def test_loadgen_catches_corrupted_retr(tools, store, compare):
    lg, triv = tools
    t = Trivial(triv, store, "--corrupt", "4")  # every 4th RETR has one flipped bit
    extra = ["--store", str(store / "store")] if compare else []
    try:
        p, r = loadgen(lg, t.port, store / "manifest", "--scenario", "churn",
                       "--sessions", "20", "--concurrency", "4", *extra)
    finally:
        t.stop()
    assert (int(r["expected"]) > 0) == compare, r
    if compare:
        assert "compared with the" in p.stderr, p.stderr
    assert p.returncode == 1
    # 60 RETRs, every 4th corrupted: 15 bad RETRs, each in its own session
    # (a session stops at its first error).
    assert int(r["errors"]) >= 10, p.stderr
    assert "bytes match no message" in p.stderr


@pytest.mark.parametrize("compare", [False, True], ids=["sha256", "store"])
def test_loadgen_catches_wrong_manifest(tools, store, tmp_path, compare):
    lg, triv = tools
    text = (store / "manifest").read_text().splitlines()
    # One message's digest and one user's total are now wrong.
    i = next(n for n, l in enumerate(text) if l.startswith("msg "))
    f = text[i].split()
    f[2] = ("0" if f[2][0] != "0" else "1") + f[2][1:]
    text[i] = " ".join(f)
    bad = tmp_path / "manifest"
    bad.write_text("\n".join(text) + "\n")
    t = Trivial(triv, store)
    try:
        p, r = loadgen(lg, t.port, bad, "--scenario", "churn", "--sessions", "40",
                       "--concurrency", "4", "--retr", "5",
                       *(["--store", str(store / "store")] if compare else []))
    finally:
        t.stop()
    assert p.returncode == 1 and int(r["errors"]) > 0, p.stdout
    assert "bytes match no message" in p.stderr
    if compare:
        # The store disagrees with the manifest for that message: it is
        # reported, and its RETRs are hashed (and fail) instead of compared.
        assert "do not hash to the manifest" in p.stderr


def test_bench_run_smoke_against_modpop3d(tools, binary, staged_module_dir, source_root, workdir):
    lg, triv = tools
    out = workdir / "results.json"
    cmd = [sys.executable, str(source_root / "bench" / "run"), "--smoke",
           "--servers", "modpop3d", "--no-install", "--work", str(workdir / "w"),
           "--modpop3d", binary, "--module-dir", staged_module_dir,
           "--loadgen", lg, "--trivial", triv, "--json", str(out)]
    if os.getuid() == 0:
        cmd += ["--run-as", "nobody"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=500)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads(out.read_text())
    assert res["failed"] is False
    ran = {r["scenario"] for r in res["results"] if r["values"].get("modpop3d")}
    assert {"churn", "tls-churn", "tls-churn-resume", "bulk", "tls-bulk", "big", "idle",
            "delete"} <= ran, ran
    # sys-churn creates system users (useradd) and forks setuid sessions: root
    # only; otherwise the runner says why it skipped it.
    if os.getuid() == 0:
        assert "sys-churn" in ran, ran
    else:
        assert "sys-churn skipped: needs root" in p.stderr
    assert "0 errors" in p.stdout
