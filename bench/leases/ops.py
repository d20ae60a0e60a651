#!/usr/bin/env python3
"""File operations on pfs mounts for bench/leases, run as child processes of the bench (which
never does I/O on a mount itself). Every subcommand prints one JSON line; "ms" holds the
latency of each operation in milliseconds, "seconds" the wall time of the whole loop.

  write DIR N SIZE SEED   create or overwrite DIR/f00000.. with SIZE bytes each (no fsync)
  read DIR N SIZE SEED    open+read+close each file, checking its content; per-op ms
  stat DIR N SIZE         stat each file, checking its size; per-op ms
  create DIR N            small files: create+write 4 KiB+close each (as fsops.py smallfiles)
  statall DIR N           small files: stat each (size must be 4096)
  unlink DIR N            small files: unlink each
  pingpong A B ROUNDS REC alternately on path A and path B (two mounts of one file): open
                          O_WRONLY|O_APPEND, write record i (REC bytes), fsync, close; A writes
                          the even records, B the odd ones; per-step ms
  verify FILE ROUNDS REC  FILE must hold exactly the 2 x ROUNDS records of pingpong, in order

Content for (seed, index) is random.Random(f"{seed}:{index}").randbytes(n): the same each run.
Exit 1 with a message on stderr when a check fails.
"""
import json
import os
import random
import sys
import time


def data(seed, i, n):
    return random.Random('%s:%s' % (seed, i)).randbytes(n)


def name(d, i):
    return os.path.join(d, 'f%05d' % i)


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def loop(n, op):
    ms = []
    t0 = time.monotonic()
    for i in range(n):
        s = time.perf_counter()
        op(i)
        ms.append((time.perf_counter() - s) * 1000)
    print(json.dumps({'n': n, 'seconds': time.monotonic() - t0, 'ms': ms}))


def cmd_write(d, n, size, seed):
    os.makedirs(d, exist_ok=True)

    def op(i):
        fd = os.open(name(d, i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data(seed, i, size))
        os.close(fd)
    loop(n, op)


def cmd_read(d, n, size, seed):
    got = []

    def op(i):
        fd = os.open(name(d, i), os.O_RDONLY)
        got.append(os.read(fd, size + 1))
        os.close(fd)
    loop(n, op)
    for i, b in enumerate(got):
        if b != data(seed, i, size):
            fail('%s: wrong content (%d bytes read, expected %d bytes of seed %s)' % (name(d, i), len(b), size, seed))


def cmd_stat(d, n, size):
    def op(i):
        st = os.stat(name(d, i))
        if st.st_size != size:
            fail('%s: size %d, expected %d' % (name(d, i), st.st_size, size))
    loop(n, op)


SMALL = 4096


def cmd_create(d, n):
    os.makedirs(d, exist_ok=True)
    b = data('small', 0, SMALL)

    def op(i):
        fd = os.open(name(d, i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b)
        os.close(fd)
    loop(n, op)


def cmd_unlink(d, n):
    loop(n, lambda i: os.unlink(name(d, i)))


def record(i, rec):
    head = ('%08d %s ' % (i, 'A' if i % 2 == 0 else 'B')).encode()
    return head + data('pingpong', i, rec).hex().encode()[:rec - len(head) - 1] + b'\n'


def cmd_pingpong(a, b, rounds, rec):
    def op(i):
        fd = os.open(a if i % 2 == 0 else b, os.O_WRONLY | os.O_APPEND)
        if os.write(fd, record(i, rec)) != rec:
            fail('short write of record %d' % i)
        os.fsync(fd)
        os.close(fd)
    loop(2 * rounds, op)


def cmd_verify(path, rounds, rec):
    with open(path, 'rb') as f:
        b = f.read()
    want = b''.join(record(i, rec) for i in range(2 * rounds))
    if b != want:
        first = next((i for i in range(min(len(b), len(want))) if b[i] != want[i]), min(len(b), len(want)))
        fail('%s: %d bytes, expected %d; first difference at byte %d (record %d): %r' % (
            path, len(b), len(want), first, first // rec, b[first // rec * rec:first // rec * rec + rec]))
    print(json.dumps({'bytes': len(b), 'records': 2 * rounds}))


def main(argv):
    c, a = (argv[1] if len(argv) > 1 else ''), argv[2:]
    if c == 'write':
        cmd_write(a[0], int(a[1]), int(a[2]), a[3])
    elif c == 'read':
        cmd_read(a[0], int(a[1]), int(a[2]), a[3])
    elif c == 'stat':
        cmd_stat(a[0], int(a[1]), int(a[2]))
    elif c == 'create':
        cmd_create(a[0], int(a[1]))
    elif c == 'statall':
        cmd_stat(a[0], int(a[1]), SMALL)
    elif c == 'unlink':
        cmd_unlink(a[0], int(a[1]))
    elif c == 'pingpong':
        cmd_pingpong(a[0], a[1], int(a[2]), int(a[3]))
    elif c == 'verify':
        cmd_verify(a[0], int(a[1]), int(a[2]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main(sys.argv)
