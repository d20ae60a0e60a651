// MemTree's inode-based handlers: every LlOps op over the tree, for the session's tests and
// bench/fuse-session. Entry and create replies count kernel lookups (forget takes them back);
// readdir offsets are positions in the directory's name list (a real directory needs stable
// cookies); locks live in tree.locks (mem-locks.ts); xattrs in each node's map.

import { constants } from 'node:os';
import type { MemNode, MemTree } from './mem-tree.js';
import { now } from './mem-tree.js';
import type { LlOps, LlTimeouts } from './types.js';

const { ENOENT, EEXIST, ENOTDIR, EISDIR, EPERM, ENOTEMPTY, EINVAL, ENODATA, EACCES } = constants.errno;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const X_OK = 1;

export function memLlOps(tree: MemTree, t: LlTimeouts): LlOps {
  const get = (ino: number) => tree.nodes.get(ino);
  const entry = (n: MemNode) => {
    n.lookups++;
    return tree.attr(n);
  };
  const child = (parent: number, name: string) => {
    const ino = get(parent)?.children?.get(name);
    return ino === undefined ? undefined : get(ino);
  };
  /** The parent as a directory where name is free: undefined, or the errno. */
  const freeName = (parent: number, name: string) => {
    const p = get(parent);
    if (!p) return ENOENT;
    if (!p.children) return ENOTDIR;
    return p.children.has(name) ? EEXIST : undefined;
  };
  const counted = <F extends (...args: never[]) => void>(op: string, f: F): F => ((...args: never[]) => { tree.count(op); f(...args); }) as F;

  const ops: LlOps = {
    lookup: (parent, name, r) => {
      const n = child(parent, name);
      if (n) r.entry(entry(n), t);
      else if (t.entryS > 0) r.noEntry(t);
      else r.err(ENOENT);
    },
    forget: (ino, nlookup) => {
      const n = get(ino);
      if (n) n.lookups -= nlookup;
    },
    getattr: (ino, _fh, r) => {
      const n = get(ino);
      if (n) r.attr(tree.attr(n), t.attrS);
      else r.err(ENOENT);
    },
    setattr: (ino, set, _fh, r) => {
      const n = get(ino);
      if (!n) return r.err(ENOENT);
      if (set.size !== undefined) tree.truncate(n, set.size);
      if (set.mode !== undefined) n.mode = (n.mode & ~0o7777) | (set.mode & 0o7777);
      if (set.uid !== undefined) n.uid = set.uid;
      if (set.gid !== undefined) n.gid = set.gid;
      if (set.atime) n.atime = set.atime === 'now' ? now() : set.atime;
      if (set.mtime) n.mtime = set.mtime === 'now' ? now() : set.mtime;
      n.ctime = now();
      r.attr(tree.attr(n), t.attrS);
    },
    readlink: (ino, r) => {
      const n = get(ino);
      if (n?.target === undefined) return r.err(n ? EINVAL : ENOENT);
      r.readlink(n.target);
    },
    mknod: (parent, name, mode, rdev, r) => {
      const e = freeName(parent, name);
      if (e) return r.err(e);
      const n = get(tree.add(parent, name, mode))!;
      n.rdev = rdev;
      r.entry(entry(n), t);
    },
    mkdir: (parent, name, mode, r) => {
      const e = freeName(parent, name);
      if (e) return r.err(e);
      r.entry(entry(get(tree.add(parent, name, S_IFDIR | (mode & 0o7777)))!), t);
    },
    unlink: (parent, name, r) => {
      const n = child(parent, name);
      if (!n) return r.err(ENOENT);
      if (n.children) return r.err(EISDIR);
      tree.remove(parent, name);
      r.ok();
    },
    rmdir: (parent, name, r) => {
      const n = child(parent, name);
      if (!n) return r.err(ENOENT);
      if (!n.children) return r.err(ENOTDIR);
      if (n.children.size) return r.err(ENOTEMPTY);
      tree.remove(parent, name);
      r.ok();
    },
    symlink: (target, parent, name, r) => {
      const e = freeName(parent, name);
      if (e) return r.err(e);
      const n = get(tree.add(parent, name, S_IFLNK | 0o777))!;
      n.target = target;
      n.size = Buffer.byteLength(target);
      r.entry(entry(n), t);
    },
    rename: (parent, name, newParent, newName, r) => {
      const n = child(parent, name);
      const np = get(newParent);
      if (!n) return r.err(ENOENT);
      if (!np?.children) return r.err(np ? ENOTDIR : ENOENT);
      const over = child(newParent, newName);
      if (over === n) return r.ok();
      if (over) {
        if (over.children && !n.children) return r.err(EISDIR);
        if (!over.children && n.children) return r.err(ENOTDIR);
        if (over.children?.size) return r.err(ENOTEMPTY);
        tree.remove(newParent, newName);
      }
      tree.remove(parent, name);
      tree.add(newParent, newName, 0, undefined, n.ino);
      if (n.children) { n.nlink++; np.nlink++; } // add() counted a link: a directory has one name
      r.ok();
    },
    link: (ino, newParent, newName, r) => {
      const n = get(ino);
      if (!n || n.children) return r.err(n ? EPERM : ENOENT);
      const e = freeName(newParent, newName);
      if (e) return r.err(e);
      tree.add(newParent, newName, 0, undefined, ino);
      r.entry(entry(n), t);
    },
    open: (ino, _flags, r) => {
      const n = get(ino);
      if (!n) return r.err(ENOENT);
      if (n.children) return r.err(EISDIR);
      r.open(tree.nextFh++, { keepCache: t.attrS > 0 });
    },
    read: (ino, _fh, offset, size, r) => {
      const n = get(ino)!;
      r.buf(offset >= n.size ? Buffer.alloc(0) : n.data!.subarray(offset, Math.min(n.size, offset + size)));
    },
    write: (ino, _fh, offset, data, r) => {
      tree.write(get(ino)!, offset, data);
      r.written(data.length);
    },
    flush: (ino, _fh, owner, r) => {
      tree.locks.dropPosix(ino, owner);
      r.ok();
    },
    release: (ino, _fh, _flags, flockRelease, owner, r) => {
      if (flockRelease) tree.locks.dropFlock(ino, owner);
      r.ok();
    },
    fsync: (_ino, _fh, _datasync, r) => r.ok(),
    opendir: (ino, _flags, r) => (get(ino)?.children ? r.open(tree.nextFh++) : r.err(ENOTDIR)),
    readdir: (ino, _fh, offset, size, r) => {
      const n = get(ino);
      if (!n?.children) return r.err(ENOTDIR);
      // At least 32 bytes a dirent: no more than size/32 entries can fit.
      const names = tree.listing(n).slice(offset, offset + Math.ceil(size / 32));
      r.dir(names.map((name, i) => { const c = get(n.children!.get(name)!)!; return { name, ino: c.ino, mode: c.mode, off: offset + i + 1 }; }), offset);
    },
    readdirplus: (ino, _fh, offset, size, r) => {
      const n = get(ino);
      if (!n?.children) return r.err(ENOTDIR);
      const names = tree.listing(n).slice(offset, offset + Math.ceil(size / 160));
      const entries = names.map((name, i) => ({ name, attr: tree.attr(get(n.children!.get(name)!)!), timeouts: t, off: offset + i + 1 }));
      const sent = r.dirPlus(entries, offset);
      for (let i = 0; i < sent; i++) get(entries[i]!.attr.ino)!.lookups++;
    },
    releasedir: (_ino, _fh, r) => r.ok(),
    fsyncdir: (_ino, _fh, _datasync, r) => r.ok(),
    statfs: (_ino, r) => {
      let bytes = 0;
      for (const n of tree.nodes.values()) bytes += n.size;
      const blocks = 1 << 20;
      const used = Math.ceil(bytes / 4096);
      r.statfs({ bsize: 4096, frsize: 4096, blocks, bfree: blocks - used, bavail: blocks - used, files: 1 << 20, ffree: (1 << 20) - tree.nodes.size, favail: (1 << 20) - tree.nodes.size, namemax: 255 });
    },
    setxattr: (ino, name, value, flags, r) => {
      const n = get(ino);
      if (!n) return r.err(ENOENT);
      if (flags & XATTR_CREATE && n.xattrs.has(name)) return r.err(EEXIST);
      if (flags & XATTR_REPLACE && !n.xattrs.has(name)) return r.err(ENODATA);
      n.xattrs.set(name, value);
      n.ctime = now();
      r.ok();
    },
    getxattr: (ino, name, r) => {
      const v = get(ino)?.xattrs.get(name);
      tree.count(`getxattr ${name}`);
      if (v) r.xattr(v);
      else r.err(ENODATA);
    },
    listxattr: (ino, r) => {
      const n = get(ino);
      if (n) r.xattrNames([...n.xattrs.keys()]);
      else r.err(ENOENT);
    },
    removexattr: (ino, name, r) => {
      const n = get(ino);
      if (!n?.xattrs.delete(name)) return r.err(n ? ENODATA : ENOENT);
      r.ok();
    },
    access: (ino, mask, r) => {
      const n = get(ino);
      if (!n) return r.err(ENOENT);
      // Root's view: execute needs some x bit (on a file); everything else is allowed.
      if (mask & X_OK && (n.mode & S_IFMT) !== S_IFDIR && (n.mode & 0o111) === 0) return r.err(EACCES);
      r.ok();
    },
    create: (parent, name, mode, _flags, r) => {
      const e = freeName(parent, name);
      if (e) return r.err(e);
      const n = get(tree.add(parent, name, mode))!;
      r.create(entry(n), t, tree.nextFh++);
    },
    getlk: (ino, _fh, owner, lock, r) => r.lock(tree.locks.test(ino, owner, lock)),
    setlk: (ino, _fh, owner, lock, wait, _closing, r) => {
      void tree.locks.setlk(ino, owner, lock, wait, r.signal).then((e) => (e ? r.err(e) : r.ok()));
    },
    flock: (ino, _fh, owner, type, wait, _closing, r) => {
      void tree.locks.flock(ino, owner, type, wait, r.signal).then((e) => (e ? r.err(e) : r.ok()));
    },
  };
  // Every call counted by op name (tests read tree.calls).
  for (const [k, f] of Object.entries(ops)) (ops as unknown as Record<string, unknown>)[k] = counted(k, f as (...args: never[]) => void);
  return ops;
}
