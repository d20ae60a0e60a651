/**
 * A pure in-memory POSIX tree: the reference model of src/volume/namespace.
 * Operations take paths (arrays of components from the root) and the caller's credentials,
 * apply Linux's rules (errors as FsError codes), and only change state once every check passed.
 * Inodes are plain objects; directories keep their entries in the order they were made, which
 * is also the order in which the real namespace lists them (readdir cookies).
 */
import type { Cred } from '../../src/common/protocol/index.js';
import {
  ROOT_CRED, TYPE_BITS, allowed, classify, dropSetId, fail, memberOf, need, stickyOk, type MNode, type NodeType,
} from './posix-rules.js';
import { xattrOps } from './posix-model-xattrs.js';
import { renameInModel } from './posix-model-rename.js';

export type Path = readonly string[];
export interface Summary { mode: number; nlink: number; uid: number; gid: number; size: number }
export interface SetAttrs { mode?: number; uid?: number; gid?: number; size?: number; times?: 'now' | 'explicit' }

const O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2, O_EXCL = 0o200, O_TRUNC = 0o1000;

export class PosixModel {
  readonly nodes = new Map<number, MNode>();
  readonly opens = new Map<string, Map<number, number>>();
  /** Regular files destroyed so far (the real namespace calls FileData.drop for each). */
  dropped = 0;
  private nextId = 2;
  readonly xattr = xattrOps(this);

  constructor(rootPerm: number) {
    this.nodes.set(1, this.blank(1, 'dir', rootPerm, ROOT_CRED.uid, ROOT_CRED.gid, 1));
  }

  private blank(id: number, type: NodeType, perm: number, uid: number, gid: number, parent: number): MNode {
    return { id, type, perm, uid, gid, links: 1, size: 0, entries: new Map(), parent, xattrs: new Map() };
  }

  node(id: number): MNode { return this.nodes.get(id)!; }
  nlink(n: MNode): number {
    if (n.type !== 'dir') return n.links;
    let subdirs = 0;
    for (const id of n.entries.values()) if (this.node(id).type === 'dir') subdirs++;
    return 2 + subdirs;
  }
  summary(n: MNode): Summary {
    return { mode: TYPE_BITS[n.type] | n.perm, nlink: this.nlink(n), uid: n.uid, gid: n.gid, size: n.size };
  }
  openCount(id: number): number {
    let total = 0;
    for (const m of this.opens.values()) total += m.get(id) ?? 0;
    return total;
  }

  /** Follows a path: every directory passed needs search permission. */
  walk(cred: Cred, path: Path): MNode {
    let cur = this.node(1);
    for (const comp of path) {
      if (cur.type !== 'dir') fail('ENOTDIR');
      need(cred, cur, 1);
      const kind = classify(comp);
      if (kind === '.') continue;
      if (kind === '..') { cur = this.node(cur.parent); continue; }
      const id = cur.entries.get(comp);
      if (id === undefined) fail('ENOENT');
      cur = this.node(id);
    }
    return cur;
  }

  /** The directory of a path's last component, searchable, and that component. */
  dirOf(cred: Cred, path: Path): [MNode, string] {
    const dir = this.walk(cred, path.slice(0, -1));
    if (dir.type !== 'dir') fail('ENOTDIR');
    need(cred, dir, 1);
    return [dir, path[path.length - 1]];
  }

  /** What a name of dir refers to, '.' and '..' included; undefined when nothing. */
  existing(dir: MNode, name: string): MNode | undefined {
    const kind = classify(name);
    if (kind === '.') return dir;
    if (kind === '..') return this.node(dir.parent);
    const id = dir.entries.get(name);
    return id === undefined ? undefined : this.node(id);
  }

  private addNode(cred: Cred, dir: MNode, name: string, type: NodeType, perm: number): MNode {
    let gid = cred.gid;
    let p = perm;
    if (dir.perm & 0o2000) {
      gid = dir.gid;
      if (type === 'dir') p |= 0o2000;
      else if ((p & 0o2010) === 0o2010 && cred.uid !== 0 && !memberOf(cred, gid)) p &= ~0o2000;
    }
    const n = this.blank(this.nextId++, type, p, cred.uid, gid, dir.id);
    this.nodes.set(n.id, n);
    dir.entries.set(name, n.id);
    return n;
  }

  /** Checks for a new entry: the name must be free, then the directory writable. */
  private freeSlot(cred: Cred, path: Path): [MNode, string] {
    const [dir, name] = this.dirOf(cred, path);
    if (this.existing(dir, name)) fail('EEXIST');
    need(cred, dir, 3);
    return [dir, name];
  }

  mkdir(cred: Cred, path: Path, mode: number, umask: number): Summary {
    const [dir, name] = this.freeSlot(cred, path);
    return this.summary(this.addNode(cred, dir, name, 'dir', mode & 0o1777 & ~umask));
  }

  mknod(cred: Cred, path: Path, type: 'fifo' | 'chr', mode: number, umask: number): Summary {
    const [dir, name] = this.freeSlot(cred, path);
    if (type === 'chr' && cred.uid !== 0) fail('EPERM');
    return this.summary(this.addNode(cred, dir, name, type, mode & 0o7777 & ~umask));
  }

  symlink(cred: Cred, path: Path, target: string): Summary {
    const [dir, name] = this.dirOf(cred, path);
    if (target === '') fail('ENOENT');
    if (Buffer.byteLength(target) > 4095) fail('ENAMETOOLONG');
    if (this.existing(dir, name)) fail('EEXIST');
    need(cred, dir, 3);
    const n = this.addNode(cred, dir, name, 'lnk', 0o777);
    n.target = target;
    n.size = Buffer.byteLength(target);
    return this.summary(n);
  }

  create(mount: string, cred: Cred, path: Path, mode: number, umask: number, flags: number): [Summary, number] {
    const [dir, name] = this.dirOf(cred, path);
    const there = this.existing(dir, name);
    if (there) {
      if (flags & O_EXCL) fail('EEXIST');
      if (there.type === 'dir') fail('EISDIR');
      return this.openNode(mount, cred, there, flags);
    }
    need(cred, dir, 3);
    const n = this.addNode(cred, dir, name, 'reg', mode & 0o7777 & ~umask);
    this.countOpen(mount, n.id, 1);
    return [this.summary(n), n.id];
  }

  open(mount: string, cred: Cred, path: Path, flags: number): [Summary, number] {
    return this.openNode(mount, cred, this.walk(cred, path), flags);
  }

  private openNode(mount: string, cred: Cred, n: MNode, flags: number): [Summary, number] {
    const acc = flags & O_ACCMODE;
    let want = acc === O_WRONLY ? 2 : acc === O_RDWR || acc === 3 ? 6 : 4;
    if (flags & O_TRUNC) want |= 2;
    if (n.type === 'lnk') fail('ELOOP');
    if (n.type === 'dir' && want & 2) fail('EISDIR');
    need(cred, n, want);
    if (n.type === 'reg') {
      if (flags & O_TRUNC) {
        n.size = 0;
        if (cred.uid !== 0) n.perm = dropSetId(n.perm);
      }
      this.countOpen(mount, n.id, 1);
    }
    return [this.summary(n), n.id];
  }

  private countOpen(mount: string, id: number, delta: number): void {
    const m = this.opens.get(mount) ?? new Map<number, number>();
    const v = (m.get(id) ?? 0) + delta;
    if (v > 0) m.set(id, v); else m.delete(id);
    this.opens.set(mount, m);
  }

  release(mount: string, id: number): void {
    if (!this.opens.get(mount)?.get(id)) return;
    this.countOpen(mount, id, -1);
    this.reap(id);
  }

  dropMount(mount: string): void {
    const ids = [...(this.opens.get(mount)?.keys() ?? [])];
    this.opens.delete(mount);
    for (const id of ids) this.reap(id);
  }

  /** Destroys a non-directory that no entry names and nobody holds open. */
  reap(id: number): void {
    const n = this.nodes.get(id);
    if (!n || n.links > 0 || this.openCount(id) > 0) return;
    this.nodes.delete(id);
    if (n.type === 'reg') this.dropped++;
  }

  noteWrite(id: number, end: number): Summary {
    const n = this.node(id);
    n.size = Math.max(n.size, end);
    // set-id bits: the kernel clears them for writers without CAP_FSETID (a setattr), not the write
    return this.summary(n);
  }

  link(cred: Cred, from: Path, to: Path): Summary {
    const src = this.walk(cred, from);
    const [dir, name] = this.freeSlot(cred, to);
    if (src.type === 'dir') fail('EPERM');
    dir.entries.set(name, src.id);
    src.links++;
    return this.summary(src);
  }

  unlink(cred: Cred, path: Path): void {
    const [dir, name] = this.dirOf(cred, path);
    if (classify(name) !== 'plain') fail('EISDIR');
    const victim = this.existing(dir, name) ?? fail('ENOENT');
    need(cred, dir, 3);
    if (!stickyOk(cred, dir, victim)) fail('EPERM');
    if (victim.type === 'dir') fail('EISDIR');
    dir.entries.delete(name);
    victim.links--;
    this.reap(victim.id);
  }

  rmdir(cred: Cred, path: Path): void {
    const [dir, name] = this.dirOf(cred, path);
    const kind = classify(name);
    if (kind === '.') fail('EINVAL');
    if (kind === '..') fail('ENOTEMPTY');
    const victim = this.existing(dir, name) ?? fail('ENOENT');
    need(cred, dir, 3);
    if (!stickyOk(cred, dir, victim)) fail('EPERM');
    if (victim.type !== 'dir') fail('ENOTDIR');
    if (victim.entries.size > 0) fail('ENOTEMPTY');
    dir.entries.delete(name);
    this.nodes.delete(victim.id);
  }

  rename(cred: Cred, from: Path, to: Path, flags: number): void {
    renameInModel(this, cred, from, to, flags);
  }

  setattr(cred: Cred, path: Path, a: SetAttrs): Summary {
    const n = this.walk(cred, path);
    const root = cred.uid === 0;
    const owns = root || cred.uid === n.uid;
    if (a.size !== undefined) {
      if (n.type === 'dir') fail('EISDIR');
      if (n.type !== 'reg') fail('EINVAL');
      need(cred, n, 2);
    }
    if (a.uid !== undefined && !root && !(cred.uid === n.uid && a.uid === n.uid)) fail('EPERM');
    if (a.gid !== undefined && !root && !(cred.uid === n.uid && (a.gid === n.gid || memberOf(cred, a.gid)))) fail('EPERM');
    if (a.mode !== undefined && !owns) fail('EPERM');
    if (a.times === 'explicit' && !owns) fail('EPERM');
    if (a.times === 'now' && !owns && !allowed(cred, n, 2)) fail('EACCES');
    const gidBefore = n.gid;
    if (a.size !== undefined) {
      n.size = a.size;
      if (!root) n.perm = dropSetId(n.perm);
    }
    if (a.uid !== undefined) n.uid = a.uid;
    if (a.gid !== undefined) n.gid = a.gid;
    if (a.mode !== undefined) n.perm = a.mode & (root || memberOf(cred, n.gid) ? 0o7777 : 0o5777);
    if ((a.uid !== undefined || a.gid !== undefined) && n.type !== 'dir') {
      n.perm &= ~0o4000;
      if (n.perm & 0o010 || (!root && !memberOf(cred, gidBefore))) n.perm &= ~0o2000;
    }
    return this.summary(n);
  }

  access(cred: Cred, path: Path, mask: number): void {
    const n = this.walk(cred, path);
    if (mask > 7) fail('EINVAL');
    if (mask !== 0) need(cred, n, mask);
  }

  readdir(cred: Cred, path: Path): string[] {
    const n = this.walk(cred, path);
    if (n.type !== 'dir') fail('ENOTDIR');
    need(cred, n, 4);
    return ['.', '..', ...n.entries.keys()];
  }
}
