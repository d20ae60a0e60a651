/**
 * Namespace operations through the path cache: each resolves parents from the cache (or by
 * lookups), calls the volume server, then keeps the cache exact.
 */
import { FsError } from '../../common/errors/index.js';
import { type Attr, type Cred, type DirEntry, type Ino, type StatVfs, type Timespec } from '../../common/protocol/index.js';
import { CAPABILITY_XATTR, NO_CAPABILITY_TTL_MS, credOf, forgetAttr, forgetNoCapability, lookupLeased, lookupPath, noteAttr, resolve, splitPath, type Core } from './core.js';
import type { OpContext } from './creds.js';
import { changed, changeFiles, fileAt, isRegular, noteFile, notePath, withLease } from './leased.js';

async function parentOf(core: Core, ctx: OpContext, path: string) {
  const cred = await credOf(core, ctx);
  const { parent, name } = splitPath(path);
  return { cred, parent: await resolve(core, cred, parent), name };
}

/**
 * Writes still buffered for an inode about to lose a name are flushed first, so they are not
 * reported for a destroyed inode. peek: an entry too old to resolve by still names the inode
 * this agent wrote through that name (flushing another inode's writes early is harmless).
 */
async function settle(core: Core, path: string): Promise<void> {
  const ino = core.paths.peek(path);
  if (ino !== undefined && core.writeback.dirtyEnd(ino) > 0 && core.handles.openCount(ino) === 0) {
    await core.writeback.flush(ino).catch(() => undefined);
  }
}

/**
 * A regular file's attributes are valid under a Shared lease: when the Lookup was not answered
 * under the lease held now, they are asked again under it (after another agent holding it
 * Exclusive has written its buffered data back).
 */
export async function getattr(core: Core, ctx: OpContext, path: string): Promise<Attr> {
  const cred = await credOf(core, ctx);
  const known = core.paths.peek(path);
  if (known !== undefined && core.fileInos.has(known) && core.leases.heldEpoch(known) === undefined) {
    // A file seen before whose lease was given up: lease first, then the Lookup answer is
    // current as it is (no GetAttr after it), unless the name now leads elsewhere.
    const r = await withLease(core, known, 'shared', async (held) => {
      const { attr, epoch } = await lookupLeased(core, cred, path);
      return { attr, current: held === undefined || !isRegular(attr) || (attr.ino === known && epoch === held) };
    }).catch((err) => {
      // The inode is gone (another agent replaced or removed the file): look the name up afresh.
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
      core.fileInos.delete(known);
      return { attr: undefined, current: false };
    });
    if (r.current && r.attr) return r.attr;
  }
  const { attr, epoch } = await lookupLeased(core, cred, path);
  if (!isRegular(attr)) return attr;
  noteFile(core, attr.ino);
  notePath(core, attr.ino, path);
  // Answered under a lease being released right now: current, and no guard to wait for (the
  // kernel's invalidation of this file resolves the path, and waits for this answer).
  if (epoch !== undefined && core.leases.epoch(attr.ino) !== epoch) return attr;
  return withLease(core, attr.ino, 'shared', async (held) => {
    if (held === undefined || held === epoch) return attr;
    return noteAttr(core, await core.client.call('GetAttr', { cred, ino: attr.ino }), held);
  });
}

/**
 * Runs a change of a regular file's attributes or xattrs under Exclusive (revoking other
 * agents' leases, so their caches go and their buffered writes land first). Known regular
 * files only: leased here, or a file node the kernel holds (the inode-based session's lookup
 * takes no lease), or one the path cache saw; anything else runs without a lease.
 */
function exclusiveIfFile<T>(core: Core, ino: number, fn: (epoch: number | undefined) => Promise<T>): Promise<T> {
  const file = core.leases.known(ino) || core.nodes.isFile(ino) || core.fileInos.has(ino);
  return file ? withLease(core, ino, 'exclusive', fn) : fn(undefined);
}

export async function access(core: Core, ctx: OpContext, path: string, mask: number): Promise<void> {
  const cred = await credOf(core, ctx);
  await accessIno(core, cred, await resolve(core, cred, path), mask);
}

export async function accessIno(core: Core, cred: Cred, ino: Ino, mask: number): Promise<void> {
  await core.client.call('Access', { cred, ino, mask });
}

export async function statfs(core: Core): Promise<StatVfs> {
  return core.client.call('StatVfs', {});
}

export async function opendir(core: Core, ctx: OpContext, path: string): Promise<void> {
  const attr = await lookupPath(core, await credOf(core, ctx), path);
  if ((attr.mode & 0o170000) !== 0o040000) throw new FsError('ENOTDIR', path);
}

export async function readdir(core: Core, ctx: OpContext, path: string): Promise<DirEntry[]> {
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  const all: DirEntry[] = [];
  let cookie = 0;
  for (;;) {
    const page = await readdirPage(core, cred, ino, cookie, core.settings.readdirMaxEntries, false);
    for (const e of page.entries) {
      all.push(e);
      cookie = e.cookie;
    }
    if (page.eof || page.entries.length === 0) return all;
  }
}

/** One page of a directory from after `cookie` (0: the start; '.' and '..' are cookies 1 and 2). */
export async function readdirPage(core: Core, cred: Cred, ino: Ino, cookie: number, maxEntries: number, plus: boolean): Promise<{ entries: DirEntry[]; eof: boolean }> {
  const page = await core.client.call('ReadDir', { cred, ino, cookie, maxEntries, plus });
  if (plus) for (const e of page.entries) if (e.attr) e.attr = noteAttr(core, e.attr);
  return page;
}

/** With lease (the inode-based session): the answer carries the parent's attributes after the change, and Mkdir the new directory's lease. */
export type Made = Attr & { parentAttr?: Attr; leased?: 'shared' };

export async function mkdirAt(core: Core, cred: Cred, parent: Ino, name: string, mode: number, lease = false): Promise<Made> {
  return core.client.call('Mkdir', { cred, parent, name, mode: mode & 0o7777, umask: 0, lease });
}

export async function mknodAt(core: Core, cred: Cred, parent: Ino, name: string, mode: number, rdev: number, lease = false): Promise<Made> {
  return core.client.call('Mknod', { cred, parent, name, mode, umask: 0, rdev, lease });
}

export async function symlinkAt(core: Core, cred: Cred, target: string, parent: Ino, name: string, lease = false): Promise<Made> {
  return core.client.call('Symlink', { cred, parent, name, target, lease });
}

export async function mkdir(core: Core, ctx: OpContext, path: string, mode: number): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  const attr = await mkdirAt(core, cred, parent, name, mode);
  core.paths.set(path, attr.ino);
  return attr;
}

export async function mknod(core: Core, ctx: OpContext, path: string, mode: number, rdev: number): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  const attr = await mknodAt(core, cred, parent, name, mode, rdev);
  core.paths.set(path, attr.ino);
  return attr;
}

export async function symlink(core: Core, ctx: OpContext, target: string, path: string): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  const attr = await symlinkAt(core, cred, target, parent, name);
  core.paths.set(path, attr.ino);
  return attr;
}

export async function readlinkIno(core: Core, cred: Cred, ino: Ino): Promise<string> {
  return (await core.client.call('Readlink', { cred, ino })).target;
}

export async function readlink(core: Core, ctx: OpContext, path: string): Promise<string> {
  const cred = await credOf(core, ctx);
  return readlinkIno(core, cred, await resolve(core, cred, path));
}

export async function link(core: Core, ctx: OpContext, from: string, to: string): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, to);
  const attr = await linkAt(core, cred, await resolve(core, cred, from), parent, name);
  core.paths.set(to, attr.ino);
  return attr;
}

export async function linkAt(core: Core, cred: Cred, ino: Ino, newParent: Ino, newName: string, lease = false): Promise<Made> {
  const { parentAttr, ...attr } = await changeFiles(core, () => core.client.call('Link', { cred, ino, newParent, newName, lease }), async () => [ino]);
  forgetAttr(core, ino);
  return { ...noteAttr(core, attr), ...(parentAttr ? { parentAttr } : {}) };
}

export async function unlink(core: Core, ctx: OpContext, path: string): Promise<void> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  await settle(core, path);
  const ino = core.paths.peek(path);
  try {
    changed(core, await changeFiles(core, () => core.client.call('Unlink', { cred, parent, name }), () => fileAt(core, cred, parent, name)));
  } finally {
    core.paths.remove(path);
  }
  // Likely gone: its lease would only take a place under the lease limits (rm -rf of a big tree).
  if (ino !== undefined && core.handles.openCount(ino) === 0) core.leases.drop(ino);
}

export async function rmdir(core: Core, ctx: OpContext, path: string): Promise<void> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  await core.client.call('Rmdir', { cred, parent, name });
  core.paths.remove(path);
}

export async function rename(core: Core, ctx: OpContext, from: string, to: string, flags = 0): Promise<void> {
  const src = await parentOf(core, ctx, from);
  const dst = await parentOf(core, ctx, to);
  await settle(core, to);
  try {
    changed(core, await changeFiles(
      core,
      () => core.client.call('Rename', { cred: src.cred, parent: src.parent, name: src.name, newParent: dst.parent, newName: dst.name, flags }),
      async () => [...await fileAt(core, src.cred, src.parent, src.name), ...await fileAt(core, src.cred, dst.parent, dst.name)],
    ));
    core.paths.rename(from, to);
  } catch (err) {
    core.paths.remove(from);
    core.paths.remove(to);
    throw err;
  }
}

export interface AttrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: Timespec | 'now';
  mtime?: Timespec | 'now';
}

async function setattr(core: Core, ctx: OpContext, path: string, changes: AttrChanges): Promise<Attr> {
  const cred = await credOf(core, ctx);
  return setattrIno(core, cred, await resolve(core, cred, path), changes);
}

/** chmod, chown, utimens (no size: truncation is data.truncateIno). */
export function setattrIno(core: Core, cred: Cred, ino: Ino, changes: AttrChanges): Promise<Attr> {
  return exclusiveIfFile(core, ino, async (epoch) => {
    // Buffered writes go first: their Wrote would otherwise land after this change and undo it
    // (a later mtime, set-id bits cleared after a chmod).
    if (core.writeback.dirtyEnd(ino) > 0 || core.writeback.dirtyMtime(ino)) await core.writeback.flush(ino);
    // Without a lease taken above (the type was not known), other mounts' leases may stand in the way.
    return noteAttr(core, await changeFiles(core, () => core.client.call('SetAttr', { cred, ino, ...changes }), async () => [ino]), epoch);
  });
}

export function chmod(core: Core, ctx: OpContext, path: string, mode: number): Promise<Attr> {
  return setattr(core, ctx, path, { mode: mode & 0o7777 });
}

/** uid or gid of -1 (as uint32, 0xffffffff) leaves it unchanged. */
export function chown(core: Core, ctx: OpContext, path: string, uid: number, gid: number): Promise<Attr> {
  const keep = (id: number) => id === -1 || id === 0xffffffff;
  return setattr(core, ctx, path, { ...(keep(uid) ? {} : { uid }), ...(keep(gid) ? {} : { gid }) });
}

export function utimens(core: Core, ctx: OpContext, path: string, atime: Timespec | 'now' | null, mtime: Timespec | 'now' | null): Promise<Attr> {
  return setattr(core, ctx, path, { ...(atime ? { atime } : {}), ...(mtime ? { mtime } : {}) });
}

export async function setxattr(core: Core, ctx: OpContext, path: string, name: string, value: Buffer, flags: number): Promise<void> {
  const cred = await credOf(core, ctx);
  await setxattrIno(core, cred, await resolve(core, cred, path), name, value, flags);
}

export async function setxattrIno(core: Core, cred: Cred, ino: Ino, name: string, value: Buffer, flags: number): Promise<void> {
  xattrsOn(core);
  await exclusiveIfFile(core, ino, async () => {
    // Forgotten before (no answer from here) and after (none taken from the server meanwhile).
    forgetNoCapability(core, ino);
    try {
      await changeFiles(core, () => core.client.call('SetXattr', { cred, ino, name, value: value.toString('base64'), flags }), async () => [ino]);
    } finally {
      forgetNoCapability(core, ino);
      forgetAttr(core, ino); // ctime
    }
  });
}

export async function getxattr(core: Core, ctx: OpContext, path: string, name: string): Promise<Buffer> {
  const cred = await credOf(core, ctx);
  return getxattrIno(core, cred, await resolve(core, cred, path), name);
}

export async function getxattrIno(core: Core, cred: Cred, ino: Ino, name: string): Promise<Buffer> {
  xattrsOn(core);
  const capability = name === CAPABILITY_XATTR;
  if (!capability) return getxattrOf(core, cred, ino, name);
  const known = core.noCapability.get(ino);
  if (known && (known.epoch !== undefined ? core.leases.epoch(ino) === known.epoch : known.untilMs > core.clock.nowMs())) {
    throw absent(name, ino, known.epoch !== undefined);
  }
  const ask = async (epoch: number | undefined) => {
    try {
      return await getxattrOf(core, cred, ino, name);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENODATA') {
        if (core.noCapability.size >= 100_000) forgetNoCapability(core);
        core.noCapability.set(ino, { untilMs: core.clock.nowMs() + NO_CAPABILITY_TTL_MS, epoch });
        if (epoch !== undefined) throw absent(name, ino, true);
      }
      throw err;
    }
  };
  // Under a lease the answer holds until it is revoked (a setxattr elsewhere takes Exclusive).
  return core.leases.known(ino) ? withLease(core, ino, 'shared', ask) : ask(undefined);
}

/**
 * ENODATA for security.capability; `lasting` (the answer holds while the lease it was seen under
 * does, and every way it can stop holding calls forgetNoCapability) lets the binding answer the
 * kernel's next asks itself (FsError.absentKnown, docs/FUSE-BINDING.md 2.9).
 */
function absent(name: string, ino: number, lasting: boolean): FsError {
  const err = new FsError('ENODATA', `${name} of inode ${ino}`);
  if (lasting) (err as FsError & { absentKnown?: boolean }).absentKnown = true;
  return err;
}

async function getxattrOf(core: Core, cred: Cred, ino: number, name: string): Promise<Buffer> {
  const r = await core.client.call('GetXattr', { cred, ino, name });
  return Buffer.from(r.value, 'base64');
}

export async function listxattr(core: Core, ctx: OpContext, path: string): Promise<string[]> {
  const cred = await credOf(core, ctx);
  return listxattrIno(core, cred, await resolve(core, cred, path));
}

export async function listxattrIno(core: Core, cred: Cred, ino: Ino): Promise<string[]> {
  xattrsOn(core);
  return (await core.client.call('ListXattr', { cred, ino })).names;
}

export async function removexattr(core: Core, ctx: OpContext, path: string, name: string): Promise<void> {
  const cred = await credOf(core, ctx);
  await removexattrIno(core, cred, await resolve(core, cred, path), name);
}

export async function removexattrIno(core: Core, cred: Cred, ino: Ino, name: string): Promise<void> {
  xattrsOn(core);
  await exclusiveIfFile(core, ino, async () => {
    forgetNoCapability(core, ino);
    try {
      await changeFiles(core, () => core.client.call('RemoveXattr', { cred, ino, name }), async () => [ino]);
    } finally {
      forgetNoCapability(core, ino);
      forgetAttr(core, ino); // ctime
    }
  });
}

function xattrsOn(core: Core): void {
  if (!core.settings.xattrEnabled) throw new FsError('ENOSYS', 'extended attributes are disabled (XAttrEnabled: false)');
}
