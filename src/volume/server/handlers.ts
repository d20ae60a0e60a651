/**
 * The volume server's RPC methods: thin adapters from validated parameters to the namespace
 * and extent-map modules. Each runs synchronously inside the batch transaction of its volume.
 * Lease and Lock, which may wait, are in coordination.ts.
 */
import { errorCode, FsError, isFsErrorCode, PfsError } from '../../common/errors/index.js';
import { O_TRUNC, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, type Attr, type Ino, type Method, type Params, type Result } from '../../common/protocol/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { Mounts } from './mounts.js';
import type { MountTokens } from './mount-tokens.js';
import type { BlockingMethod } from './coordination.js';
import type { Volume } from './volume.js';

export interface CallContext {
  clientId: string;
  /** The authenticated peer that sent the call (common/rpc peer.ts). */
  peer: string;
  /** [RPCServer] ReplyCacheTTL: how long a reply is kept for a resend. */
  replyCacheTtlMs: number;
  volume: Volume;
  mounts: Mounts;
  tokens: MountTokens;
  clock: Clock;
  /**
   * Directories this call changed (names or attributes): the dispatcher breaks the other mounts'
   * directory leases on them before it answers (docs/LEASES.md §5). Handlers add to it.
   */
  changedDirs: Ino[];
}

type Handler<M extends Method> = (p: Params<M>, ctx: CallContext) => Result<M>;
/** Answered by the dispatcher itself, outside any transaction (dispatcher.ts). */
export type ServedApart = 'Ping' | 'DescribeVolume' | 'RenewMount';
type Handlers = { [M in Exclude<Method, ServedApart | BlockingMethod>]: Handler<M> };

const empty = {} as Record<string, never>;

function regularFile(ctx: CallContext, ino: number) {
  const attr = ctx.volume.ns.getattr(ino);
  if ((attr.mode & S_IFMT) !== S_IFREG) throw new FsError('EINVAL', `inode ${ino} is not a regular file`);
  return attr;
}

/** The attributes get() answers, or undefined when it answers a POSIX error (no such name or inode, no search permission). */
function ifThere(get: () => Attr): Attr | undefined {
  try {
    return get();
  } catch (err) {
    if (isFsErrorCode(errorCode(err))) return undefined;
    throw err;
  }
}

/** The attributes of `name` in `parent` as the caller may see them, or undefined (the change itself then answers). */
const child = (ctx: CallContext, cred: Params<'Lookup'>['cred'], parent: Ino, name: string) => ifThere(() => ctx.volume.ns.lookup(cred, parent, name));
/** The attributes of inode `ino`, or undefined when it is gone. */
const byIno = (ctx: CallContext, ino: Ino) => ifThere(() => ctx.volume.ns.getattr(ino));

const isDir = (attr: Attr | undefined): boolean => attr !== undefined && (attr.mode & S_IFMT) === S_IFDIR;

/** The call changes these inodes; those that are directories are named in ctx.changedDirs. */
function dirsChanged(ctx: CallContext, ...attrs: (Attr | undefined)[]): void {
  for (const a of attrs) if (isDir(a)) ctx.changedDirs.push(a!.ino);
}
/**
 * A change of names in `parent` by this call: the directory leases on it break (the dispatcher),
 * and with `lease` the result carries the parent's attributes after the change (parentAttr).
 */
function namesChanged<T extends object>(ctx: CallContext, parent: Ino, lease: boolean | undefined, result: T): T & { parentAttr?: Attr } {
  ctx.changedDirs.push(parent);
  return lease ? { ...result, parentAttr: ctx.volume.ns.getattr(parent) } : result;
}

/**
 * A lease on `ino` granted with another call (Create, Lookup) when it can be at once: the mode
 * granted (`want` or stronger), or undefined. Never during a reclaim period, when unclaimed
 * leases of other mounts may still exist.
 */
function grantAtOnce(ctx: CallContext, mountId: string, ino: Ino, want: 'shared' | 'exclusive'): 'shared' | 'exclusive' | undefined {
  const { leases, reclaim } = ctx.volume;
  if (reclaim.ended() !== undefined || !leases.grantIfFree(mountId, ino, want)) return undefined;
  reclaim.acquiring(ino);
  return leases.modeOf(mountId, ino);
}

/**
 * A regular file changes only under its Exclusive lease or while no other mount holds a lease
 * on it (docs/LEASES.md §1.1): a holder caches its attributes, and lets the kernel cache them,
 * until the lease goes. During the reclaim period any mount may still reclaim one, so only
 * the Exclusive holder may change it. Refused with PFS_ERR_LEASE_CONFLICT before anything
 * changes; the agent takes the file Exclusive (which revokes the other leases) and calls again.
 * Returns the inodes it checked, for their attributes after the change.
 */
function changing(ctx: CallContext, mountId: string, ...files: (Attr | undefined)[]): Ino[] {
  const inos: Ino[] = [];
  const { leases, reclaim } = ctx.volume;
  for (const attr of files) {
    if (!attr || (attr.mode & S_IFMT) !== S_IFREG) continue;
    const mine = leases.modeOf(mountId, attr.ino);
    if (mine !== 'exclusive' && (leases.heldByOthers(mountId, attr.ino) || reclaim.reclaiming)) {
      throw new PfsError('PFS_ERR_LEASE_CONFLICT', `inode ${attr.ino}: another mount may hold a lease on it; take it Exclusive and call again`);
    }
    reclaim.acquiring(attr.ino); // a mount late to reclaim may no longer claim it (its view is older)
    inos.push(attr.ino);
  }
  return inos;
}

/**
 * After a change of the inodes `changing` checked: the attributes of those still there, and
 * those it destroyed (their leases go with them: LeaseManager.forgetInode).
 */
function after(ctx: CallContext, inos: Ino[]): { changed: Attr[]; gone: Ino[] } {
  const out = { changed: [] as Attr[], gone: [] as Ino[] };
  for (const ino of inos) {
    const attr = byIno(ctx, ino);
    if (attr) {
      out.changed.push(attr);
    } else {
      out.gone.push(ino);
      ctx.volume.leases.forgetInode(ino);
    }
  }
  return out;
}

export const handlers: Handlers = {
  // The token was admitted before (dispatcher.ts); it is recorded once the mount exists.
  Mount: (_p, ctx) => {
    const period = ctx.tokens.periodMs(ctx.volume);
    return {
      mountId: ctx.mounts.add(ctx.volume, ctx.clientId, ctx.peer),
      rootIno: ROOT_INO,
      objectStoreUrl: ctx.volume.settings.objectStoreUrl,
      checksumBlockSizeBytes: Number(ctx.volume.md.getMeta('checksum_block_size') ?? 65536),
      provisionedObjectTtlMs: ctx.volume.settings.provisionedObjectTtlMs,
      replyCacheTtlMs: ctx.replyCacheTtlMs,
      ...(period !== undefined ? { authTokenCheckPeriodMs: period } : {}),
    };
  },
  Unmount: (p, ctx) => { ctx.mounts.remove(p.mountId); return empty; },

  // With lease: a regular file comes with a Shared lease (Exclusive when nobody else holds or
  // waits) if it can be granted at once, so the caller may keep its attributes (LEASES.md §1.1)
  // without a Lease and a GetAttr after.
  // A directory comes with a directory lease, and the name with one on the parent (docs/LEASES.md §5).
  Lookup: (p, ctx) => {
    const attr = ctx.volume.ns.lookup(p.cred, p.parent, p.name);
    if (!p.lease) return attr;
    const { dirLeases } = ctx.volume;
    const out = dirLeases.grant(p.mountId, p.parent) ? { ...attr, parentLeased: true } : attr;
    const leased = isDir(attr) ? (dirLeases.grant(p.mountId, attr.ino) ? 'shared' : undefined)
      : (attr.mode & S_IFMT) === S_IFREG ? grantAtOnce(ctx, p.mountId, attr.ino, 'shared') : undefined;
    return leased ? { ...out, leased } : out;
  },
  GetAttr: (p, ctx) => {
    const attr = ctx.volume.ns.getattr(p.ino);
    return p.lease && isDir(attr) && ctx.volume.dirLeases.grant(p.mountId, attr.ino) ? { ...attr, leased: 'shared' as const } : attr;
  },
  SetAttr: ({ mountId, ...p }, ctx) => {
    const before = byIno(ctx, p.ino);
    changing(ctx, mountId, before);
    dirsChanged(ctx, before);
    return ctx.volume.ns.setattr(p);
  },
  Access: (p, ctx) => { ctx.volume.ns.access(p.cred, p.ino, p.mask); return empty; },

  // With lease: the new file comes with an Exclusive lease (one call instead of Create + Lease).
  Create: (p, ctx) => {
    if (p.flags & O_TRUNC) changing(ctx, p.mountId, child(ctx, p.cred, p.parent, p.name));
    const attr = ctx.volume.ns.create(p.mountId, p.cred, p.parent, p.name, p.mode, p.umask, p.flags);
    return namesChanged(ctx, p.parent, p.lease, p.lease ? { ...attr, leased: grantAtOnce(ctx, p.mountId, attr.ino, 'exclusive') !== undefined } : attr);
  },
  Mknod: (p, ctx) => namesChanged(ctx, p.parent, p.lease, ctx.volume.ns.mknod(p.cred, p.parent, p.name, p.mode, p.umask, p.rdev)),
  // With lease, the maker holds the new directory's lease: nobody else can know it yet.
  Mkdir: (p, ctx) => {
    const attr = ctx.volume.ns.mkdir(p.cred, p.parent, p.name, p.mode, p.umask);
    const leased = p.lease && ctx.volume.dirLeases.grant(p.mountId, attr.ino) ? { leased: 'shared' as const } : {};
    return namesChanged(ctx, p.parent, p.lease, { ...attr, ...leased });
  },
  Symlink: (p, ctx) => namesChanged(ctx, p.parent, p.lease, ctx.volume.ns.symlink(p.cred, p.parent, p.name, p.target)),
  Readlink: (p, ctx) => ({ target: ctx.volume.ns.readlink(p.ino) }),
  Link: (p, ctx) => {
    changing(ctx, p.mountId, byIno(ctx, p.ino));
    return namesChanged(ctx, p.newParent, p.lease, ctx.volume.ns.link(p.cred, p.ino, p.newParent, p.newName));
  },
  // The files' attributes after the change go back: the caller may cache them (it may hold leases).
  Unlink: (p, ctx) => {
    const inos = changing(ctx, p.mountId, child(ctx, p.cred, p.parent, p.name));
    ctx.volume.ns.unlink(p.cred, p.parent, p.name);
    return namesChanged(ctx, p.parent, p.lease, after(ctx, inos));
  },
  // The removed directory: the caller's own lease on it goes (the others' break, as for any change).
  Rmdir: (p, ctx) => {
    const removed = child(ctx, p.cred, p.parent, p.name);
    ctx.volume.ns.rmdir(p.cred, p.parent, p.name);
    const dirs = removed ? [removed.ino] : [];
    ctx.changedDirs.push(...dirs);
    for (const d of dirs) ctx.volume.dirLeases.released(p.mountId, d);
    return namesChanged(ctx, p.parent, p.lease, { dirs });
  },
  // A directory moved or replaced changes too (its '..', its ctime, its link count).
  Rename: (p, ctx) => {
    const from = child(ctx, p.cred, p.parent, p.name);
    const to = child(ctx, p.cred, p.newParent, p.newName);
    const inos = changing(ctx, p.mountId, from, to);
    ctx.volume.ns.rename(p.cred, p.parent, p.name, p.newParent, p.newName, p.flags);
    const dirs = [from, to].filter(isDir).map((a) => a!.ino);
    ctx.changedDirs.push(p.parent, p.newParent, ...dirs);
    return { ...after(ctx, inos), dirs };
  },

  Open: (p, ctx) => {
    if (p.flags & O_TRUNC) changing(ctx, p.mountId, byIno(ctx, p.ino));
    return ctx.volume.ns.open(p.mountId, p.cred, p.ino, p.flags);
  },
  Release: (p, ctx) => {
    ctx.volume.ns.release(p.mountId, p.ino);
    if (!byIno(ctx, p.ino)) ctx.volume.leases.forgetInode(p.ino); // the last close of an unlinked file
    return empty;
  },
  ReadDir: (p, ctx) => ctx.volume.ns.readdir(p.cred, p.ino, p.cookie, p.maxEntries, p.plus),
  StatVfs: (_p, ctx) => ctx.volume.ns.statvfs(),

  SetXattr: (p, ctx) => {
    const before = byIno(ctx, p.ino);
    changing(ctx, p.mountId, before);
    dirsChanged(ctx, before);
    ctx.volume.ns.setxattr(p.cred, p.ino, p.name, Buffer.from(p.value, 'base64'), p.flags);
    return empty;
  },
  GetXattr: (p, ctx) => ({ value: ctx.volume.ns.getxattr(p.cred, p.ino, p.name).toString('base64') }),
  ListXattr: (p, ctx) => ({ names: ctx.volume.ns.listxattr(p.cred, p.ino) }),
  RemoveXattr: (p, ctx) => {
    const before = byIno(ctx, p.ino);
    changing(ctx, p.mountId, before);
    dirsChanged(ctx, before);
    ctx.volume.ns.removexattr(p.cred, p.ino, p.name);
    return empty;
  },

  FetchExtentMapChunk: (p, ctx) => {
    const attr = regularFile(ctx, p.ino);
    ctx.volume.ns.requireOpen(p.mountId, p.ino);
    if (p.maxEntriesFrom < 1) throw new FsError('EINVAL', 'maxEntriesFrom must be at least 1');
    return ctx.volume.extents.fetchChunk(p.ino, attr.size, p.fileOffset, p.maxEntriesFrom, p.maxEntriesBefore);
  },
  ProvisionObject: (p, ctx) => {
    return { objects: ctx.volume.extents.provision(p.count, p.mountId) };
  },
  Wrote: (p, ctx) => {
    regularFile(ctx, p.ino);
    ctx.volume.ns.requireOpen(p.mountId, p.ino);
    const usedBefore = ctx.volume.extents.usedBytes();
    const end = ctx.volume.extents.wrote(p.ino, p.object, p.extents, p.mountId);
    // Past Capacity only if it grew the volume (the handler's savepoint undoes the patch).
    const cap = ctx.volume.settings.capacityBytes;
    const used = ctx.volume.extents.usedBytes();
    if (cap && used > cap && used > usedBefore) throw new FsError('ENOSPC', `volume ${ctx.volume.name} is full: this write-back would take it to ${used} bytes, past its Capacity of ${cap}`);
    return ctx.volume.ns.noteWrite(p.ino, end, p.mtime);
  },
  Unstored: (p, ctx) => {
    const attr = regularFile(ctx, p.ino);
    ctx.volume.ns.requireOpen(p.mountId, p.ino);
    ctx.volume.extents.unstored(p.ino, p.ranges);
    return attr;
  },

};
