#!/usr/bin/env python3
"""A process that holds files open on a mount and runs one command per stdin line (JSON), answering
one JSON line each: {"ok": value} or {"err": "ENAME"}. Used by e2e tests that need a file to stay
open across steps (test/support/holder.ts).

Commands: ping -> 'pong'; open {path, flags: [names of os.O_*], mode} -> fd; pwrite {fd, off, data}; pread {fd, off, len}
-> str; fsync {fd}; close {fd}; ftruncate {fd, size}; fchmod {fd, mode}; setxattr {path, name, value};
append {fd, data} (os.write on an O_APPEND fd); appends {path, tag, count, size, pauseMs} -> count
(O_APPEND records, each one write(2), pauseMs apart)."""
import errno
import json
import os
import sys
import time


def run(c):
    op = c['op']
    if op == 'ping':
        return 'pong'
    if op == 'open':
        flags = 0
        for name in c['flags']:
            flags |= getattr(os, name)
        return os.open(c['path'], flags, c.get('mode', 0o644))
    if op == 'pwrite':
        return os.pwrite(c['fd'], c['data'].encode(), c['off'])
    if op == 'pread':
        return os.pread(c['fd'], c['len'], c['off']).decode()
    if op == 'fsync':
        return os.fsync(c['fd'])
    if op == 'close':
        return os.close(c['fd'])
    if op == 'ftruncate':
        return os.ftruncate(c['fd'], c['size'])
    if op == 'fchmod':
        return os.fchmod(c['fd'], c['mode'])
    if op == 'setxattr':
        return os.setxattr(c['path'], c['name'], c['value'].encode())
    if op == 'append':
        return os.write(c['fd'], c['data'].encode())
    if op == 'appends':
        fd = os.open(c['path'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for i in range(c['count']):
                rec = ('%s %06d ' % (c['tag'], i)).ljust(c['size'] - 1, '.') + '\n'
                assert os.write(fd, rec.encode()) == c['size']
                if c.get('pauseMs'):
                    time.sleep(c['pauseMs'] / 1000)
        finally:
            os.close(fd)
        return c['count']
    raise ValueError('unknown op %r' % op)


for line in sys.stdin:
    try:
        out = {'ok': run(json.loads(line))}
    except OSError as e:
        out = {'err': errno.errorcode.get(e.errno, str(e.errno))}
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
