// MemTree: a synthetic in-memory tree (a Map of inodes), served two ways over the same data:
// llOps() by node id for the inode-based session (mem-ll-ops.ts: every LlOps op), pathOps() by
// path for the current fuse-native binding (each request walks its path from the root, as the
// agent's path cache would on a hit). For the session's tests and bench/fuse-session; not used
// by the agent.

import { constants } from 'node:os';
import type { FuseOps, FuseStat } from '../types.js';
import type { TimeSpec } from '../caller-context.js';
import { FUSE_ROOT_ID, type LlAttr, type LlOps, type LlTimeouts } from './types.js';
import { MemLocks } from './mem-locks.js';
import { memLlOps } from './mem-ll-ops.js';

const { ENOENT, EEXIST, ENOTDIR } = constants.errno;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

export interface MemNode {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  data: Buffer | null; // files: capacity >= size
  children: Map<string, number> | null; // directories
  atime: TimeSpec;
  mtime: TimeSpec;
  ctime: TimeSpec;
  /** The kernel's lookup count (entry and create replies minus forgets). */
  lookups: number;
  /** Directories: the names in order, rebuilt after a change (readdir offsets index it). */
  listing?: string[] | undefined;
  /** Symbolic links: the target. */
  target?: string;
  rdev: number;
  xattrs: Map<string, Buffer>;
}

export function now(): TimeSpec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

export class MemTree {
  readonly nodes = new Map<number, MemNode>();
  private nextIno = FUSE_ROOT_ID + 1;
  nextFh = 1;
  /** Counts of requests by name, for tests. */
  readonly calls = new Map<string, number>();
  readonly locks = new MemLocks();

  constructor() {
    this.nodes.set(FUSE_ROOT_ID, this.newNode(FUSE_ROOT_ID, S_IFDIR | 0o755));
  }

  private newNode(ino: number, mode: number): MemNode {
    const t = now();
    const dir = (mode & S_IFDIR) !== 0;
    return { ino, mode, nlink: dir ? 2 : 1, uid: 0, gid: 0, size: dir ? 4096 : 0, data: dir ? null : Buffer.alloc(0), children: dir ? new Map() : null, atime: t, mtime: t, ctime: t, lookups: 0, rdev: 0, xattrs: new Map() };
  }

  count(op: string): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
  }

  /** Adds a name in parent for a new inode (or for an existing one: a hard link). */
  add(parent: number, name: string, mode: number, data?: Buffer, linkTo?: number): number {
    const p = this.nodes.get(parent);
    if (!p?.children) throw new Error(`not a directory: ${parent}`);
    if (p.children.has(name)) throw new Error(`exists: ${name}`);
    let n: MemNode;
    if (linkTo !== undefined) {
      n = this.nodes.get(linkTo)!;
      n.nlink++;
      n.ctime = now();
    } else {
      n = this.newNode(this.nextIno++, mode);
      if (data) { n.data = data; n.size = data.length; }
      this.nodes.set(n.ino, n);
      if (n.children) p.nlink++;
    }
    p.children.set(name, n.ino);
    p.listing = undefined;
    p.mtime = p.ctime = now();
    return n.ino;
  }

  /** Drops the name (not the inode: the kernel may still hold it). */
  remove(parent: number, name: string): MemNode {
    const p = this.nodes.get(parent)!;
    const n = this.nodes.get(p.children!.get(name)!)!;
    p.children!.delete(name);
    p.listing = undefined;
    n.nlink -= n.children ? 2 : 1;
    if (n.children) p.nlink--;
    n.ctime = p.mtime = p.ctime = now();
    return n;
  }

  mkdir(parent: number, name: string): number {
    return this.add(parent, name, S_IFDIR | 0o755);
  }

  file(parent: number, name: string, data: Buffer = Buffer.alloc(0)): number {
    return this.add(parent, name, S_IFREG | 0o644, data);
  }

  /** The inode at path ('/a/b'), or undefined. */
  resolve(path: string): MemNode | undefined {
    let n = this.nodes.get(FUSE_ROOT_ID);
    for (const part of path.split('/')) {
      if (!part) continue;
      const ino = n?.children?.get(part);
      n = ino === undefined ? undefined : this.nodes.get(ino);
      if (!n) return undefined;
    }
    return n;
  }

  private splitParent(path: string): [MemNode | undefined, string] {
    const i = path.lastIndexOf('/');
    return [this.resolve(path.slice(0, i) || '/'), path.slice(i + 1)];
  }

  listing(dir: MemNode): string[] {
    return (dir.listing ??= [...dir.children!.keys()]);
  }

  attr(n: MemNode): LlAttr {
    return { ino: n.ino, mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, size: n.size, atime: n.atime, mtime: n.mtime, ctime: n.ctime };
  }

  write(n: MemNode, offset: number, src: Buffer, len = src.length): void {
    const end = offset + len;
    if (!n.data || n.data.length < end) {
      const grown = Buffer.alloc(Math.max(end, Math.min((n.data?.length ?? 0) * 2, end + (64 << 20))));
      n.data?.copy(grown, 0, 0, n.size);
      n.data = grown;
    }
    src.copy(n.data, offset, 0, len);
    if (end > n.size) n.size = end;
    n.mtime = n.ctime = now();
  }

  truncate(n: MemNode, size: number): void {
    if (size > n.size) this.write(n, size, Buffer.alloc(0));
    else { n.data?.fill(0, size, n.size); n.size = size; }
    n.mtime = n.ctime = now();
  }

  /** The inode-based handlers (mem-ll-ops.ts); every entry and attribute reply carries these timeouts. */
  llOps(t: LlTimeouts): LlOps {
    return memLlOps(this, t);
  }

  /** The same tree by path for fuse-native (fuse-native codes: 0 or -errno; ms times). */
  pathOps(): FuseOps {
    const ms = (t: TimeSpec) => new Date(t.sec * 1000 + t.nsec / 1e6);
    const stat = (n: MemNode): FuseStat => ({
      mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, size: n.size, ino: n.ino, dev: 0, rdev: 0, blksize: 4096,
      blocks: Math.ceil(n.size / 512), atime: ms(n.atime), mtime: ms(n.mtime), ctime: ms(n.ctime),
    } as FuseStat);
    const fds = new Map<number, MemNode>();
    return {
      getattr: (path, reply) => {
        this.count('getattr');
        const n = this.resolve(path);
        if (n) reply(0, stat(n));
        else reply(-ENOENT);
      },
      fgetattr: (_path, fd, reply) => {
        const n = fds.get(fd);
        if (n) reply(0, stat(n));
        else reply(-ENOENT);
      },
      readdir: (path, reply) => {
        this.count('readdir');
        const n = this.resolve(path);
        if (!n?.children) return reply(-ENOTDIR);
        reply(0, [...n.children.keys()]);
      },
      open: (path, _flags, reply) => {
        this.count('open');
        const n = this.resolve(path);
        if (!n) return reply(-ENOENT);
        const fd = this.nextFh++;
        fds.set(fd, n);
        reply(0, fd);
      },
      create: (path, mode, _flags, reply) => {
        this.count('create');
        const [p, name] = this.splitParent(path);
        if (!p?.children) return reply(-ENOENT);
        if (p.children.has(name)) return reply(-EEXIST);
        const fd = this.nextFh++;
        fds.set(fd, this.nodes.get(this.add(p.ino, name, mode))!);
        reply(0, fd);
      },
      read: (_path, fd, buf, len, pos, reply) => {
        this.count('read');
        const n = fds.get(fd)!;
        if (pos >= n.size) return reply(0);
        reply(n.data!.copy(buf, 0, pos, Math.min(n.size, pos + len)));
      },
      write: (_path, fd, buf, len, pos, reply) => {
        this.count('write');
        this.write(fds.get(fd)!, pos, buf, len);
        reply(len);
      },
      truncate: (path, size, done) => {
        const n = this.resolve(path);
        if (!n) return done(-ENOENT);
        this.truncate(n, size);
        done(0);
      },
      ftruncate: (_path, fd, size, done) => {
        this.truncate(fds.get(fd)!, size);
        done(0);
      },
      flush: (_path, _fd, done) => done(0),
      release: (_path, fd, done) => {
        fds.delete(fd);
        done(0);
      },
      link: (src, dest, done) => {
        const n = this.resolve(src);
        const [p, name] = this.splitParent(dest);
        if (!n || !p?.children) return done(-ENOENT);
        this.add(p.ino, name, 0, undefined, n.ino);
        done(0);
      },
      unlink: (path, done) => {
        const [p, name] = this.splitParent(path);
        const ino = p?.children?.get(name);
        if (ino === undefined) return done(-ENOENT);
        p!.children!.delete(name);
        p!.listing = undefined;
        this.nodes.get(ino)!.nlink--;
        done(0);
      },
    };
  }
}
