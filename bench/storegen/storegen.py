#!/usr/bin/env python3
"""storegen - a deterministic (seeded) generator of realistic POP3 mail stores.

It writes, under OUT:
  store/USER/Maildir/{new,cur,tmp}/...  qmail-style Maildir names, some with
                                        ,S=<size>,W=<pop3 size> and flags
  store/USER/mbox                       (with --format mbox) one BSD mbox
  passwd                                USER:{PLAIN}PASSWORD lines, read by both
                                        modpop3d's auth_flatfile and Dovecot's
                                        passwd-file
  manifest                              what a correct POP3 server must send
  stamp                                 the parameters (a store is reused only
                                        when they are identical)

Manifest lines (text, one record a line):
  manifest v1 seed=N format=maildir|mbox
  user NAME PASSWORD COUNT TOTAL_POP3_SIZE
  msg POP3_SIZE SHA256 RELPATH
POP3_SIZE is the size of the message with every line ending CRLF (what LIST
and STAT report). SHA256 is the digest of the exact RETR wire bytes between
the +OK line and the terminating ".\r\n": CRLF line ends, dot-stuffed. Every
message ends with a newline, so no CRLF is added before the terminator.

User groups (all counts are options; --smoke makes every group tiny):
  cNNNN   churn users, --churn-msgs messages of about 4 KB each
  dNNNN   delete users (same shape as churn users; the runner deletes on a copy)
  bulk    --bulk-msgs messages of --bulk-size bytes (base64 attachments)
  bigN    one mailbox of N small messages per --big entry
  iNNNN   idle users, two small messages each
"""
import argparse
import base64
import hashlib
import os
import random
import shutil
import sys

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when if "
         "so no will more mail server message pop3 retrieve mailbox delivery queue invoice report "
         "meeting tomorrow attached please find regards thanks budget project release").split()
DOMAINS = ("example.org", "example.com", "mail.example.net", "lists.example.edu")


def text_line(rng, width):
    out = []
    n = 0
    while n < width:
        w = rng.choice(WORDS)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def body_text(rng, target):
    """Plain text of about `target` bytes, with the lines a POP3 server must
    handle: lines starting with '.', a lone '.', '..', and 'From ' lines."""
    lines = []
    size = 0
    specials = [".", "..", ".leading dot line", "From the desk of the director",
                "From here on, nothing changes.", ". a dot and a space", "...three dots"]
    while size < target:
        r = rng.random()
        if r < 0.08:
            line = rng.choice(specials)
        elif r < 0.12:
            line = ""
        else:
            line = text_line(rng, rng.randint(20, 72))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def attachment(rng, raw_size):
    data = rng.randbytes(raw_size)
    return base64.encodebytes(data).decode("ascii")


def message(rng, user, index, target):
    """One message of about `target` bytes, LF line ends, ending with LF."""
    ts = 1_700_000_000 + index * 37 + rng.randint(0, 30)
    sender = f"{rng.choice(WORDS)}.{rng.choice(WORDS)}@{rng.choice(DOMAINS)}"
    mid = f"<{ts}.{index}.{rng.getrandbits(48):012x}@{rng.choice(DOMAINS)}>"
    hdr = [
        f"Return-Path: <{sender}>",
        f"Received: from mx{rng.randint(1, 9)}.{rng.choice(DOMAINS)} (mx [192.0.2.{rng.randint(1, 254)}])",
        f"\tby mail.example.org with ESMTPS id {rng.getrandbits(40):010X}",
        f"\tfor <{user}@example.org>; Tue, 14 Nov 2023 22:13:20 +0000",
        f"From: {rng.choice(WORDS).title()} <{sender}>",
        f"To: {user}@example.org",
        f"Subject: {text_line(rng, rng.randint(10, 50))}",
        f"Date: Tue, 14 Nov 2023 22:{index % 60:02d}:{ts % 60:02d} +0000",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
    ]
    head_size = sum(len(h) + 1 for h in hdr)
    budget = max(target - head_size - 200, 64)
    if target >= 3000 and rng.random() < 0.6 or target >= 32768:
        boundary = f"=_b{rng.getrandbits(64):016x}"
        text_part = min(budget // 4, 2048) if target >= 32768 else budget // 2
        text = body_text(rng, text_part)
        # base64 expands 3 -> 4 plus a newline per 76 characters.
        raw = max((budget - len(text) - 300) * 57 // 77, 16)
        att = attachment(rng, raw)
        hdr.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        body = (f"This is a multi-part message in MIME format.\n\n--{boundary}\n"
                "Content-Type: text/plain; charset=us-ascii\n\n" + text +
                f"\n--{boundary}\nContent-Type: application/octet-stream\n"
                f"Content-Disposition: attachment; filename=\"file{index}.bin\"\n"
                "Content-Transfer-Encoding: base64\n\n" + att + f"\n--{boundary}--\n")
    else:
        hdr.append("Content-Type: text/plain; charset=us-ascii")
        body = body_text(rng, budget)
    return ("\n".join(hdr) + "\n\n" + body).encode("ascii")


def wire(content):
    """RETR wire bytes (without the terminator) and the POP3 size."""
    crlf = content.replace(b"\n", b"\r\n")
    lines = crlf.split(b"\r\n")
    stuffed = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
    return stuffed, len(crlf)


def mbox_quote(content):
    """mboxo quoting: body lines starting with 'From ' get a '>'. The stored
    (quoted) text is what a POP3 server sends."""
    out = []
    for line in content.split(b"\n"):
        out.append(b">" + line if line.startswith(b"From ") else line)
    return b"\n".join(out)


class Writer:
    def __init__(self, out, fmt, manifest):
        self.out, self.fmt, self.manifest = out, fmt, manifest

    def user(self, name, password, sizes, rng):
        home = os.path.join(self.out, "store", name)
        records = []
        if self.fmt == "maildir":
            md = os.path.join(home, "Maildir")
            for sub in ("new", "cur", "tmp"):
                os.makedirs(os.path.join(md, sub), exist_ok=True)
        else:
            os.makedirs(home, exist_ok=True)
            mbox = open(os.path.join(home, "mbox"), "wb")
        for i, target in enumerate(sizes):
            content = message(rng, name, i, target)
            if self.fmt == "mbox":
                content = mbox_quote(content)
            stuffed, pop3_size = wire(content)
            digest = hashlib.sha256(stuffed).hexdigest()
            if self.fmt == "maildir":
                ts = 1_700_000_000 + i * 37
                base = f"{ts}.M{(i * 7919) % 1000000}P{1000 + i % 30000}Q{i}.mx1.example.org"
                kind = i % 3
                if kind == 0:
                    rel = f"new/{base}"
                elif kind == 1:
                    rel = f"cur/{base},S={len(content)},W={pop3_size}:2,S"
                else:
                    rel = f"cur/{base}:2,"
                with open(os.path.join(md, rel), "wb") as f:
                    f.write(content)
                rel = f"{name}/Maildir/{rel}"
            else:
                mbox.write(b"From " + f"sender{i}@example.org Tue Nov 14 22:13:20 2023\n".encode())
                mbox.write(content + b"\n")
                rel = f"{name}/mbox#{i}"
            records.append((pop3_size, digest, rel))
        if self.fmt == "mbox":
            mbox.close()
        total = sum(r[0] for r in records)
        self.manifest.write(f"user {name} {password} {len(records)} {total}\n")
        for size, digest, rel in records:
            self.manifest.write(f"msg {size} {digest} {rel}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="output directory (replaced)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--format", choices=("maildir", "mbox"), default="maildir")
    ap.add_argument("--churn-users", type=int, default=200)
    ap.add_argument("--churn-msgs", type=int, default=10)
    ap.add_argument("--churn-size", type=int, default=4096)
    ap.add_argument("--delete-users", type=int, default=200)
    ap.add_argument("--bulk-msgs", type=int, default=500)
    ap.add_argument("--bulk-size", type=int, default=1 << 20)
    ap.add_argument("--big", default="50000,100000", help="comma-separated mailbox sizes")
    ap.add_argument("--big-size", type=int, default=1500)
    ap.add_argument("--idle-users", type=int, default=1000)
    ap.add_argument("--smoke", action="store_true", help="every group tiny (seconds)")
    a = ap.parse_args()
    if a.smoke:
        a.churn_users, a.churn_msgs, a.delete_users = 4, 5, 4
        a.bulk_msgs, a.bulk_size, a.big, a.idle_users = 3, 200_000, "300,500", 20

    params = " ".join(f"{k}={v}" for k, v in sorted(vars(a).items()) if k != "out")
    stamp = os.path.join(a.out, "stamp")
    if os.path.exists(stamp) and open(stamp).read().strip() == params:
        print(f"storegen: {a.out} is up to date ({params})")
        return 0
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(os.path.join(a.out, "store"))
    users = []
    with open(os.path.join(a.out, "manifest.tmp"), "w") as manifest:
        manifest.write(f"manifest v1 seed={a.seed} format={a.format}\n")
        w = Writer(a.out, a.format, manifest)

        def add(name, sizes_fn, count):
            rng = random.Random(f"{a.seed}/{name}")
            password = f"pw{rng.getrandbits(40):010x}"
            w.user(name, password, [sizes_fn(rng) for _ in range(count)], rng)
            users.append((name, password))

        churn = lambda r: int(a.churn_size * r.uniform(0.8, 1.2))
        for i in range(1, a.churn_users + 1):
            add(f"c{i:04d}", churn, a.churn_msgs)
        for i in range(1, a.delete_users + 1):
            add(f"d{i:04d}", churn, a.churn_msgs)
        add("bulk", lambda r: a.bulk_size, a.bulk_msgs)
        for n in (int(x) for x in a.big.split(",") if x):
            add(f"big{n}", lambda r: int(a.big_size * r.uniform(0.6, 1.4)), n)
        for i in range(1, a.idle_users + 1):
            add(f"i{i:04d}", lambda r: 800, 2)
    os.rename(os.path.join(a.out, "manifest.tmp"), os.path.join(a.out, "manifest"))
    with open(os.path.join(a.out, "passwd"), "w") as f:
        for name, password in users:
            f.write(f"{name}:{{PLAIN}}{password}\n")
    with open(stamp, "w") as f:
        f.write(params + "\n")
    print(f"storegen: wrote {len(users)} users to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
