/**
 * How the VFS uses leases (docs/LEASES.md §1, docs/AGENT.md): operations run under a guard of
 * the inode (withLease); what they cache is tagged with the lease's epoch and trusted only
 * while the same lease is held (sizeUnder); when a lease is released the inode's caches go and
 * the kernel is told (leaseDropped); when the mount is lost everything goes (mountLost) and
 * handles are opened again on their next use (reopen).
 */
import { errorCode, FsError } from '../../common/errors/index.js';
import { O_CREAT, O_EXCL, O_TRUNC, S_IFDIR, S_IFMT, S_IFREG, type Attr, type Cred, type Ino } from '../../common/protocol/index.js';
import type { LeaseMode } from '../lease/index.js';
import { cachedAttr, forgetAttr, forgetNoCapability, noteAttr, withLocalWrites, type Core } from './core.js';
import type { Handle } from './handles.js';

const INO_PATHS_MAX = 100_000;

export function isRegular(attr: Attr): boolean {
  return (attr.mode & S_IFMT) === S_IFREG;
}

export function isDirectory(attr: Attr): boolean {
  return (attr.mode & S_IFMT) === S_IFDIR;
}

/**
 * Runs fn under a guard of ino; fn gets the lease's epoch. An inode the server does not lease
 * (EINVAL: not a regular file) runs without one (epoch undefined).
 */
export async function withLease<T>(core: Core, ino: Ino, mode: LeaseMode, fn: (epoch: number | undefined) => Promise<T>): Promise<T> {
  let guard;
  try {
    guard = mode === 'shared' ? await core.leases.acquireShared(ino) : await core.leases.acquireExclusive(ino);
  } catch (err) {
    if (errorCode(err) !== 'EINVAL') throw err;
    return fn(undefined);
  }
  try {
    return await fn(guard.epoch);
  } finally {
    guard.release();
  }
}

/** Throws EIO when the lease the operation runs under was lost (the mount was evicted meanwhile). */
export function checkLease(core: Core, ino: Ino, epoch: number | undefined): void {
  if (epoch !== undefined && core.leases.epoch(ino) !== epoch) {
    throw new FsError('EIO', `inode ${ino}: the lease was lost (the mount was evicted)`);
  }
}

/** Makes core.serverSize of ino (an open file) valid under the lease `epoch`: kept, or asked again. */
export async function sizeUnder(core: Core, ino: Ino, epoch: number | undefined): Promise<void> {
  if (epoch === undefined || core.sizeEpoch.get(ino) === epoch) return;
  noteAttr(core, await core.client.call('GetAttr', { cred: core.creds.own(), ino }), epoch);
}

/** Remembers that ino is a regular file (a lease can be asked for before looking it up again). */
export function noteFile(core: Core, ino: Ino): void {
  if (core.fileInos.size >= INO_PATHS_MAX) core.fileInos.clear();
  core.fileInos.add(ino);
}

/** Remembers a path of ino, so the kernel can be told when its lease goes. */
export function notePath(core: Core, ino: Ino, path: string): void {
  core.inoPaths.delete(ino);
  core.inoPaths.set(ino, path);
  if (core.inoPaths.size > INO_PATHS_MAX) core.inoPaths.delete(core.inoPaths.keys().next().value!);
}

/**
 * The lease of ino is being released: its caches go, and the kernel's pages and attributes of
 * it (the path-based session: of a file open here; the kernel drops the pages of a file that is
 * not open at its next open, as no open keeps the cache). Resolves when the
 * kernel is done (the lease manager bounds its wait, and never waits while an operation on the
 * inode does: docs/FUSE-BINDING.md §6.4).
 */
export function leaseDropped(core: Core, ino: Ino): Promise<unknown> {
  dropCaches(core, ino);
  return core.invalidateNode(ino);
}

/** What this agent caches of ino under its lease: extent map, size epoch, attributes, capability absence. */
function dropCaches(core: Core, ino: Ino): void {
  core.extents.invalidate(ino);
  forgetAttr(core, ino);
  core.sizeEpoch.delete(ino);
  forgetNoCapability(core, ino);
}

/**
 * A regular file's attributes under the lease `epoch` held by the caller's guard: the cached ones
 * (core.attrs), or asked and cached; this agent's unflushed writes laid over either way.
 */
export async function attrUnder(core: Core, cred: Cred, ino: Ino, epoch: number | undefined): Promise<Attr> {
  const cached = cachedAttr(core, ino, epoch);
  return cached ? withLocalWrites(core, cached) : noteAttr(core, await core.client.call('GetAttr', { cred, ino }), epoch);
}

/** The mount was lost (evicted): every cache goes, the kernel's too. Handles re-open lazily. */
export function mountLost(core: Core): void {
  core.extents.clear();
  forgetAttr(core);
  core.paths.clear();
  core.sizeEpoch.clear();
  forgetNoCapability(core);
  core.fileInos.clear();
  core.invalidateAll();
  void core.dirLeases.dropAll();
}

/** A handle opened under an older mount is opened again under the current one (without O_TRUNC/O_CREAT/O_EXCL). */
export async function reopen(core: Core, h: Handle): Promise<void> {
  if (h.generation === core.client.generation) return;
  h.reopening ??= (async () => {
    const generation = core.client.generation;
    const attr = await core.client.call('Open', { cred: h.cred, ino: h.ino, flags: h.flags & ~(O_TRUNC | O_CREAT | O_EXCL) });
    h.generation = generation;
    noteAttr(core, attr);
  })().finally(() => { h.reopening = undefined; });
  await h.reopening;
}

/**
 * Makes a namespace change that proxyfsd refuses with PFS_ERR_LEASE_CONFLICT while another mount
 * holds a lease on a regular file it changes (docs/LEASES.md §1.1). On that answer the files
 * `involved()` names are taken Exclusive, in inode order (which revokes the other mounts' leases,
 * and so their cached attributes), and the call is made again under them. The caller forgets
 * its own cached attributes of the files it changed.
 */
export async function changeFiles<T>(core: Core, call: () => Promise<T>, involved: () => Promise<Ino[]>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (errorCode(err) !== 'PFS_ERR_LEASE_CONFLICT' || attempt === CONFLICT_ATTEMPTS) throw err;
    }
    const inos = [...new Set(await involved())].sort((a, b) => a - b);
    for (const ino of inos) forgetAttr(core, ino);
    const under = (i: number): Promise<T> => (i === inos.length ? call() : withLease(core, inos[i], 'exclusive', () => under(i + 1)));
    try {
      return await under(0);
    } catch (err) {
      // The names led elsewhere by the time the call was made again: look them up once more.
      if (errorCode(err) !== 'PFS_ERR_LEASE_CONFLICT') throw err;
    }
  }
}
const CONFLICT_ATTEMPTS = 3;

/** The regular file `name` in `parent` names, for changeFiles (none when there is none). */
export async function fileAt(core: Core, cred: Cred, parent: Ino, name: string): Promise<Ino[]> {
  try {
    const attr = await core.client.call('Lookup', { cred, parent, name });
    return isRegular(attr) ? [attr.ino] : [];
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/**
 * What a change gave back (Unlink, Rename): the files' cached attributes go; a file it destroyed
 * takes its lease and caches with it (the server dropped the lease; nothing is left to flush).
 */
export function changed(core: Core, r: { changed?: Attr[]; gone?: Ino[] }): void {
  for (const a of r.changed ?? []) forgetAttr(core, a.ino);
  for (const ino of r.gone ?? []) {
    if (core.writeback.dirtyEnd(ino) === 0 && core.handles.openCount(ino) === 0 && core.leases.gone(ino)) dropCaches(core, ino);
  }
}
