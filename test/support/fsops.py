#!/usr/bin/env python3
"""Filesystem workloads for the pfs e2e tests and bench/fs, run as child processes.

The tests never touch the mount from their own process: they run this script (and other real
programs) against it. Subcommands:

  ops ROOT              read a JSON array of ops on stdin, apply each under ROOT (created if
                        missing), print one JSON line per op: {"ok": value} or {"err": "ENOENT"}
  tree ROOT             print the tree under ROOT as JSON: per path its type, mode, nlink, owner,
                        size, content sha256, symlink target, user.* xattrs and mtime (in ms)
                        when it is one set explicitly (before 2015; later ones are all just
                        "recent"); no other times, no inode numbers
  rewrite FILE SEED N MAXSIZE
                        N random pwrite/ftruncate/pread/fsync/reopen steps on FILE against an
                        in-memory model; reads are checked as they go, and the whole file after
                        close and reopen. Prints {"ok":...} and exits 0, or exits 1 naming the
                        first difference
  writer DIR LOG N SEED [STOPFILE]
                        N files: write to a temp name, fsync, rename into place, fsync DIR, then
                        append "sha256  name" to LOG (outside the mount) and fsync LOG; stops
                        early once STOPFILE exists
  stream FILE LOG SEED CHUNK MAXBYTES
                        append CHUNK-byte pieces of a deterministic stream to FILE, fsync after
                        each, and log each fsynced end offset to LOG; stops at MAXBYTES or at the
                        first error (reported on stderr, exit 3)
  verify-stream FILE SEED CHUNK MINLEN
                        FILE must be at least MINLEN bytes and a prefix of the stream
  smallfiles DIR N      create+write 4 KiB+close N files, stat them, unlink them; prints seconds
                        per phase as JSON
  randread FILE N SEED  N random 4 KiB-aligned 4 KiB preads; prints {"ops", "seconds"}

Data for a (seed, index) is random.Random(f"{seed}:{index}").randbytes(n): the same on every run.
"""
import errno
import hashlib
import json
import os
import random
import stat
import sys
import time


def data(seed, n):
    return random.Random(str(seed)).randbytes(n)


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


# ------------------------------------------------------------------------------------------
# ops

def kind(mode):
    if stat.S_ISREG(mode):
        return 'f'
    if stat.S_ISDIR(mode):
        return 'd'
    if stat.S_ISLNK(mode):
        return 'l'
    if stat.S_ISFIFO(mode):
        return 'p'
    return '?'


# Explicit times set by the ops are before 2015; anything later was set by the file system.
RECENT_NS = 1_420_070_400 * 10**9


def mtime_class(st):
    # Milliseconds: pfs stores nanoseconds, but fuse-native's stat shows milliseconds (docs/SEMANTICS.md).
    if stat.S_ISFIFO(st.st_mode):
        return 'fifo'  # pipe I/O changes a FIFO's times on ext4, not on pfs (docs/SEMANTICS.md)
    return '%d ms' % (st.st_mtime_ns // 10**6) if st.st_mtime_ns < RECENT_NS else 'recent'


def attrs(st):
    out = {'t': kind(st.st_mode), 'mode': oct(stat.S_IMODE(st.st_mode)), 'nlink': st.st_nlink,
           'owner': '%d:%d' % (st.st_uid, st.st_gid), 'mtime': mtime_class(st)}
    if not stat.S_ISDIR(st.st_mode):
        out['size'] = st.st_size
    return out


def open_flags(names):
    f = 0
    for n in names:
        f |= {'creat': os.O_CREAT, 'append': os.O_APPEND, 'trunc': os.O_TRUNC, 'excl': os.O_EXCL}[n]
    return f


def step(fd, s):
    kind_ = s[0]
    if kind_ == 'w':
        _, off, n, seed = s
        return os.pwrite(fd, data(seed, n), off)
    if kind_ == 'a':
        _, n, seed = s
        return os.write(fd, data(seed, n))
    if kind_ == 't':
        os.ftruncate(fd, s[1])
        return None
    if kind_ == 'r':
        b = os.pread(fd, s[2], s[1])
        return [len(b), hashlib.sha256(b).hexdigest()[:16]]
    if kind_ == 's':
        st = os.fstat(fd)
        # A directory's st_size is the file system's own business (ext4 4096, pfs 0), as in attrs().
        return 'dir' if stat.S_ISDIR(st.st_mode) else st.st_size
    if kind_ == 'f':
        os.fsync(fd)
        return None
    if kind_ == 'u':
        t = s[1] * 10**9 + s[2]
        os.utime(fd, ns=(t, t))
        return None
    if kind_ == 'm':
        return mtime_class(os.fstat(fd))
    # Steps of a descriptor held across other ops ('fd' ops): attributes, mode and xattrs through it.
    if kind_ == 'st':
        return attrs(os.fstat(fd))
    if kind_ == 'ch':
        os.fchmod(fd, s[1])
        return None
    if kind_ == 'x':
        _, name, n, seed = s
        os.setxattr(fd, name, data(seed, n))
        return None
    raise ValueError('unknown step %r' % (s,))


# Descriptors held across ops ('open', 'fd', 'close'), by slot; closed at the end of a sequence.
slots = {}


def apply(root, op):
    p = lambda k: os.path.join(root, op[k])  # noqa: E731
    o = op['op']
    if o == 'open':
        old = slots.pop(op['slot'], None)
        if old is not None:
            os.close(old)
        acc = os.O_RDWR if op['acc'] == 'rw' else os.O_RDONLY
        slots[op['slot']] = os.open(p('path'), acc | os.O_NONBLOCK | open_flags(op.get('flags', [])), 0o644)
        return None
    if o == 'fd':
        if op['slot'] not in slots:
            return 'no descriptor'
        fd = slots[op['slot']]
        if op['step'][0] in ('u', 'ch', 'x'):
            st = os.fstat(fd)
            if st.st_nlink == 0 and not stat.S_ISREG(st.st_mode):
                # Changing a directory or FIFO that was removed while open: ENOENT on pfs (docs/SEMANTICS.md).
                return 'removed, not a file'
        return step(fd, op['step'])
    if o == 'close':
        fd = slots.pop(op['slot'], None)
        if fd is None:
            return 'no descriptor'
        os.close(fd)
        return None
    if o == 'mkdir':
        os.mkdir(p('path'), op['mode'])
        return None
    if o == 'create':
        fd = os.open(p('path'), os.O_CREAT | os.O_WRONLY | os.O_NONBLOCK | (os.O_EXCL if op.get('excl') else 0), op['mode'])
        os.close(fd)
        return None
    if o == 'write':
        fd = os.open(p('path'), os.O_WRONLY | os.O_NONBLOCK | open_flags(op.get('flags', [])), 0o644)
        try:
            if 'append' in op.get('flags', []):
                return os.write(fd, data(op['seed'], op['len']))
            return os.pwrite(fd, data(op['seed'], op['len']), op['off'])
        finally:
            os.close(fd)
    if o == 'read':
        fd = os.open(p('path'), os.O_RDONLY | os.O_NONBLOCK)
        try:
            b = os.pread(fd, op['len'], op['off'])
        finally:
            os.close(fd)
        return [len(b), hashlib.sha256(b).hexdigest()[:16]]
    if o == 'fdseq':
        # One open file across several steps: reads of unflushed writes, truncate while dirty.
        fd = os.open(p('path'), os.O_RDWR | os.O_NONBLOCK | open_flags(op.get('flags', [])), 0o644)
        res = []
        try:
            for s in op['steps']:
                try:
                    res.append({'ok': step(fd, s)})
                except OSError as e:
                    res.append({'err': errname(e)})
        finally:
            os.close(fd)
        return res
    if o == 'truncate':
        os.truncate(p('path'), op['size'])
        return None
    if o == 'rename':
        os.rename(p('from'), p('to'))
        return None
    if o == 'link':
        os.link(p('from'), p('to'))
        return None
    if o == 'symlink':
        os.symlink(op['target'], p('path'))
        return None
    if o == 'readlink':
        return os.readlink(p('path'))
    if o == 'unlink':
        os.unlink(p('path'))
        return None
    if o == 'rmdir':
        os.rmdir(p('path'))
        return None
    if o == 'chmod':
        os.chmod(p('path'), op['mode'])
        return None
    if o == 'chown':
        os.chown(p('path'), op['uid'], op['gid'], follow_symlinks=op.get('follow', True))
        return None
    if o == 'utime':
        t = op['sec'] * 10**9 + op['nsec']
        os.utime(p('path'), ns=(t, t))
        return None
    if o == 'mkfifo':
        os.mkfifo(p('path'), op['mode'])
        return None
    if o == 'setxattr':
        os.setxattr(p('path'), op['name'], data(op['seed'], op['len']), op.get('flags', 0))
        return None
    if o == 'getxattr':
        return hashlib.sha256(os.getxattr(p('path'), op['name'])).hexdigest()[:16]
    if o == 'removexattr':
        os.removexattr(p('path'), op['name'])
        return None
    if o == 'listxattr':
        return sorted(n for n in os.listxattr(p('path')) if n.startswith('user.'))
    if o == 'stat':
        return attrs(os.lstat(p('path')))
    if o == 'readdir':
        return sorted(os.listdir(p('path')))
    raise ValueError('unknown op %r' % (o,))


def cmd_ops(root):
    os.umask(0o022)
    os.makedirs(root, exist_ok=True)
    ops = json.load(sys.stdin)
    for op in ops:
        try:
            r = {'ok': apply(root, op)}
        except OSError as e:
            r = {'err': errname(e)}
        print(json.dumps(r), flush=True)
    for fd in slots.values():
        os.close(fd)
    slots.clear()


# ------------------------------------------------------------------------------------------
# tree

def xattrs(path):
    out = {}
    for n in sorted(os.listxattr(path, follow_symlinks=False)):
        if n.startswith('user.'):
            out[n] = hashlib.sha256(os.getxattr(path, n, follow_symlinks=False)).hexdigest()[:16]
    return out


def file_sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def tree(root):
    out = {}

    def walk(rel):
        full = os.path.join(root, rel) if rel else root
        st = os.lstat(full)
        e = attrs(st)
        if stat.S_ISREG(st.st_mode):
            e['sha'] = file_sha(full)[:16]
        if stat.S_ISLNK(st.st_mode):
            e['target'] = os.readlink(full)
        else:
            x = xattrs(full)
            if x:
                e['xattrs'] = x
        out[rel or '.'] = e
        if stat.S_ISDIR(st.st_mode):
            for name in sorted(os.listdir(full)):
                walk(os.path.join(rel, name) if rel else name)

    walk('')
    return out


# ------------------------------------------------------------------------------------------
# rewrite: random access against an in-memory model

def cmd_rewrite(path, seed, n, maxsize):
    rng = random.Random(seed)
    model = bytearray()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    counts = {}

    def check(what):
        b = os.pread(fd, len(model) + 10, 0)
        if b != bytes(model):
            first = next((i for i in range(min(len(b), len(model))) if b[i] != model[i]), min(len(b), len(model)))
            print('MISMATCH %s: file %d bytes, model %d bytes, first difference at offset %d' % (what, len(b), len(model), first), file=sys.stderr)
            sys.exit(1)

    for i in range(n):
        r = rng.random()
        if r < 0.70:
            off = rng.randrange(0, maxsize)
            ln = rng.choice([1, 17, 512, 4096, 4097, 65536, 131072, 131073, rng.randrange(1, 300000)])
            ln = min(ln, maxsize - off) or 1
            b = data('%d:%d' % (seed, i), ln)
            if os.pwrite(fd, b, off) != ln:
                print('short write at step %d' % i, file=sys.stderr)
                sys.exit(1)
            if off > len(model):
                model.extend(b'\0' * (off - len(model)))
            model[off:off + ln] = b
            op = 'pwrite'
        elif r < 0.78:
            size = rng.randrange(0, maxsize)
            os.ftruncate(fd, size)
            if size < len(model):
                del model[size:]
            else:
                model.extend(b'\0' * (size - len(model)))
            op = 'ftruncate'
        elif r < 0.92:
            off = rng.randrange(0, max(1, len(model) + 4096))
            ln = rng.randrange(1, 200000)
            got = os.pread(fd, ln, off)
            want = bytes(model[off:off + ln])
            if got != want:
                print('MISMATCH at step %d: pread(%d, %d) returned %d bytes, model %d bytes' % (i, off, ln, len(got), len(want)), file=sys.stderr)
                sys.exit(1)
            op = 'pread'
        elif r < 0.96:
            os.fsync(fd)
            op = 'fsync'
        else:
            os.close(fd)
            fd = os.open(path, os.O_RDWR)
            check('after reopen at step %d' % i)
            op = 'reopen'
        counts[op] = counts.get(op, 0) + 1
    os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    check('after the final close and reopen')
    if os.fstat(fd).st_size != len(model):
        print('MISMATCH: st_size %d, model %d' % (os.fstat(fd).st_size, len(model)), file=sys.stderr)
        sys.exit(1)
    os.close(fd)
    print(json.dumps({'ok': True, 'size': len(model), 'sha256': hashlib.sha256(model).hexdigest(), 'counts': counts}))


# ------------------------------------------------------------------------------------------
# persistence workloads

def cmd_writer(d, log, n, seed, stopfile=None):
    os.makedirs(d, exist_ok=True)
    rng = random.Random(seed)
    logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    dfd = os.open(d, os.O_RDONLY)
    for i in range(n):
        if stopfile and os.path.exists(stopfile):
            n = i
            break
        name = 'f%05d' % i
        size = rng.choice([0, 1, 4096, 65536, 200000, 1 << 20, rng.randrange(0, 3 << 20)])
        b = data('%d:%d' % (seed, i), size)
        tmp = os.path.join(d, '.tmp-' + name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            off = 0
            while off < size:
                off += os.write(fd, b[off:off + 100000])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(d, name))
        os.fsync(dfd)
        os.write(logfd, ('%s  %s\n' % (hashlib.sha256(b).hexdigest(), name)).encode())
        os.fsync(logfd)
    os.close(dfd)
    os.close(logfd)
    print(json.dumps({'ok': n}))


def stream_chunk(seed, i, chunk):
    return data('%d:%d' % (seed, i), chunk)


def cmd_stream(path, log, seed, chunk, maxbytes):
    logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    i = 0
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        while i * chunk < maxbytes:
            b = stream_chunk(seed, i, chunk)
            off = 0
            while off < chunk:
                off += os.write(fd, b[off:])
            os.fsync(fd)
            i += 1
            os.write(logfd, ('%d\n' % (i * chunk)).encode())
        os.close(fd)
    except OSError as e:
        print('stream: %s after %d fsynced chunks: %s' % (errname(e), i, e), file=sys.stderr)
        sys.exit(3)
    print(json.dumps({'ok': i * chunk}))


def cmd_verify_stream(path, seed, chunk, minlen):
    size = os.stat(path).st_size
    if size < minlen:
        print('FAIL: %s has %d bytes, but %d were fsynced' % (path, size, minlen), file=sys.stderr)
        sys.exit(1)
    with open(path, 'rb') as f:
        i = 0
        while True:
            b = f.read(chunk)
            if not b:
                break
            want = stream_chunk(seed, i, chunk)[:len(b)]
            if b != want:
                first = next(j for j in range(len(b)) if b[j] != want[j])
                print('FAIL: %s differs from what was written at offset %d (size %d, fsynced %d)' % (path, i * chunk + first, size, minlen), file=sys.stderr)
                sys.exit(1)
            i += 1
    print(json.dumps({'ok': True, 'size': size, 'fsynced': minlen}))


# ------------------------------------------------------------------------------------------
# benchmark workloads

def cmd_smallfiles(d, n):
    os.makedirs(d, exist_ok=True)
    b = data('small', 4096)
    names = [os.path.join(d, 's%06d' % i) for i in range(n)]
    t0 = time.monotonic()
    for p in names:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b)
        os.close(fd)
    t1 = time.monotonic()
    for p in names:
        if os.stat(p).st_size != 4096:
            print('bad size %s' % p, file=sys.stderr)
            sys.exit(1)
    t2 = time.monotonic()
    for p in names:
        os.unlink(p)
    t3 = time.monotonic()
    print(json.dumps({'n': n, 'create': t1 - t0, 'stat': t2 - t1, 'unlink': t3 - t2}))


def cmd_randread(path, n, seed):
    rng = random.Random(seed)
    fd = os.open(path, os.O_RDONLY)
    blocks = os.fstat(fd).st_size // 4096
    t0 = time.monotonic()
    for _ in range(n):
        if len(os.pread(fd, 4096, rng.randrange(blocks) * 4096)) != 4096:
            print('short read', file=sys.stderr)
            sys.exit(1)
    t1 = time.monotonic()
    os.close(fd)
    print(json.dumps({'ops': n, 'seconds': t1 - t0}))


def main(argv):
    c = argv[1] if len(argv) > 1 else ''
    a = argv[2:]
    if c == 'ops':
        cmd_ops(a[0])
    elif c == 'tree':
        print(json.dumps(tree(a[0])))
    elif c == 'rewrite':
        cmd_rewrite(a[0], int(a[1]), int(a[2]), int(a[3]))
    elif c == 'writer':
        cmd_writer(a[0], a[1], int(a[2]), int(a[3]), a[4] if len(a) > 4 else None)
    elif c == 'stream':
        cmd_stream(a[0], a[1], int(a[2]), int(a[3]), int(a[4]))
    elif c == 'verify-stream':
        cmd_verify_stream(a[0], int(a[1]), int(a[2]), int(a[3]))
    elif c == 'smallfiles':
        cmd_smallfiles(a[0], int(a[1]))
    elif c == 'randread':
        cmd_randread(a[0], int(a[1]), int(a[2]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main(sys.argv)
