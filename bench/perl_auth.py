#!/usr/bin/env python3
"""perl_auth.py - logins per second and server CPU per login through
auth_perl (a trivial tpop3d-style script) against auth_flatfile, on the
same daemon build, mailbox_empty as the maildrop.

  bench/perl_auth.py --binary BUILD/core/modpop3d --module-dir STAGED_MODULEDIR \\
      [--logins 3000] [--concurrency 8] [--helpers 4]

Each run starts a fresh daemon, makes --logins USER/PASS/QUIT sessions from
--concurrency client threads, then stops it; the CPU is the daemon's whole
process tree (wait4 rusage: master, auth process, workers, the Perl spawner
and helpers), the idle start-up and shut-down included (measured once with
no logins and subtracted). Run as root (the daemon then runs as nobody) or
as a normal user.
"""
import argparse
import os
import pathlib
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time

UID = 65534 if os.getuid() == 0 else os.getuid()

PERL = r"""
sub pass {
    my ($r) = @_;
    return { result => 'NO' } unless $r->{pass} eq 'pw' . substr($r->{user}, 4);
    return { result => 'YES', uid => UID, gid => UID };
}
1;
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(port, user, pw):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rwb", buffering=0)
        assert f.readline().startswith(b"+OK")
        s.sendall(f"USER {user}\r\n".encode())
        assert f.readline().startswith(b"+OK")
        s.sendall(f"PASS {pw}\r\n".encode())
        r = f.readline()
        assert r.startswith(b"+OK"), r
        s.sendall(b"QUIT\r\n")
        f.readline()


def run(a, work, name, modules, logins):
    port = free_port()
    conf = work / f"{name}.conf"
    core = (f"module-dir: {a.module_dir}\nlisten: 127.0.0.1:{port}\nlog-level: info\n"
            f"auth-failure-delay: 0\nworkers: 2\nmax-connections-per-ip: 100\n")
    if os.getuid() == 0:
        core += "mail-user: nobody\n"
    conf.write_text(core + modules + "[mailbox_empty]\n")
    log = open(work / f"{name}.log", "wb")
    proc = subprocess.Popen([a.binary, "-f", str(conf), "-e"], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while b"event=ready" not in (work / f"{name}.log").read_bytes():
        assert proc.poll() is None and time.monotonic() < deadline, "daemon did not start"
        time.sleep(0.02)
    users = [f"user{i % 100}" for i in range(logins)]
    lock = threading.Lock()
    t0 = time.monotonic()

    def worker():
        while True:
            with lock:
                if not users:
                    return
                u = users.pop()
            session(port, u, "pw" + u[4:])

    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    proc.send_signal(signal.SIGTERM)
    _, status, ru = os.wait4(proc.pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    return wall, ru.ru_utime + ru.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--module-dir", required=True)
    p.add_argument("--logins", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--helpers", type=int, default=4)
    a = p.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="perl-bench-"))
    os.chmod(work, 0o755)
    (work / "users").write_text("".join(f"user{i}:{{PLAIN}}pw{i}:{UID}:{UID}:/nonexistent:empty:\n"
                                        for i in range(100)))
    os.chmod(work / "users", 0o644)
    (work / "auth.pl").write_text(PERL.replace("UID", str(UID)))
    os.chmod(work / "auth.pl", 0o644)
    setups = {
        "auth_flatfile": (f"[auth_flatfile]\nfile: {work}/users\n"),
        "auth_perl": (f"[auth_perl]\nstart: do '{work}/auth.pl';\npass: pass\n"
                      f"helpers: {a.helpers}\nmailbox: empty:\nmin-uid: 1\n"),
    }
    print(f"| module | logins | concurrency | logins/s | server CPU ms/login |")
    print(f"|---|---|---|---|---|")
    for name, modules in setups.items():
        _, idle_cpu = run(a, work, name + "-idle", modules, 0)
        wall, cpu = run(a, work, name, modules, a.logins)
        print(f"| {name} | {a.logins} | {a.concurrency} | {a.logins / wall:.0f} | "
              f"{(cpu - idle_cpu) * 1000 / a.logins:.3f} |")


if __name__ == "__main__":
    main()
