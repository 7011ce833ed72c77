#!/usr/bin/python3
# fixture_checkpassword.py - test fixture for auth_other's checkpassword mode:
# reads "user\0password\0timestamp\0" from fd 3 like qmail's checkpassword,
# records what it saw in out/checkpw (JSON: argv, environment, what arrived,
# the password replaced by its length) and then:
#   nobody/secret, ghost/secret  exec argv[1:] (success, exit status of /bin/true)
#   tempfail                     exit 111
#   slow                         hang
#   anything else                exit 1
import json
import os
import sys
import time

OUT = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), 'out')

data = b''
while len(data) < 513:
    chunk = os.read(3, 513 - len(data))
    if not chunk:
        break
    data += chunk
parts = data.split(b'\0')
user, password, stamp = (parts + [b'', b'', b''])[:3]
# The environment as execve passed it (Python itself may add LC_CTYPE to
# os.environ when coercing the C locale).
with open('/proc/self/environ', 'rb') as f:
    env = dict(e.decode('latin-1').split('=', 1) for e in f.read().split(b'\0') if e)
with open(os.path.join(OUT, 'checkpw'), 'a') as f:
    f.write(json.dumps({'argv': sys.argv, 'env': env, 'user': user.decode('latin-1'),
                        'pass_len': len(password), 'stamp': stamp.decode('latin-1'),
                        'size': len(data), 'uid': os.getuid()}) + '\n')
if user in (b'nobody', b'ghost') and password == b'secret':
    os.execv(sys.argv[1], sys.argv[1:])
if user == b'tempfail':
    sys.exit(111)
if user == b'slow':
    time.sleep(3600)
sys.exit(1)
