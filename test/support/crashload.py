#!/usr/bin/env python3
"""A seeded workload for crash testing, and the check of what must have survived.

  crashload.py run DIR LOG SEED NOPS
      NOPS operations in DIR (which must exist) (create, write, fsync, fdatasync, close, rename, link, unlink,
      truncate, mkdir), chosen by SEED. Every operation is written to LOG (outside the mount)
      as one JSON line: {"t":"begin",...} before the call, {"t":"end"} after it returned. The
      state each returned operation guarantees is derived from the log alone, by `check`.
      Exits 0 after NOPS operations and closing everything, 3 at the first failed call (the
      daemons were killed: the error is logged as {"t":"error"}).
  crashload.py check DIR LOG
      prints JSON {"ops": N, "violations": [...]}: what the returned operations promise
      (docs/SEMANTICS.md) and DIR does not show. Promises checked:
      - a namespace change (create, mkdir, rename, link, unlink, truncate) is there once it
        returned; one in flight at the crash is all or nothing;
      - a file's bytes are exact once fsync, fdatasync or close returned and nothing was
        written to it since (later writes may be lost; a file written since is only checked to
        be the right file);
      - every regular file starts with a 16-byte header naming it, written and fsynced at
        create, so a name can be checked to hold the right file.
"""
import hashlib
import json
import os
import random
import sys

HEADER = 16
FILES_PER_DIR = 6


def header(fid):
    return ('%-15s\n' % ('id%d' % fid)).encode()


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Log:
    def __init__(self, path):
        self.f = open(path, 'a', buffering=1)

    def put(self, rec):
        self.f.write(json.dumps(rec) + '\n')
        self.f.flush()


def run(root, log_path, seed, nops):
    rnd = random.Random(seed)
    log = Log(log_path)
    # DIR is made by the caller, through the mount: were it made here, a mount that died before
    # this line would leave it in the directory under the mount point.
    os.stat(root)
    dirs = ['']
    names = {}   # path -> fid (regular files)
    content = {}  # fid -> bytearray (what the application wrote)
    fds = {}     # fid -> fd
    paths_of = {}  # fid -> set of paths
    next_fid = [1]

    def full(p):
        return os.path.join(root, p)

    def call(rec, fn):
        log.put(dict(rec, t='begin'))
        try:
            out = fn()
        except OSError as e:
            log.put({'t': 'error', 'errno': e.errno, 'msg': str(e)})
            sys.exit(3)
        log.put({'t': 'end'})
        return out

    def pick_path():
        return os.path.join(rnd.choice(dirs), 'f%d' % rnd.randrange(FILES_PER_DIR))

    def op_create():
        p = pick_path()
        if p in names:
            return
        fid = next_fid[0]
        next_fid[0] += 1

        def go():
            fd = os.open(full(p), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
            os.write(fd, header(fid))
            os.fsync(fd)
            return fd
        fds[fid] = call({'op': 'create', 'path': p, 'fid': fid}, go)
        names[p] = fid
        paths_of[fid] = {p}
        content[fid] = bytearray(header(fid))

    def an_open_fid():
        fid = rnd.choice(sorted(paths_of))
        if fid not in fds:
            p = sorted(paths_of[fid])[0]
            fds[fid] = call({'op': 'open', 'path': p, 'fid': fid}, lambda: os.open(full(p), os.O_RDWR))
        return fid

    def op_write():
        if not paths_of:
            return
        fid = an_open_fid()
        off = HEADER + rnd.randrange(0, 3 * 65536)
        n = rnd.choice([1, 100, 4096, 65536, 200000])
        data = rnd.randbytes(n)
        call({'op': 'write', 'fid': fid, 'off': off, 'len': n}, lambda: os.pwrite(fds[fid], data, off))
        c = content[fid]
        if len(c) < off + n:
            c.extend(bytes(off + n - len(c)))
        c[off:off + n] = data

    def op_sync(kind):
        if not fds:
            return
        fid = rnd.choice(sorted(fds))
        fn = {'fsync': os.fsync, 'fdatasync': os.fdatasync}[kind]
        call({'op': kind, 'fid': fid, 'sha': sha(content[fid]), 'size': len(content[fid])}, lambda: fn(fds[fid]))

    def op_close():
        if not fds:
            return
        fid = rnd.choice(sorted(fds))
        fd = fds.pop(fid)
        call({'op': 'close', 'fid': fid, 'sha': sha(content[fid]), 'size': len(content[fid])}, lambda: os.close(fd))

    def op_truncate():
        if not paths_of:
            return
        fid = an_open_fid()
        n = HEADER + rnd.randrange(0, 2 * 65536)
        call({'op': 'truncate', 'fid': fid, 'size': n}, lambda: os.ftruncate(fds[fid], n))
        c = content[fid]
        if len(c) < n:
            c.extend(bytes(n - len(c)))
        del c[n:]

    def op_rename():
        if not names:
            return
        src = rnd.choice(sorted(names))
        dst = pick_path()
        if dst == src:
            return
        fid = names[src]
        old = names.get(dst)
        if old == fid:
            return  # two links of one file: rename does nothing (POSIX)
        call({'op': 'rename', 'from': src, 'to': dst, 'fid': fid, 'replaced': old}, lambda: os.rename(full(src), full(dst)))
        del names[src]
        paths_of[fid].discard(src)
        if old is not None:
            paths_of[old].discard(dst)
            if not paths_of[old]:
                del paths_of[old]
                if old in fds:
                    os.close(fds.pop(old))
        names[dst] = fid
        paths_of[fid].add(dst)

    def op_link():
        if not names:
            return
        src = rnd.choice(sorted(names))
        dst = pick_path()
        if dst in names:
            return
        fid = names[src]
        call({'op': 'link', 'from': src, 'to': dst, 'fid': fid}, lambda: os.link(full(src), full(dst)))
        names[dst] = fid
        paths_of[fid].add(dst)

    def op_unlink():
        if not names:
            return
        p = rnd.choice(sorted(names))
        fid = names[p]
        call({'op': 'unlink', 'path': p, 'fid': fid}, lambda: os.unlink(full(p)))
        del names[p]
        paths_of[fid].discard(p)
        if not paths_of[fid]:
            del paths_of[fid]
            if fid in fds:
                os.close(fds.pop(fid))

    def op_mkdir():
        if len(dirs) >= 4:
            return
        d = 'd%d' % len(dirs)
        call({'op': 'mkdir', 'path': d}, lambda: os.mkdir(full(d)))
        dirs.append(d)

    ops = [(op_create, 6), (op_write, 10), (lambda: op_sync('fsync'), 3), (lambda: op_sync('fdatasync'), 2),
           (op_close, 3), (op_truncate, 2), (op_rename, 3), (op_link, 1), (op_unlink, 2), (op_mkdir, 1)]
    weights = [w for _, w in ops]
    for _ in range(nops):
        rnd.choices(ops, weights)[0][0]()
    for fid in sorted(fds):
        fd = fds.pop(fid)
        call({'op': 'close', 'fid': fid, 'sha': sha(content[fid]), 'size': len(content[fid])}, lambda: os.close(fd))
    log.put({'t': 'done'})


def check(root, log_path):
    recs = [json.loads(line) for line in open(log_path) if line.strip()]
    names = {}     # path -> fid, from returned operations
    exact = {}     # fid -> (sha, size) or None (written since its last sync)
    dirs = {''}
    inflight = None
    ops = 0
    for r in recs:
        t = r['t']
        if t == 'begin':
            inflight = r
            continue
        if t in ('error', 'done'):
            continue
        r, inflight = inflight, None
        ops += 1
        op = r['op']
        if op == 'create':
            names[r['path']] = r['fid']
            exact[r['fid']] = (sha(header(r['fid'])), HEADER)
        elif op == 'write':
            exact[r['fid']] = None
        elif op in ('fsync', 'fdatasync', 'close'):
            exact[r['fid']] = (r['sha'], r['size'])
        elif op == 'truncate':
            exact[r['fid']] = None
        elif op == 'rename':
            del names[r['from']]
            names[r['to']] = r['fid']
        elif op == 'link':
            names[r['to']] = r['fid']
        elif op == 'unlink':
            del names[r['path']]
        elif op == 'mkdir':
            dirs.add(r['path'])

    violations = []

    def read(p):
        try:
            with open(os.path.join(root, p), 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return None

    def describe(p, b):
        if b is None:
            return '%r missing' % p
        fid_at = b[:HEADER].strip().decode(errors='replace')
        n = int(fid_at[2:]) if fid_at.startswith('id') and fid_at[2:].isdigit() else None
        e = exact.get(n) if n is not None else None
        state = 'written since its last sync' if e is None else ('exact' if sha(b) == e[0] and len(b) == e[1] else 'NOT the %d bytes last synced' % e[1])
        return '%r holds %s, %d bytes, %s' % (p, fid_at, len(b), state)

    def holds(p, fid, b):
        """b (the bytes at p, or None) is file fid as the log promises."""
        if b is None:
            return False
        if b[:HEADER] != header(fid):
            return False
        e = exact.get(fid)
        return e is None or (sha(b) == e[0] and len(b) == e[1])

    # What an operation in flight at the crash may or may not have done, per path.
    maybe = {}
    if inflight is not None:
        op = inflight['op']
        if op == 'create':
            fid = inflight['fid']
            maybe[inflight['path']] = lambda b, fid=fid: b is None or b == b'' or b[:HEADER] == header(fid)
        elif op == 'rename':
            src, dst, fid, old = inflight['from'], inflight['to'], inflight['fid'], inflight['replaced']
            # All or nothing: either src still holds fid (and dst its old file), or dst holds fid and src is gone.
            def both(_b, src=src, dst=dst, fid=fid, old=old):
                a, d = read(src), read(dst)
                done = a is None and holds(dst, fid, d)
                not_done = holds(src, fid, a) and (d is None if old is None else holds(dst, old, d))
                return done or not_done
            both.detail = lambda src=src, dst=dst, fid=fid, old=old: 'rename %r -> %r of id%d (replacing %s): %s; %s' % (
                src, dst, fid, 'id%d' % old if old is not None else 'nothing',
                describe(src, read(src)), describe(dst, read(dst)))
            maybe[src] = both
            maybe[dst] = both
        elif op == 'link':
            fid = inflight['fid']
            maybe[inflight['to']] = lambda b, fid=fid, p=inflight['to']: b is None or holds(p, fid, b)
        elif op == 'unlink':
            fid = inflight['fid']
            maybe[inflight['path']] = lambda b, fid=fid, p=inflight['path']: b is None or holds(p, fid, b)
        elif op == 'mkdir':
            dirs.discard(inflight['path'])  # either way
        elif op in ('write', 'truncate', 'fsync', 'fdatasync', 'close'):
            if op in ('write', 'truncate'):
                exact[inflight['fid']] = None
            # fsync/close in flight: the bytes may or may not have been stored: leave exact as it was
            # only if nothing was written since; otherwise it is already None.

    seen = set()
    for d in sorted(dirs):
        if not os.path.isdir(os.path.join(root, d)):
            violations.append('directory %r made by a returned mkdir is missing' % d)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = '' if rel == '.' else rel
        for dn in dirnames:
            p = os.path.join(rel, dn)
            if p not in dirs and not (inflight and inflight['op'] == 'mkdir' and inflight['path'] == p):
                violations.append('directory %r exists but no mkdir of it returned' % p)
        for fn in filenames:
            seen.add(os.path.join(rel, fn))
    for p in sorted(set(names) | seen | set(maybe)):
        b = read(p)
        if p in maybe:
            if not maybe[p](b):
                detail = getattr(maybe[p], 'detail', None)
                violations.append('%r: the %s in flight at the crash is neither done nor undone (%s)' % (
                    p, inflight['op'], detail() if detail else describe(p, b)))
            continue
        want = names.get(p)
        if want is None:
            if b is not None:
                violations.append('%r exists (%d bytes, header %r) but the log says it is gone or never made' % (p, len(b), b[:HEADER]))
            continue
        if b is None:
            violations.append('%r (file id%d) is missing' % (p, want))
        elif b[:HEADER] != header(want):
            violations.append('%r should be file id%d, its header is %r' % (p, want, b[:HEADER]))
        elif exact.get(want) is not None and (sha(b) != exact[want][0] or len(b) != exact[want][1]):
            violations.append('%r (file id%d): %d bytes that differ from the %d its last returned fsync/close stored' % (p, want, len(b), exact[want][1]))
    print(json.dumps({'ops': ops, 'violations': violations}))


if __name__ == '__main__':
    if sys.argv[1] == 'run':
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == 'check':
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit('usage: crashload.py run DIR LOG SEED NOPS | check DIR LOG')
