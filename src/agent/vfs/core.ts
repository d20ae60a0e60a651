/**
 * State shared by the VFS operations: clients, caches, handles, and the helpers every op
 * uses (path resolution, attribute overlay of this agent's unflushed writes).
 */
import { FsError } from '../../common/errors/index.js';
import { ROOT_INO, S_IFMT, S_IFREG, type Attr, type Cred, type Ino, type Timespec } from '../../common/protocol/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { VolumeClient } from '../volume-client/index.js';
import type { ReadCache } from '../readcache/index.js';
import type { Writeback } from '../writeback/index.js';
import type { CredSource, OpContext } from './creds.js';
import type { PathCache } from './path-cache.js';
import type { ExtentCache } from './extent-cache.js';
import type { Handles } from './handles.js';
import type { Nodes } from './nodes.js';
import type { LeaseManager } from '../lease/index.js';
import type { DirLeases } from '../lease/dir-leases.js';

export interface VfsSettings {
  readdirMaxEntries: number;
  readAheadBytes: number;
  xattrEnabled: boolean;
}

export interface Core {
  client: VolumeClient;
  readCache: ReadCache;
  writeback: Writeback;
  creds: CredSource;
  paths: PathCache;
  extents: ExtentCache;
  handles: Handles;
  log: Logger;
  clock: Clock;
  settings: VfsSettings;
  leases: LeaseManager;
  /** Directory leases (docs/LEASES.md §5; used by the inode-based session only). */
  dirLeases: DirLeases;
  /** The kernel's nodes (inode-based session; empty under the path-based one). */
  nodes: Nodes;
  /**
   * Tells the kernel to drop its attributes and pages of ino (when it may hold any); resolves
   * when done, never rejects. The path-based session reaches the node by the latest path seen.
   */
  invalidateNode: (ino: Ino) => Promise<unknown>;
  /** Tells the kernel to drop everything it caches of this mount (names too); never rejects. */
  invalidateAll: () => void;
  /** Server-side size of inodes with open handles, from the latest attributes seen. */
  serverSize: Map<Ino, number>;
  /** The lease epoch under which serverSize of an inode was seen; a size without one (or of another epoch) is asked again. */
  sizeEpoch: Map<Ino, number>;
  /** The latest path each leased inode was reached by, for the kernel invalidation (advisory: renames elsewhere make it stale). */
  inoPaths: Map<Ino, string>;
  /** Inodes seen to be regular files (bounded; advisory: a wrong entry costs one refused Lease call). */
  fileInos: Set<Ino>;
  /**
   * Inodes known to have no security.capability xattr: while the lease `epoch` is held (another
   * agent's setxattr takes Exclusive and so revokes it), or, without a lease, until `untilMs`.
   * The kernel asks for it before every write(2) (to drop file capabilities on modification);
   * answering from here saves one RPC per write call. See docs/SEMANTICS.md.
   */
  noCapability: Map<Ino, { untilMs: number; epoch?: number }>;
  /**
   * Called whenever a noCapability entry goes: the FUSE binding then forgets the ENODATA answers
   * it gives the kernel itself (those marked absentKnown: lease-backed ones). forgetNoCapability().
   */
  capabilityForgotten: (ino?: Ino) => void;
  /** Per inode, the tail of the queue of O_APPEND writes (each takes its offset in turn). */
  appendQueue: Map<Ino, Promise<unknown>>;
  /**
   * A regular file's attributes as the server last gave them under the lease `epoch`: current
   * while that lease is held, as no other mount may change the file meanwhile (proxyfsd refuses
   * it, PFS_ERR_LEASE_CONFLICT: docs/LEASES.md §1.1), and this agent forgets them whenever it
   * changes the file itself without getting them back (forgetAttr). Bounded by ATTRS_MAX.
   */
  attrs: Map<Ino, { attr: Attr; epoch: number }>;
}

/** The epoch of the lease held on ino: a file lease, or a directory lease (negative). */
export function heldEpoch(core: Core, ino: Ino): number | undefined {
  return core.leases.heldEpoch(ino) ?? core.dirLeases.epoch(ino);
}

/** Forgets the cached attributes of a directory (kept under its directory lease: negative epochs). */
export function forgetDirAttr(core: Core, ino: Ino): void {
  const c = core.attrs.get(ino);
  if (c && c.epoch < 0) core.attrs.delete(ino);
}

const ATTRS_MAX = 100_000;

/** Keeps the attributes of a regular file fetched under the lease `epoch` (cachedAttr). */
export function cacheAttr(core: Core, attr: Attr, epoch: number): void {
  core.attrs.delete(attr.ino);
  core.attrs.set(attr.ino, { attr, epoch });
  if (core.attrs.size > ATTRS_MAX) core.attrs.delete(core.attrs.keys().next().value!);
}

/** The cached attributes of ino when they were fetched under the lease held now (`epoch`). */
export function cachedAttr(core: Core, ino: Ino, epoch: number | undefined): Attr | undefined {
  const c = core.attrs.get(ino);
  return c && epoch !== undefined && c.epoch === epoch ? c.attr : undefined;
}

/**
 * Are these the attributes of a regular file (or a directory) as they stand under the lease (or
 * directory lease) held now? Then the kernel may keep them until the lease goes (leaseDropped,
 * or the directory lease's break, tells it).
 */
export function attrCurrent(core: Core, attr: Attr): boolean {
  const c = cachedAttr(core, attr.ino, heldEpoch(core, attr.ino));
  if (!c) return false;
  const w = withLocalWrites(core, c);
  const same = (x: Timespec, y: Timespec) => x.sec === y.sec && x.nsec === y.nsec;
  return w.mode === attr.mode && w.nlink === attr.nlink && w.uid === attr.uid && w.gid === attr.gid && w.size === attr.size &&
    w.blocks === attr.blocks && w.rdev === attr.rdev && same(w.atime, attr.atime) && same(w.mtime, attr.mtime) && same(w.ctime, attr.ctime);
}

/** This agent changed ino (or lost its lease) without new attributes: they are asked again. */
export function forgetAttr(core: Core, ino?: Ino): void {
  if (ino === undefined) core.attrs.clear();
  else core.attrs.delete(ino);
}

export const CAPABILITY_XATTR = 'security.capability';

/** Forgets that ino (every inode when omitted) has no security.capability, here and in the binding. */
export function forgetNoCapability(core: Core, ino?: Ino): void {
  if (ino === undefined) core.noCapability.clear();
  else core.noCapability.delete(ino);
  core.capabilityForgotten(ino);
}
export const NO_CAPABILITY_TTL_MS = 1000;

export function splitPath(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  if (i < 0 || path === '/') throw new FsError('EINVAL', `bad path ${JSON.stringify(path)}`);
  return { parent: i === 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}

export async function credOf(core: Core, ctx: OpContext): Promise<Cred> {
  return core.creds.cred(ctx);
}

/** The inode at path, from the path cache or by looking up each missing component. */
export async function resolve(core: Core, cred: Cred, path: string): Promise<Ino> {
  if (path === '/' || path === '') return ROOT_INO;
  const cached = core.paths.get(path);
  if (cached !== undefined) return cached;
  const attr = await lookupPath(core, cred, path);
  return attr.ino;
}

/** Fresh attributes of the entry at path (one Lookup of its last component). */
export async function lookupPath(core: Core, cred: Cred, path: string): Promise<Attr> {
  return (await lookupLeased(core, cred, path)).attr;
}

/**
 * lookupPath, and the lease epoch the attributes are valid under: the epoch of a lease held
 * (on the inode the path cache named) from before the Lookup was sent until its answer.
 */
export async function lookupLeased(core: Core, cred: Cred, path: string): Promise<{ attr: Attr; epoch?: number }> {
  if (path === '/' || path === '') return { attr: noteAttr(core, await core.client.call('GetAttr', { cred, ino: ROOT_INO })) };
  const { parent, name } = splitPath(path);
  const parentIno = await resolve(core, cred, parent);
  const known = core.paths.peek(path);
  const before = known === undefined ? undefined : core.leases.heldEpoch(known);
  try {
    const attr = await core.client.call('Lookup', { cred, parent: parentIno, name });
    core.paths.set(path, attr.ino);
    const epoch = before !== undefined && attr.ino === known && core.leases.heldEpoch(known) === before ? before : undefined;
    return { attr: noteAttr(core, attr, epoch), epoch };
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') core.paths.remove(path);
    throw err;
  }
}

/**
 * Records what the server said about an inode and returns it with this agent's unflushed writes
 * laid over. epoch: the lease the attributes were fetched under (undefined: not known to be current).
 */
export function noteAttr(core: Core, attr: Attr, epoch?: number): Attr {
  if (epoch !== undefined && (attr.mode & S_IFMT) === S_IFREG) cacheAttr(core, attr, epoch);
  if (core.serverSize.has(attr.ino)) {
    core.serverSize.set(attr.ino, attr.size);
    if (epoch !== undefined) core.sizeEpoch.set(attr.ino, epoch);
    else core.sizeEpoch.delete(attr.ino);
  }
  return withLocalWrites(core, attr);
}

export function withLocalWrites(core: Core, attr: Attr): Attr {
  const end = core.writeback.dirtyEnd(attr.ino);
  const mtime = core.writeback.dirtyMtime(attr.ino);
  if (end <= attr.size && !mtime) return attr;
  const size = Math.max(attr.size, end);
  return { ...attr, size, blocks: Math.max(attr.blocks, Math.ceil(size / 512)), ...(mtime ? { mtime, ctime: mtime } : {}) };
}

/** Size applications see: the server's, or further out if this agent has unflushed writes there. */
export function localSize(core: Core, ino: Ino): number {
  return Math.max(core.serverSize.get(ino) ?? 0, core.writeback.dirtyEnd(ino));
}
