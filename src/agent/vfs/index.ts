/**
 * agent/vfs: the POSIX behaviour of one mounted volume, over proxyfsd (metadata RPCs) and the
 * object store (file data through the read cache and writeback).
 * Parts: core.ts (shared state, path resolution, attribute overlay), names.ts (namespace ops),
 * data.ts (open/read/write/flush/truncate), path-cache.ts, extent-cache.ts, handles.ts, creds.ts,
 * locks.ts + lock-ranges.ts (fcntl and flock locks held by proxyfsd).
 * Invariants (docs/AGENT.md): reads see this agent's unflushed writes; close and fsync return
 * only when the file's data is reported to proxyfsd; the path cache mirrors every namespace
 * change this agent makes.
 */
import type { Attr, DirEntry, Ino, LockConflict, ReclaimedLock, StatVfs, Timespec } from '../../common/protocol/index.js';
import { ROOT_INO, S_IFDIR } from '../../common/protocol/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { VolumeClient } from '../volume-client/index.js';
import type { ReadCache } from '../readcache/index.js';
import type { Writeback } from '../writeback/index.js';
import type { LeaseManager } from '../lease/index.js';
import { createDirLeases, type DirLeases } from '../lease/dir-leases.js';
import { attrCurrent, cacheAttr, forgetAttr, forgetDirAttr, resolve, type Core, type VfsSettings } from './core.js';
import { createCredSource, type OpContext } from './creds.js';
import { createPathCache } from './path-cache.js';
import { createExtentCache } from './extent-cache.js';
import { createHandles } from './handles.js';
import { createLocks, type SetLockRequest } from './locks.js';
import * as names from './names.js';
import * as data from './data.js';
import * as byIno from './by-ino.js';
import { createNodes } from './nodes.js';
import type { Entry, SetAttrChanges } from './by-ino.js';
import { leaseDropped, mountLost } from './leased.js';

export type { OpContext } from './creds.js';
export type { VfsSettings } from './core.js';
export type { Entry, SetAttrChanges } from './by-ino.js';
export { InterruptedError, type SetLockRequest } from './locks.js';

export interface VfsOptions extends VfsSettings {
  client: VolumeClient;
  readCache: ReadCache;
  writeback: Writeback;
  log: Logger;
  clock: Clock;
  fetchExtentsFrom: number;
  fetchExtentsBefore: number;
  extentMapEntryLimit: number;
  pathCacheEntries: number;
  /** Path-cache entries older than this are looked up again (EntryDuration; Infinity = never). */
  pathCacheMaxAgeMs: number;
  leases: LeaseManager;
  /** Path-based session: drops the kernel's attributes and pages of the file at path (the binding's invalidateInode); never rejects. */
  invalidateKernel?: (path: string) => Promise<unknown>;
  /** Inode-based session: drops the kernel's attributes and pages of node ino; never rejects. Given: the session is inode-based. */
  invalidateNode?: (ino: Ino) => Promise<unknown>;
  /** Inode-based session: drops the kernel's entry `name` of directory `parent`; never rejects. */
  invalidateEntry?: (parent: Ino, name: string) => Promise<unknown>;
  /**
   * The binding forgets its own ENODATA answers for security.capability (docs/FUSE-BINDING.md
   * 2.9): of inode ino, or of every inode when ino is undefined (the path-based session always
   * forgets them all); default none.
   */
  forgetCapabilityAbsence?: (ino?: Ino) => void;
}

/** The inode-based session's operations (docs/AGENT.md): nodes are volume inode numbers. */
export interface InoVfs {
  /** An entry reply: the kernel holds one more reference to the inode returned (nameKept: see Entry). */
  lookup(ctx: OpContext, parent: Ino, name: string): Promise<Entry>;
  forget(ino: Ino, nlookup: number): void;
  /** The kernel got these entries in a READDIRPLUS reply (one reference each). */
  entered(attrs: Attr[]): void;
  getattr(ctx: OpContext, ino: Ino): Promise<Attr>;
  /** These attributes are current under a lease held here: the kernel may keep them until it is told (leaseDropped). */
  attrCurrent(attr: Attr): boolean;
  setattr(ctx: OpContext, ino: Ino, set: SetAttrChanges, fh: number | undefined): Promise<Attr>;
  readlink(ctx: OpContext, ino: Ino): Promise<string>;
  mkdir(ctx: OpContext, parent: Ino, name: string, mode: number): Promise<Entry>;
  mknod(ctx: OpContext, parent: Ino, name: string, mode: number, rdev: number): Promise<Entry>;
  symlink(ctx: OpContext, target: string, parent: Ino, name: string): Promise<Entry>;
  link(ctx: OpContext, ino: Ino, newParent: Ino, newName: string): Promise<Entry>;
  unlink(ctx: OpContext, parent: Ino, name: string): Promise<void>;
  rmdir(ctx: OpContext, parent: Ino, name: string): Promise<void>;
  rename(ctx: OpContext, parent: Ino, name: string, newParent: Ino, newName: string): Promise<void>;
  open(ctx: OpContext, ino: Ino, flags: number): Promise<number>;
  create(ctx: OpContext, parent: Ino, name: string, mode: number, flags: number): Promise<Entry & { fh: number }>;
  /** One page after `cookie` (0 = start); plus: with attributes. */
  readdir(ctx: OpContext, ino: Ino, cookie: number, maxEntries: number, plus: boolean): Promise<{ entries: DirEntry[]; eof: boolean }>;
  access(ctx: OpContext, ino: Ino, mask: number): Promise<void>;
  setxattr(ctx: OpContext, ino: Ino, name: string, value: Buffer, flags: number): Promise<void>;
  getxattr(ctx: OpContext, ino: Ino, name: string): Promise<Buffer>;
  listxattr(ctx: OpContext, ino: Ino): Promise<string[]>;
  removexattr(ctx: OpContext, ino: Ino, name: string): Promise<void>;
}

export interface Vfs {
  /** Directory leases (docs/LEASES.md §5): main.ts routes their breaks here, and drops them all when proxyfsd restarts. */
  readonly dirLeases: DirLeases;
  /** The operations by inode (the inode-based session); the path-based ones below serve fuse-native's session. */
  readonly ino: InoVfs;
  getattr(ctx: OpContext, path: string): Promise<Attr>;
  fgetattr(fh: number): Promise<Attr>;
  access(ctx: OpContext, path: string, mask: number): Promise<void>;
  statfs(): Promise<StatVfs>;
  opendir(ctx: OpContext, path: string): Promise<void>;
  readdir(ctx: OpContext, path: string): Promise<DirEntry[]>;
  mkdir(ctx: OpContext, path: string, mode: number): Promise<Attr>;
  mknod(ctx: OpContext, path: string, mode: number, rdev: number): Promise<Attr>;
  rmdir(ctx: OpContext, path: string): Promise<void>;
  symlink(ctx: OpContext, target: string, path: string): Promise<Attr>;
  readlink(ctx: OpContext, path: string): Promise<string>;
  link(ctx: OpContext, from: string, to: string): Promise<Attr>;
  unlink(ctx: OpContext, path: string): Promise<void>;
  rename(ctx: OpContext, from: string, to: string): Promise<void>;
  chmod(ctx: OpContext, path: string, mode: number): Promise<Attr>;
  chown(ctx: OpContext, path: string, uid: number, gid: number): Promise<Attr>;
  utimens(ctx: OpContext, path: string, atime: Timespec | 'now' | null, mtime: Timespec | 'now' | null): Promise<Attr>;
  truncate(ctx: OpContext, path: string, size: number): Promise<Attr>;
  ftruncate(ctx: OpContext, fh: number, size: number): Promise<Attr>;
  create(ctx: OpContext, path: string, mode: number, flags: number | null): Promise<number>;
  open(ctx: OpContext, path: string, flags: number): Promise<number>;
  /** Reads into dest (the kernel's buffer); resolves with the byte count. */
  read(fh: number, offset: number, length: number, dest: Buffer): Promise<number>;
  write(fh: number, offset: number, data: Buffer): Promise<number>;
  flush(fh: number): Promise<void>;
  fsync(fh: number): Promise<void>;
  release(fh: number): Promise<void>;
  setxattr(ctx: OpContext, path: string, name: string, value: Buffer, flags: number): Promise<void>;
  getxattr(ctx: OpContext, path: string, name: string): Promise<Buffer>;
  listxattr(ctx: OpContext, path: string): Promise<string[]>;
  removexattr(ctx: OpContext, path: string, name: string): Promise<void>;
  /** fcntl F_GETLK on an open file: another owner's conflicting lock (end -1 = to EOF), if any. */
  getLock(fh: number, owner: string, q: { type: 'read' | 'write'; start: number; end: number }): Promise<LockConflict | undefined>;
  /** fcntl F_SETLK / F_SETLKW (docs/LEASES.md §6): EAGAIN, EDEADLK, or InterruptedError (EINTR). */
  setLock(fh: number, owner: string, req: SetLockRequest): Promise<void>;
  /** flock(2); the range of req is ignored. EAGAIN (LOCK_NB) or InterruptedError (EINTR). */
  flock(fh: number, owner: string, req: SetLockRequest): Promise<void>;
  /**
   * The locks a close drops (inode-based session; libfuse's high-level API did it itself): at
   * each close (FUSE flush) the POSIX locks of the descriptor's lock owner, at the release of a
   * description that used flock(2) its flock. No RPC when the owner holds none.
   */
  closeLocks(fh: number, owner: string, kind: 'posix' | 'flock'): Promise<void>;
  /** Flushes every file's buffered writes. */
  flushAll(): Promise<void>;
  /** LeaseCallbacks.dropped: the lease of ino is being released (caches go, the kernel is told; resolves when it is done). */
  leaseDropped(ino: Ino): Promise<unknown>;
  /** The mount was lost (evicted): every cache goes; handles are opened again on their next use. */
  mountLost(): void;
  /** The locks this agent holds, for a Reclaim after a proxyfsd restart. */
  lockClaims(): ReclaimedLock[];
  stats(): { openHandles: number; cachedPaths: number; cachedExtents: number; kernelNodes: number };
}

export function createVfs(opts: VfsOptions): Vfs {
  const creds = createCredSource({ ttlMs: 2000, maxEntries: 4096, now: () => opts.clock.nowMs() });
  const invalidateNode = opts.invalidateNode;
  const invalidateKernel = opts.invalidateKernel ?? (async () => undefined);
  const core: Core = {
    client: opts.client,
    readCache: opts.readCache,
    writeback: opts.writeback,
    creds,
    paths: createPathCache(ROOT_INO, { maxEntries: opts.pathCacheEntries, maxAgeMs: opts.pathCacheMaxAgeMs, nowMs: () => opts.clock.nowMs() }),
    extents: createExtentCache({ client: opts.client, cred: creds.own(), fromCount: opts.fetchExtentsFrom, beforeCount: opts.fetchExtentsBefore, maxEntries: opts.extentMapEntryLimit }),
    handles: createHandles(),
    log: opts.log,
    clock: opts.clock,
    settings: { readdirMaxEntries: opts.readdirMaxEntries, readAheadBytes: opts.readAheadBytes, xattrEnabled: opts.xattrEnabled },
    leases: opts.leases,
    dirLeases: createDirLeases({
      invalidateEntry: async (parent, name) => opts.invalidateEntry?.(parent, name),
      invalidateAttrs: async (dir) => core.invalidateNode(dir),
      forget: (dir) => forgetDirAttr(core, dir),
      keep: (attr, epoch) => cacheAttr(core, attr, epoch),
      release: (dir) => opts.client.call('Lease', { ino: dir, request: 'release' }),
    }, opts.log),
    nodes: createNodes(ROOT_INO, S_IFDIR),
    invalidateNode: invalidateNode
      ? async (ino) => (core.nodes.has(ino) ? invalidateNode(ino) : undefined)
      : async (ino) => {
        const path = core.inoPaths.get(ino);
        return path === undefined || core.handles.openCount(ino) === 0 ? undefined : invalidateKernel(path);
      },
    invalidateAll: invalidateNode
      ? () => { for (const ino of [...core.nodes.inos()]) void invalidateNode(ino); }
      : () => {
        for (const path of core.inoPaths.values()) void invalidateKernel(path);
        void invalidateKernel('/');
      },
    serverSize: new Map(),
    sizeEpoch: new Map(),
    inoPaths: new Map(),
    fileInos: new Set(),
    noCapability: new Map(),
    capabilityForgotten: opts.forgetCapabilityAbsence ?? (() => undefined),
    appendQueue: new Map(),
    attrs: new Map(),
  };
  const locks = createLocks({ client: opts.client, log: opts.log });
  /** The inode a lock request is about; undefined for a close-time unlock of a handle already gone. */
  const lockIno = (fh: number, closing: boolean): Ino | undefined => {
    if (!closing) return core.handles.get(fh).ino;
    try {
      return core.handles.get(fh).ino;
    } catch {
      opts.log.warn({ fh }, 'close-time unlock for a handle already released: nothing to unlock by (the server drops the locks at unmount)');
      return undefined;
    }
  };
  opts.writeback.onWrote((ino, attr) => {
    core.extents.invalidate(ino);
    // Our own Wrote: current under the Exclusive lease the data was buffered under (size, mtime,
    // set-id bits: the cached attributes are replaced; without the lease they are asked again).
    const epoch = core.leases.epoch(ino);
    if (epoch !== undefined) cacheAttr(core, attr, epoch);
    else forgetAttr(core, ino);
    if (core.serverSize.has(ino)) {
      core.serverSize.set(ino, attr.size);
      if (epoch !== undefined) core.sizeEpoch.set(ino, epoch);
      else core.sizeEpoch.delete(ino);
    }
  });
  // A failed write-back: the kernel may hold the pages of the bytes that were not stored (and a
  // size that counted them); both go, so the next read asks and gets EIO there (Unstored).
  opts.writeback.onFailed((ino) => {
    core.extents.invalidate(ino);
    forgetAttr(core, ino);
    void core.invalidateNode(ino);
  });
  const cred = (ctx: OpContext) => creds.cred(ctx);
  const ino: InoVfs = {
    lookup: async (ctx, parent, name) => byIno.lookup(core, await cred(ctx), parent, name),
    forget: (i, n) => byIno.forget(core, i, n),
    entered: (attrs) => { for (const a of attrs) byIno.entered(core, a); },
    getattr: async (ctx, i) => byIno.getattr(core, await cred(ctx), i),
    attrCurrent: (a) => attrCurrent(core, a),
    setattr: async (ctx, i, set, fh) => byIno.setattr(core, await cred(ctx), i, set, fh),
    readlink: async (ctx, i) => names.readlinkIno(core, await cred(ctx), i),
    mkdir: async (ctx, parent, name, mode) => byIno.mkdir(core, await cred(ctx), parent, name, mode),
    mknod: async (ctx, parent, name, mode, rdev) => byIno.mknod(core, await cred(ctx), parent, name, mode, rdev),
    symlink: async (ctx, target, parent, name) => byIno.symlink(core, await cred(ctx), target, parent, name),
    link: async (ctx, i, newParent, newName) => byIno.link(core, await cred(ctx), i, newParent, newName),
    unlink: async (ctx, parent, name) => byIno.unlink(core, await cred(ctx), parent, name),
    rmdir: async (ctx, parent, name) => byIno.rmdir(core, await cred(ctx), parent, name),
    rename: async (ctx, parent, name, newParent, newName) => byIno.rename(core, await cred(ctx), parent, name, newParent, newName),
    open: async (ctx, i, flags) => byIno.open(core, await cred(ctx), i, flags),
    create: async (ctx, parent, name, mode, flags) => byIno.create(core, await cred(ctx), parent, name, mode, flags),
    readdir: async (ctx, i, cookie, max, plus) => byIno.readdir(core, await cred(ctx), i, cookie, max, plus),
    access: async (ctx, i, mask) => names.accessIno(core, await cred(ctx), i, mask),
    setxattr: async (ctx, i, name, value, flags) => { const c = await cred(ctx); await core.dirLeases.changing([i], () => names.setxattrIno(core, c, i, name, value, flags)); },
    getxattr: async (ctx, i, name) => names.getxattrIno(core, await cred(ctx), i, name),
    listxattr: async (ctx, i) => names.listxattrIno(core, await cred(ctx), i),
    removexattr: async (ctx, i, name) => { const c = await cred(ctx); await core.dirLeases.changing([i], () => names.removexattrIno(core, c, i, name)); },
  };
  return {
    ino,
    dirLeases: core.dirLeases,
    getattr: (ctx, path) => names.getattr(core, ctx, path),
    fgetattr: (fh) => data.fgetattr(core, fh),
    access: (ctx, path, mask) => names.access(core, ctx, path, mask),
    statfs: () => names.statfs(core),
    opendir: (ctx, path) => names.opendir(core, ctx, path),
    readdir: (ctx, path) => names.readdir(core, ctx, path),
    mkdir: (ctx, path, mode) => names.mkdir(core, ctx, path, mode),
    mknod: (ctx, path, mode, rdev) => names.mknod(core, ctx, path, mode, rdev),
    rmdir: (ctx, path) => names.rmdir(core, ctx, path),
    symlink: (ctx, target, path) => names.symlink(core, ctx, target, path),
    readlink: (ctx, path) => names.readlink(core, ctx, path),
    link: (ctx, from, to) => names.link(core, ctx, from, to),
    unlink: (ctx, path) => names.unlink(core, ctx, path),
    rename: (ctx, from, to) => names.rename(core, ctx, from, to),
    chmod: (ctx, path, mode) => names.chmod(core, ctx, path, mode),
    chown: (ctx, path, uid, gid) => names.chown(core, ctx, path, uid, gid),
    utimens: (ctx, path, atime, mtime) => names.utimens(core, ctx, path, atime, mtime),
    truncate: (ctx, path, size) => data.truncatePath(core, ctx, path, size),
    ftruncate: (ctx, fh, size) => data.ftruncateFile(core, ctx, fh, size),
    create: (ctx, path, mode, flags) => data.createFile(core, ctx, path, mode, flags),
    open: (ctx, path, flags) => data.openFile(core, ctx, path, flags),
    read: (fh, offset, length, dest) => data.readFile(core, fh, offset, length, dest),
    write: (fh, offset, buf) => data.writeFile(core, fh, offset, buf),
    flush: (fh) => data.flushFile(core, fh),
    fsync: (fh) => data.fsyncFile(core, fh),
    release: (fh) => data.releaseFile(core, fh),
    setxattr: (ctx, path, name, value, flags) => names.setxattr(core, ctx, path, name, value, flags),
    getxattr: (ctx, path, name) => names.getxattr(core, ctx, path, name),
    listxattr: (ctx, path) => names.listxattr(core, ctx, path),
    removexattr: (ctx, path, name) => names.removexattr(core, ctx, path, name),
    getLock: (fh, owner, q) => locks.getLock(lockIno(fh, false)!, owner, q),
    async setLock(fh, owner, req) {
      const ino = lockIno(fh, req.closing);
      if (ino !== undefined) await locks.posix(ino, owner, req);
    },
    async flock(fh, owner, req) {
      const ino = lockIno(fh, req.closing);
      if (ino !== undefined) await locks.flock(ino, owner, req);
    },
    async closeLocks(fh, owner, kind) {
      const i = lockIno(fh, true);
      if (i === undefined || !locks.has(i, owner, kind)) return;
      const req: SetLockRequest = { type: 'unlock', start: 0, end: -1, wait: false, pid: 0, closing: true, signal: new AbortController().signal };
      await (kind === 'posix' ? locks.posix(i, owner, req) : locks.flock(i, owner, req));
    },
    flushAll: () => opts.writeback.flushAll(),
    leaseDropped: (ino) => leaseDropped(core, ino),
    mountLost: () => {
      locks.reset();
      mountLost(core);
    },
    lockClaims: () => locks.claims(),
    stats: () => ({ openHandles: core.handles.size(), cachedPaths: core.paths.size(), cachedExtents: core.extents.entries(), kernelNodes: core.nodes.size() }),
  };
}
