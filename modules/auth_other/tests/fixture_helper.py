#!/usr/bin/python3
# fixture_helper.py - test fixture for auth_other: a tpop3d auth-other helper
# for known test users. The tests copy it under different names; the name
# (basename of argv[0]) picks the behaviour:
#   helper-good              answers PASS and ONLOGIN
#   helper-crash             answers one request, then dies of SIGSEGV
#   helper-crashall          dies of SIGSEGV on every request, before replying
#   helper-hang              the first process ever hangs on its first request
#   helper-garbage-long      replies with 5000 bytes without a terminator
#   helper-garbage-trailing  a valid reply followed by stray bytes
#   helper-garbage-result    result=MAYBE
#   helper-garbage-nouid     result=YES without uid/gid
#   helper-garbage-text      a text line, no NUL at all, then silence
# It records in out/ (next to itself): spawns (one pid per start),
# requests (one JSON object per request, the password replaced by its
# length), ident (uid gid groups).
import json
import os
import signal
import sys
import time

NAME = os.path.basename(sys.argv[0])
HERE = os.path.dirname(os.path.abspath(sys.argv[0]))
OUT = os.path.join(HERE, 'out')

USERS = {
    b'alice': (b'wonderland', [(b'uid', b'nobody'), (b'gid', b'nogroup')]),
    b'bob': (b'builder', [(b'uid', b'65534'), (b'gid', b'65534'), (b'mailbox', b'/var/mail/bob'),
                          (b'mboxtype', b'bsd'), (b'domain', b'example.org'),
                          (b'logmsg', b'bob\x01 logged in')]),
    b'carol': (b'root', [(b'uid', b'0'), (b'gid', b'0')]),
    b'dave': (b'daemon', [(b'uid', b'daemon'), (b'gid', b'daemon')]),
    b'mallory': (b'spaces', [(b'uid', b'nobody'), (b'gid', b'nogroup'),
                             (b'mailbox', b'/var/mail/x $(user)')]),
    b'ghost': (b'ghost', [(b'uid', b'mp3test-no-such-user'), (b'gid', b'nogroup')]),
}


def record(name, line):
    with open(os.path.join(OUT, name), 'a') as f:
        f.write(line + '\n')


def read_packet(buf):
    """Read one request from stdin; returns (pairs, rest) or (None, b'') at EOF."""
    while True:
        pairs, pos = [], 0
        while True:
            k = buf.find(b'\0', pos)
            if k < 0:
                break
            if k == pos:
                return pairs, buf[k + 1:]
            v = buf.find(b'\0', k + 1)
            if v < 0:
                break
            pairs.append((buf[pos:k], buf[k + 1:v]))
            pos = v + 1
        chunk = os.read(0, 4096)
        if not chunk:
            return None, b''
        buf += chunk


def send(pairs, extra=b''):
    os.write(1, b''.join(k + b'\0' + v + b'\0' for k, v in pairs) + b'\0' + extra)


def answer(req):
    method = req.get(b'method')
    if method == b'ONLOGIN':
        return [(b'logmsg', b'welcome ' + req.get(b'user', b''))]
    if method != b'PASS':
        return [(b'result', b'NO')]
    user, pw = req.get(b'user', b''), req.get(b'pass', b'')
    if user == b'eve':
        return [(b'result', b'NOUSER')]
    if user == b'tempfail':
        return [(b'result', b'TEMP'), (b'logmsg', b'backend down')]
    known = USERS.get(user)
    if known is None or known[0] != pw:
        return [(b'result', b'NO')]
    return [(b'result', b'YES')] + known[1]


def main():
    record('spawns', str(os.getpid()))
    record('ident', '%d %d %s' % (os.getuid(), os.getgid(),
                                  ','.join(str(g) for g in sorted(os.getgroups()))))
    buf, served = b'', 0
    while True:
        pairs, buf = read_packet(buf)
        if pairs is None:
            return 0
        req = dict(pairs)
        shown = {k.decode('latin-1'): ('<%d bytes>' % len(v) if k == b'pass' else v.decode('latin-1'))
                 for k, v in pairs}
        record('requests', json.dumps(shown, sort_keys=True))
        if NAME == 'helper-crashall' or (NAME == 'helper-crash' and served >= 1):
            os.kill(os.getpid(), signal.SIGSEGV)
        if NAME == 'helper-hang':
            marker = os.path.join(OUT, 'hung')
            if not os.path.exists(marker):
                open(marker, 'w').close()
                time.sleep(3600)
        if NAME == 'helper-garbage-long':
            os.write(1, b'A' * 5000)
        elif NAME == 'helper-garbage-trailing':
            send([(b'result', b'NO')], b'xx')
        elif NAME == 'helper-garbage-result':
            send([(b'result', b'MAYBE')])
        elif NAME == 'helper-garbage-nouid':
            send([(b'result', b'YES')])
        elif NAME == 'helper-garbage-text':
            os.write(1, b'OK alice\n')
        else:
            send(answer(req))
        served += 1


if __name__ == '__main__':
    sys.exit(main())
