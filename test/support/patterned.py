#!/usr/bin/env python3
"""Patterned file data for fault tests: every 8-byte word names its seed and its own offset, so a
reader can tell the bytes written from zeros, older data or another file's bytes.

  patterned.py write PATH SEED OFFSET_MIB COUNT_MIB [--create]
      writes COUNT_MIB MiB at OFFSET_MIB (one write per MiB), then fsync, then close; prints JSON
      {"written": MiB accepted, "write": errno name or null, "fsync": ..., "close": ...}.
      Stops writing at the first failed write (its MiB is not counted).
  patterned.py check PATH SEED
      reads the file MiB by MiB; prints JSON {"size": bytes, "good": [MiB...], "eio": [MiB...],
      "other": [MiB...]} where good is the pattern of SEED, eio a read that failed with EIO and
      other anything else (zeros, older bytes: wrong data).
"""
import errno
import json
import os
import sys
from array import array

MIB = 1 << 20


def pattern(seed, mib):
    base = (seed << 40) + mib * (MIB // 8)
    return array('Q', range(base, base + MIB // 8)).tobytes()


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def write(path, seed, offset, count, create):
    flags = os.O_WRONLY | (os.O_CREAT if create else 0)
    fd = os.open(path, flags, 0o644)
    out = {'written': 0, 'write': None, 'fsync': None, 'close': None}
    for mib in range(offset, offset + count):
        try:
            os.pwrite(fd, pattern(seed, mib), mib * MIB)
            out['written'] += 1
        except OSError as e:
            out['write'] = err_name(e)
            break
    try:
        os.fsync(fd)
    except OSError as e:
        out['fsync'] = err_name(e)
    try:
        os.close(fd)
    except OSError as e:
        out['close'] = err_name(e)
    print(json.dumps(out))


def check(path, seed):
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    out = {'size': size, 'good': [], 'eio': [], 'other': []}
    for mib in range((size + MIB - 1) // MIB):
        try:
            got = os.pread(fd, MIB, mib * MIB)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            out['eio'].append(mib)
            continue
        want = pattern(seed, mib)[:len(got)]
        out['good' if got == want else 'other'].append(mib)
    os.close(fd)
    print(json.dumps(out))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'write':
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), '--create' in sys.argv[6:])
    elif cmd == 'check':
        check(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(f'unknown command {cmd}')
