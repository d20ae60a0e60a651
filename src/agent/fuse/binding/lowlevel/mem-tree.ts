// MemTree: a synthetic in-memory tree (a Map of inodes), served two ways over the same data:
// llOps() by node id for the inode-based session, pathOps() by path for the current
// fuse-native binding (each request walks its path from the root, as the agent's path cache
// would on a hit). For the prototype's test and bench/fuse-session; not used by the agent.

import { constants } from 'node:os';
import type { FuseOps, FuseStat } from '../types.js';
import type { TimeSpec } from '../caller-context.js';
import { FUSE_ROOT_ID, type LlAttr, type LlTimeouts } from './types.js';
import type { RawLlOps } from './raw-session.js';

const { ENOENT, EEXIST, ENOTDIR, EISDIR, EPERM } = constants.errno;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

interface Node {
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
}

function now(): TimeSpec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

export class MemTree {
  readonly nodes = new Map<number, Node>();
  private nextIno = FUSE_ROOT_ID + 1;
  private nextFh = 1;
  /** Counts of requests by name, for tests. */
  readonly calls = new Map<string, number>();

  constructor() {
    this.nodes.set(FUSE_ROOT_ID, this.newNode(FUSE_ROOT_ID, S_IFDIR | 0o755));
  }

  private newNode(ino: number, mode: number): Node {
    const t = now();
    const dir = (mode & S_IFDIR) !== 0;
    return { ino, mode, nlink: dir ? 2 : 1, uid: 0, gid: 0, size: dir ? 4096 : 0, data: dir ? null : Buffer.alloc(0), children: dir ? new Map() : null, atime: t, mtime: t, ctime: t, lookups: 0 };
  }

  private count(op: string): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
  }

  /** Adds a name in parent for a new inode (or for an existing one: a hard link). */
  add(parent: number, name: string, mode: number, data?: Buffer, linkTo?: number): number {
    const p = this.nodes.get(parent);
    if (!p?.children) throw new Error(`not a directory: ${parent}`);
    if (p.children.has(name)) throw new Error(`exists: ${name}`);
    let n: Node;
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

  mkdir(parent: number, name: string): number {
    return this.add(parent, name, S_IFDIR | 0o755);
  }

  file(parent: number, name: string, data: Buffer = Buffer.alloc(0)): number {
    return this.add(parent, name, S_IFREG | 0o644, data);
  }

  /** The inode at path ('/a/b'), or undefined. */
  resolve(path: string): Node | undefined {
    let n = this.nodes.get(FUSE_ROOT_ID);
    for (const part of path.split('/')) {
      if (!part) continue;
      const ino = n?.children?.get(part);
      n = ino === undefined ? undefined : this.nodes.get(ino);
      if (!n) return undefined;
    }
    return n;
  }

  private splitParent(path: string): [Node | undefined, string] {
    const i = path.lastIndexOf('/');
    return [this.resolve(path.slice(0, i) || '/'), path.slice(i + 1)];
  }

  private listing(dir: Node): string[] {
    return (dir.listing ??= [...dir.children!.keys()]);
  }

  private attr(n: Node): LlAttr {
    return { ino: n.ino, mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, size: n.size, atime: n.atime, mtime: n.mtime, ctime: n.ctime };
  }

  private write(n: Node, offset: number, src: Buffer, len = src.length): void {
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

  private truncate(n: Node, size: number): void {
    if (size > n.size) this.write(n, size, Buffer.alloc(0));
    else { n.data?.fill(0, size, n.size); n.size = size; }
    n.mtime = n.ctime = now();
  }

  /** The inode-based handlers; every entry and attribute reply carries these timeouts. */
  llOps(t: LlTimeouts): RawLlOps {
    const entry = (n: Node) => {
      n.lookups++;
      return this.attr(n);
    };
    const get = (ino: number) => this.nodes.get(ino);
    return {
      lookup: (parent, name, r) => {
        this.count('lookup');
        const ino = get(parent)?.children?.get(name);
        const n = ino === undefined ? undefined : get(ino);
        if (n) r.entry(entry(n), t);
        else if (t.entryS > 0) r.noEntry(t);
        else r.err(ENOENT);
      },
      forget: (ino, nlookup) => {
        this.count('forget');
        const n = get(ino);
        if (n) n.lookups -= nlookup;
      },
      getattr: (ino, _fh, r) => {
        this.count('getattr');
        const n = get(ino);
        if (n) r.attr(this.attr(n), t.attrS);
        else r.err(ENOENT);
      },
      setattr: (ino, set, _fh, r) => {
        this.count('setattr');
        const n = get(ino);
        if (!n) return r.err(ENOENT);
        if (set.size !== undefined) this.truncate(n, set.size);
        if (set.mode !== undefined) n.mode = (n.mode & ~0o7777) | (set.mode & 0o7777);
        if (set.uid !== undefined) n.uid = set.uid;
        if (set.gid !== undefined) n.gid = set.gid;
        if (set.atime) n.atime = set.atime === 'now' ? now() : set.atime;
        if (set.mtime) n.mtime = set.mtime === 'now' ? now() : set.mtime;
        n.ctime = now();
        r.attr(this.attr(n), t.attrS);
      },
      readdir: (ino, _fh, offset, size, r) => {
        this.count('readdir');
        const n = get(ino);
        if (!n?.children) return r.err(ENOTDIR);
        // Offsets are positions in the name list; a real directory needs stable cookies.
        // At least 32 bytes a dirent: no more than size/32 entries can fit.
        const names = this.listing(n).slice(offset, offset + Math.ceil(size / 32));
        r.dir(names.map((name) => { const c = get(n.children!.get(name)!)!; return { name, ino: c.ino, mode: c.mode }; }), offset);
      },
      readdirplus: (ino, _fh, offset, size, r) => {
        this.count('readdirplus');
        const n = get(ino);
        if (!n?.children) return r.err(ENOTDIR);
        const names = this.listing(n).slice(offset, offset + Math.ceil(size / 160));
        const entries = names.map((name) => ({ name, attr: this.attr(get(n.children!.get(name)!)!) }));
        const sent = r.dirPlus(entries, offset, t);
        for (let i = 0; i < sent; i++) get(entries[i]!.attr.ino)!.lookups++;
      },
      open: (ino, _flags, r) => {
        this.count('open');
        const n = get(ino);
        if (!n) return r.err(ENOENT);
        if (n.children) return r.err(EISDIR);
        r.open(this.nextFh++, { keepCache: t.attrS > 0 });
      },
      read: (ino, _fh, offset, size, r) => {
        this.count('read');
        const n = get(ino)!;
        r.buf(offset >= n.size ? Buffer.alloc(0) : n.data!.subarray(offset, Math.min(n.size, offset + size)));
      },
      write: (ino, _fh, offset, data, r) => {
        this.count('write');
        this.write(get(ino)!, offset, data);
        r.written(data.length);
      },
      create: (parent, name, mode, _flags, r) => {
        this.count('create');
        const p = get(parent);
        if (!p?.children) return r.err(ENOTDIR);
        if (p.children.has(name)) return r.err(EEXIST);
        const n = get(this.add(parent, name, mode))!;
        r.create(entry(n), t, this.nextFh++);
      },
      mkdir: (parent, name, mode, r) => {
        this.count('mkdir');
        const p = get(parent);
        if (p?.children?.has(name)) return r.err(EEXIST);
        r.entry(entry(get(this.add(parent, name, S_IFDIR | mode))!), t);
      },
      link: (ino, newParent, newName, r) => {
        this.count('link');
        const n = get(ino);
        if (!n || n.children) return r.err(n ? EPERM : ENOENT);
        if (get(newParent)?.children?.has(newName)) return r.err(EEXIST);
        this.add(newParent, newName, 0, undefined, ino);
        r.entry(entry(n), t);
      },
      unlink: (parent, name, r) => {
        this.count('unlink');
        const p = get(parent);
        const ino = p?.children?.get(name);
        if (ino === undefined) return r.err(ENOENT);
        p!.children!.delete(name);
        p!.listing = undefined;
        const n = get(ino)!;
        n.nlink--;
        n.ctime = p!.mtime = p!.ctime = now();
        r.ok();
      },
    };
  }

  /** The same tree by path for fuse-native (fuse-native codes: 0 or -errno; ms times). */
  pathOps(): FuseOps {
    const ms = (t: TimeSpec) => new Date(t.sec * 1000 + t.nsec / 1e6);
    const stat = (n: Node): FuseStat => ({
      mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, size: n.size, ino: n.ino, dev: 0, rdev: 0, blksize: 4096,
      blocks: Math.ceil(n.size / 512), atime: ms(n.atime), mtime: ms(n.mtime), ctime: ms(n.ctime),
    } as FuseStat);
    const fds = new Map<number, Node>();
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
