#!/usr/bin/env python3
"""Test support: one process taking and testing locks on one file, step by step.

    locktool.py FILE STEP...

Steps (each prints one line "STEP: RESULT" and flushes; a failing step does not stop the rest):
    lock r|w|u START LEN nb|w  fcntl F_SETLK (nb) or F_SETLKW (w); LEN 0 = to end of file
    getlk r|w START LEN        fcntl F_GETLK: "none" or "TYPE START LEN PID"
    flock sh|ex|un [nb]        flock(2)
    touch PATH                 create PATH (a marker on the local disk); "pid N" is written into it
    wait PATH                  wait (up to 120 s) until PATH exists
    sleep SECONDS
RESULT is "ok", the errno name (EAGAIN, EACCES, EDEADLK, EINTR, ...), or the F_GETLK answer.
"""
import errno
import fcntl
import os
import struct
import sys
import time

# struct flock on Linux x86_64 / aarch64: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
FLOCK = 'hhqqi4x'
TYPES = {'r': fcntl.F_RDLCK, 'w': fcntl.F_WRLCK, 'u': fcntl.F_UNLCK}
NAMES = {fcntl.F_RDLCK: 'r', fcntl.F_WRLCK: 'w', fcntl.F_UNLCK: 'u'}


def step(fd, words):
    op = words[0]
    if op == 'lock':
        t, start, length, mode = words[1], int(words[2]), int(words[3]), words[4]
        fcntl.fcntl(fd, fcntl.F_SETLKW if mode == 'w' else fcntl.F_SETLK, struct.pack(FLOCK, TYPES[t], 0, start, length, 0))
        return 'ok'
    if op == 'getlk':
        t, start, length = words[1], int(words[2]), int(words[3])
        out = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FLOCK, TYPES[t], 0, start, length, 0))
        lt, _, s, ln, pid = struct.unpack(FLOCK, out)
        return 'none' if lt == fcntl.F_UNLCK else f'{NAMES[lt]} {s} {ln} {pid}'
    if op == 'flock':
        how = {'sh': fcntl.LOCK_SH, 'ex': fcntl.LOCK_EX, 'un': fcntl.LOCK_UN}[words[1]]
        fcntl.flock(fd, how | (fcntl.LOCK_NB if 'nb' in words[2:] else 0))
        return 'ok'
    if op == 'touch':
        with open(words[1], 'w') as f:
            f.write(f'pid {os.getpid()}\n')
        return 'ok'
    if op == 'wait':
        until = time.time() + 120
        while not os.path.exists(words[1]):
            if time.time() > until:
                return 'timeout'
            time.sleep(0.02)
        return 'ok'
    if op == 'sleep':
        time.sleep(float(words[1]))
        return 'ok'
    raise ValueError(f'unknown step {op}')


def main():
    path, steps = sys.argv[1], sys.argv[2:]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    for s in steps:
        words = s.split()
        started = time.time()
        try:
            result = step(fd, words)
        except OSError as e:
            result = errno.errorcode.get(e.errno, str(e.errno))
        print(f'{s}: {result} ({(time.time() - started) * 1000:.0f} ms)', flush=True)
    os.close(fd)


if __name__ == '__main__':
    # Python retries EINTR itself (PEP 475) unless a handler raises: make SIGALRM raise, so a
    # test can interrupt a wait with `timeout -s ALRM`.
    import signal

    def on_alarm(signum, frame):
        raise InterruptedError(errno.EINTR, 'interrupted by SIGALRM')
    signal.signal(signal.SIGALRM, on_alarm)
    main()
