/**
 * Runs one operation list against the real namespace (an in-memory SQLite volume, each call in
 * its own transaction, as the RPC server does) and against the reference model, and compares
 * every result (error code, or the attributes returned), the FileData.drop count and
 * namespace.check() after each step, and the whole tree at the end.
 */
import assert from 'node:assert/strict';
import { errorCode } from '../../src/common/errors/index.js';
import { O_CREAT, ROOT_INO, S_IFMT } from '../../src/common/protocol/index.js';
import type { Attr, Cred, Ino } from '../../src/common/protocol/index.js';
import { fromNs, openMetadata, type Metadata } from '../../src/volume/metadata/index.js';
import { createNamespace, formatNamespace, type Namespace } from '../../src/volume/namespace/index.js';
import { PosixModel, type Path, type Summary } from './posix-model.js';
import { visibleXattrs } from './posix-model-xattrs.js';
import { TYPE_BITS } from './posix-rules.js';

export const CREDS: readonly Cred[] = [
  { uid: 0, gid: 0, groups: [] },
  { uid: 1000, gid: 1000, groups: [1000] },
  { uid: 1001, gid: 1001, groups: [1001, 1000] },
  { uid: 1002, gid: 1002, groups: [] },
];

export type Op =
  | { op: 'mkdir'; c: number; path: string[]; mode: number; umask: number }
  | { op: 'create'; c: number; path: string[]; mode: number; umask: number; flags: number; mount: string }
  | { op: 'mknod'; c: number; path: string[]; type: 'fifo' | 'chr'; mode: number }
  | { op: 'symlink'; c: number; path: string[]; target: string }
  | { op: 'link'; c: number; from: string[]; to: string[] }
  | { op: 'unlink' | 'rmdir' | 'lookup' | 'readdir' | 'listxattr'; c: number; path: string[] }
  | { op: 'rename'; c: number; from: string[]; to: string[]; flags: number }
  | { op: 'open'; c: number; path: string[]; flags: number; mount: string }
  | { op: 'access'; c: number; path: string[]; mask: number }
  | { op: 'release'; k: number }
  | { op: 'write'; k: number; end: number }
  | { op: 'dropMount'; mount: string }
  | { op: 'setattr'; c: number; path: string[]; mode?: number; uid?: number; gid?: number; size?: number; times?: 'now' | 'explicit' }
  | { op: 'setxattr'; c: number; path: string[]; name: string; len: number; flags: number }
  | { op: 'removexattr' | 'getxattr'; c: number; path: string[]; name: string };

/** When set, counts each op's outcome ('rename ok', 'mkdir EEXIST', ...) to judge coverage. */
export let stats: Map<string, number> | undefined;
export function collectStats(): Map<string, number> {
  stats = new Map();
  return stats;
}

interface Handle { mount: string; id: number; ino: Ino }

const summarize = (a: Attr): Summary => ({ mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid, size: a.size });

function attempt(fn: () => unknown): unknown {
  try {
    const v = fn();
    return { ok: v ?? null };
  } catch (err) {
    const code = errorCode(err);
    if (code === undefined || code.startsWith('PFS_')) throw err;
    return { err: code };
  }
}

export class Harness {
  readonly md: Metadata;
  readonly ns: Namespace;
  readonly model: PosixModel;
  drops = 0;
  private handles: Handle[] = [];
  private tick = 1_700_000_000_000_000_000n;

  constructor(rootMode: number) {
    this.model = new PosixModel(rootMode);
    this.md = openMetadata(':memory:');
    const now = () => fromNs((this.tick += 1000n));
    formatNamespace(this.md, { uid: 0, gid: 0, mode: rootMode }, now());
    const fileData = { truncate: () => {}, drop: () => { this.drops++; }, usedBytes: () => 0 };
    this.ns = createNamespace(this.md, { now, fileData });
  }

  close(): void { this.md.close(); }

  private ino(cred: Cred, path: Path): Ino {
    let cur = ROOT_INO;
    for (const comp of path) cur = this.ns.lookup(cred, cur, comp).ino;
    return cur;
  }

  /** The directory of a path's last component: resolved, then checked searchable (lookup of '.'). */
  private dir(cred: Cred, path: Path): [Ino, string] {
    const d = this.ino(cred, path.slice(0, -1));
    this.ns.lookup(cred, d, '.');
    return [d, path[path.length - 1]];
  }

  private lastIno: Ino | undefined;
  private lastId: number | undefined;

  private opened(a: Attr): Summary {
    this.lastIno = a.ino;
    return summarize(a);
  }

  private modelOpened([summary, id]: [Summary, number]): Summary {
    this.lastId = id;
    return summary;
  }

  private real(o: Op): unknown {
    const { ns } = this;
    if (o.op === 'release' || o.op === 'write' || o.op === 'dropMount') return undefined;
    const cred = CREDS[o.c];
    switch (o.op) {
      case 'mkdir': { const [d, n] = this.dir(cred, o.path); return summarize(ns.mkdir(cred, d, n, o.mode, o.umask)); }
      case 'create': { const [d, n] = this.dir(cred, o.path); return this.opened(ns.create(o.mount, cred, d, n, o.mode, o.umask, o.flags | O_CREAT)); }
      case 'mknod': { const [d, n] = this.dir(cred, o.path); return summarize(ns.mknod(cred, d, n, TYPE_BITS[o.type] | o.mode, 0o022, 0)); }
      case 'symlink': { const [d, n] = this.dir(cred, o.path); return summarize(ns.symlink(cred, d, n, o.target)); }
      case 'link': { const src = this.ino(cred, o.from); const [d, n] = this.dir(cred, o.to); return summarize(ns.link(cred, src, d, n)); }
      case 'unlink': { const [d, n] = this.dir(cred, o.path); return ns.unlink(cred, d, n); }
      case 'rmdir': { const [d, n] = this.dir(cred, o.path); return ns.rmdir(cred, d, n); }
      case 'rename': { const [d, n] = this.dir(cred, o.from); const [d2, n2] = this.dir(cred, o.to); return ns.rename(cred, d, n, d2, n2, o.flags); }
      case 'open': return this.opened(ns.open(o.mount, cred, this.ino(cred, o.path), o.flags));
      case 'lookup': return summarize(ns.getattr(this.ino(cred, o.path)));
      case 'access': return ns.access(cred, this.ino(cred, o.path), o.mask);
      case 'readdir': return readAll(ns, cred, this.ino(cred, o.path)).map((e) => e.name);
      case 'setattr': {
        const t = o.times === 'explicit' ? { sec: 5, nsec: 6 } : o.times;
        return summarize(ns.setattr({ cred, ino: this.ino(cred, o.path), mode: o.mode, uid: o.uid, gid: o.gid, size: o.size, atime: t, mtime: t }));
      }
      case 'setxattr': return ns.setxattr(cred, this.ino(cred, o.path), o.name, Buffer.alloc(o.len, o.len), o.flags);
      case 'getxattr': return ns.getxattr(cred, this.ino(cred, o.path), o.name).toString('hex');
      case 'removexattr': return ns.removexattr(cred, this.ino(cred, o.path), o.name);
      case 'listxattr': return ns.listxattr(cred, this.ino(cred, o.path));
    }
  }

  private modelled(o: Op): unknown {
    const m = this.model;
    if (o.op === 'release' || o.op === 'write' || o.op === 'dropMount') return undefined;
    const cred = CREDS[o.c];
    switch (o.op) {
      case 'mkdir': return m.mkdir(cred, o.path, o.mode, o.umask);
      case 'create': return this.modelOpened(m.create(o.mount, cred, o.path, o.mode, o.umask, o.flags));
      case 'mknod': return m.mknod(cred, o.path, o.type, o.mode, 0o022);
      case 'symlink': return m.symlink(cred, o.path, o.target);
      case 'link': return m.link(cred, o.from, o.to);
      case 'unlink': return m.unlink(cred, o.path);
      case 'rmdir': return m.rmdir(cred, o.path);
      case 'rename': return m.rename(cred, o.from, o.to, o.flags);
      case 'open': return this.modelOpened(m.open(o.mount, cred, o.path, o.flags));
      case 'lookup': return m.summary(m.walk(cred, o.path));
      case 'access': return m.access(cred, o.path, o.mask);
      case 'readdir': return m.readdir(cred, o.path);
      case 'setattr': return m.setattr(cred, o.path, o);
      case 'setxattr': return m.xattr.set(cred, o.path, o.name, Buffer.alloc(o.len, o.len), o.flags);
      case 'getxattr': return m.xattr.get(cred, o.path, o.name).toString('hex');
      case 'removexattr': return m.xattr.remove(cred, o.path, o.name);
      case 'listxattr': return m.xattr.list(cred, o.path);
    }
  }

  /** Applies one op to both sides and compares. */
  step(o: Op, i: number): void {
    if (o.op === 'release' || o.op === 'write') {
      if (this.handles.length === 0) return;
      const k = o.k % this.handles.length;
      const h = this.handles[k];
      if (o.op === 'release') {
        this.handles.splice(k, 1);
        this.md.transaction(() => this.ns.release(h.mount, h.ino));
        this.model.release(h.mount, h.id);
      } else {
        const got = summarize(this.md.transaction(() => this.ns.noteWrite(h.ino, o.end, { sec: 9, nsec: 0 })));
        assert.deepEqual(got, this.model.noteWrite(h.id, o.end), `step ${i} ${brief(o)}`);
      }
    } else if (o.op === 'dropMount') {
      this.handles = this.handles.filter((h) => h.mount !== o.mount);
      this.md.transaction(() => this.ns.dropMount(o.mount));
      this.model.dropMount(o.mount);
    } else {
      this.lastIno = this.lastId = undefined;
      const want = attempt(() => this.modelled(o));
      const got = attempt(() => this.md.transaction(() => this.real(o)));
      assert.deepEqual(got, want, `step ${i} ${brief(o)}`);
      const outcome = `${o.op} ${'err' in (got as object) ? (got as { err: string }).err : 'ok'}`;
      stats?.set(outcome, (stats.get(outcome) ?? 0) + 1);
      const mount = (o as { mount?: string }).mount;
      if (this.lastId !== undefined && this.lastIno !== undefined && mount !== undefined
        && this.model.nodes.get(this.lastId)?.type === 'reg') {
        this.handles.push({ mount, id: this.lastId, ino: this.lastIno });
      }
    }
    assert.equal(this.drops, this.model.dropped, `step ${i}: FileData.drop calls`);
    assert.deepEqual(this.md.transaction(() => this.ns.check()), [], `step ${i}: check()`);
  }

  /** Compares both whole trees, the inode counts and the open-but-unlinked files. */
  finish(): void {
    assert.deepEqual(dumpReal(this.ns), dumpModel(this.model));
    const count = (sql: string) => (this.md.db.prepare(sql).get() as { n: number }).n;
    assert.equal(count('SELECT COUNT(*) AS n FROM inodes'), this.model.nodes.size, 'inode count');
    const orphans = [...this.model.nodes.values()].filter((n) => n.type !== 'dir' && n.links === 0).length;
    assert.equal(count('SELECT COUNT(*) AS n FROM inodes WHERE nlink = 0'), orphans, 'open unlinked files');
  }
}

/** An op as JSON, long strings abbreviated. */
export function brief(o: Op): string {
  return JSON.stringify(o, (_k, v: unknown) => (typeof v === 'string' && v.length > 20 ? `${v[0]}*${v.length}` : v));
}

function readAll(ns: Namespace, cred: Cred, ino: Ino) {
  const out = [];
  for (let cookie = 0; ;) {
    const { entries, eof } = ns.readdir(cred, ino, cookie, 2, true);
    out.push(...entries);
    if (eof) return out;
    cookie = entries[entries.length - 1].cookie;
  }
}

interface Dumped { path: string; mode: number; nlink: number; uid: number; gid: number; size: number; target?: string; xattrs: string[]; userList: string[]; sameAs?: string }

function dumpReal(ns: Namespace): Dumped[] {
  const out: Dumped[] = [];
  const first = new Map<Ino, string>();
  const root = CREDS[0];
  const visit = (ino: Ino, prefix: string) => {
    for (const e of readAll(ns, root, ino)) {
      if (e.name === '.' || e.name === '..') continue;
      const a = e.attr!;
      const path = prefix + e.name;
      const isDir = (a.mode & S_IFMT) === TYPE_BITS.dir;
      const xattrs = ns.listxattr(root, a.ino).map((x) => `${x}=${ns.getxattr(root, a.ino, x).toString('hex')}`);
      const d: Dumped = { ...summarize(a), path, xattrs, userList: ns.listxattr(CREDS[1], a.ino) };
      if ((a.mode & S_IFMT) === TYPE_BITS.lnk) d.target = ns.readlink(a.ino);
      if (!isDir) { if (first.has(a.ino)) d.sameAs = first.get(a.ino); else first.set(a.ino, path); }
      out.push(d);
      if (isDir) visit(a.ino, path + '/');
    }
  };
  visit(ROOT_INO, '');
  return out;
}

function dumpModel(m: PosixModel): Dumped[] {
  const out: Dumped[] = [];
  const first = new Map<number, string>();
  const visit = (id: number, prefix: string) => {
    for (const [name, childId] of m.node(id).entries) {
      const n = m.node(childId);
      const path = prefix + name;
      const xattrs = [...n.xattrs.keys()].sort().map((x) => `${x}=${n.xattrs.get(x)!.toString('hex')}`);
      const d: Dumped = { ...m.summary(n), path, xattrs, userList: visibleXattrs(CREDS[1], n) };
      if (n.type === 'lnk') d.target = n.target;
      if (n.type !== 'dir') { if (first.has(n.id)) d.sameAs = first.get(n.id); else first.set(n.id, path); }
      out.push(d);
      if (n.type === 'dir') visit(n.id, path + '/');
    }
  };
  visit(1, '');
  return out;
}

/** Runs ops on a fresh volume whose root directory has mode rootMode (owned by root). */
export function runOps(ops: readonly Op[], rootMode = 0o777): void {
  const h = new Harness(rootMode);
  try {
    ops.forEach((o, i) => h.step(o, i));
    h.finish();
  } finally {
    h.close();
  }
}
