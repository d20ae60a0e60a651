/**
 * Namespace operations through the path cache: each resolves parents from the cache (or by
 * lookups), calls the volume server, then keeps the cache exact.
 */
import { FsError } from '../../common/errors/index.js';
import { type Attr, type DirEntry, type StatVfs, type Timespec } from '../../common/protocol/index.js';
import { CAPABILITY_XATTR, NO_CAPABILITY_TTL_MS, credOf, lookupPath, noteAttr, resolve, splitPath, type Core } from './core.js';
import type { OpContext } from './creds.js';

async function parentOf(core: Core, ctx: OpContext, path: string) {
  const cred = await credOf(core, ctx);
  const { parent, name } = splitPath(path);
  return { cred, parent: await resolve(core, cred, parent), name };
}

/** Writes still buffered for an inode about to lose a name are flushed first, so they are not reported for a destroyed inode. */
async function settle(core: Core, path: string): Promise<void> {
  const ino = core.paths.get(path);
  if (ino !== undefined && core.writeback.dirtyEnd(ino) > 0 && core.handles.openCount(ino) === 0) {
    await core.writeback.flush(ino).catch(() => undefined);
  }
}

export async function getattr(core: Core, ctx: OpContext, path: string): Promise<Attr> {
  return lookupPath(core, await credOf(core, ctx), path);
}

export async function access(core: Core, ctx: OpContext, path: string, mask: number): Promise<void> {
  const cred = await credOf(core, ctx);
  await core.client.call('Access', { cred, ino: await resolve(core, cred, path), mask });
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
    const page = await core.client.call('ReadDir', { cred, ino, cookie, maxEntries: core.settings.readdirMaxEntries, plus: false });
    for (const e of page.entries) {
      all.push(e);
      cookie = e.cookie;
    }
    if (page.eof || page.entries.length === 0) return all;
  }
}

export async function mkdir(core: Core, ctx: OpContext, path: string, mode: number): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  const attr = await core.client.call('Mkdir', { cred, parent, name, mode: mode & 0o7777, umask: 0 });
  core.paths.set(path, attr.ino);
  return attr;
}

export async function mknod(core: Core, ctx: OpContext, path: string, mode: number, rdev: number): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  const attr = await core.client.call('Mknod', { cred, parent, name, mode, umask: 0, rdev });
  core.paths.set(path, attr.ino);
  return attr;
}

export async function symlink(core: Core, ctx: OpContext, target: string, path: string): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  const attr = await core.client.call('Symlink', { cred, parent, name, target });
  core.paths.set(path, attr.ino);
  return attr;
}

export async function readlink(core: Core, ctx: OpContext, path: string): Promise<string> {
  const cred = await credOf(core, ctx);
  return (await core.client.call('Readlink', { ino: await resolve(core, cred, path) })).target;
}

export async function link(core: Core, ctx: OpContext, from: string, to: string): Promise<Attr> {
  const { cred, parent, name } = await parentOf(core, ctx, to);
  const ino = await resolve(core, cred, from);
  const attr = await core.client.call('Link', { cred, ino, newParent: parent, newName: name });
  core.paths.set(to, attr.ino);
  return noteAttr(core, attr);
}

export async function unlink(core: Core, ctx: OpContext, path: string): Promise<void> {
  const { cred, parent, name } = await parentOf(core, ctx, path);
  await settle(core, path);
  try {
    await core.client.call('Unlink', { cred, parent, name });
  } finally {
    core.paths.remove(path);
  }
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
    await core.client.call('Rename', { cred: src.cred, parent: src.parent, name: src.name, newParent: dst.parent, newName: dst.name, flags });
    core.paths.rename(from, to);
  } catch (err) {
    core.paths.remove(from);
    core.paths.remove(to);
    throw err;
  }
}

async function setattr(core: Core, ctx: OpContext, path: string, changes: { mode?: number; uid?: number; gid?: number; atime?: Timespec | 'now'; mtime?: Timespec | 'now' }): Promise<Attr> {
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  // Buffered writes go first: their Wrote would otherwise land after this change and undo it
  // (a later mtime, set-id bits cleared after a chmod).
  if (core.writeback.dirtyEnd(ino) > 0 || core.writeback.dirtyMtime(ino)) await core.writeback.flush(ino);
  return noteAttr(core, await core.client.call('SetAttr', { cred, ino, ...changes }));
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
  xattrsOn(core);
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  core.noCapability.delete(ino);
  await core.client.call('SetXattr', { cred, ino, name, value: value.toString('base64'), flags });
}

export async function getxattr(core: Core, ctx: OpContext, path: string, name: string): Promise<Buffer> {
  xattrsOn(core);
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  const capability = name === CAPABILITY_XATTR;
  if (capability && (core.noCapability.get(ino) ?? 0) > core.clock.nowMs()) throw new FsError('ENODATA', `${name} of inode ${ino}`);
  try {
    const r = await core.client.call('GetXattr', { cred, ino, name });
    return Buffer.from(r.value, 'base64');
  } catch (err) {
    if (capability && (err as { code?: string }).code === 'ENODATA') {
      if (core.noCapability.size >= 100_000) core.noCapability.clear();
      core.noCapability.set(ino, core.clock.nowMs() + NO_CAPABILITY_TTL_MS);
    }
    throw err;
  }
}

export async function listxattr(core: Core, ctx: OpContext, path: string): Promise<string[]> {
  xattrsOn(core);
  const cred = await credOf(core, ctx);
  return (await core.client.call('ListXattr', { cred, ino: await resolve(core, cred, path) })).names;
}

export async function removexattr(core: Core, ctx: OpContext, path: string, name: string): Promise<void> {
  xattrsOn(core);
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  core.noCapability.delete(ino);
  await core.client.call('RemoveXattr', { cred, ino, name });
}

function xattrsOn(core: Core): void {
  if (!core.settings.xattrEnabled) throw new FsError('ENOSYS', 'extended attributes are disabled (XAttrEnabled: false)');
}
