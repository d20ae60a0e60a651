/**
 * Open files: create, open, release, requireOpen, dropMount.
 * Only regular files are counted, per mount, in the opens table. An unlinked regular file
 * (nlink 0) lives on while any mount holds it open; the release that takes the last open
 * destroys it (row, xattrs, and its extents through FileData.drop).
 */
import { FsError } from '../../common/errors/index.js';
import { O_ACCMODE, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY, R_OK, W_OK } from '../../common/protocol/index.js';
import type { Attr, Cred, Ino } from '../../common/protocol/index.js';
import { applySize } from './attrs.js';
import { destroyIfOrphan, mustInode, type Ctx } from './context.js';
import { dirForNewEntry, newRegularFile } from './entries.js';
import { isDir, isLnk, isReg, toAttr, type Inode } from './inode-store.js';
import { requirePermission } from './permissions.js';

function accessMask(flags: number): number {
  const acc = flags & O_ACCMODE;
  let mask = acc === O_RDONLY ? R_OK : acc === O_WRONLY ? W_OK : R_OK | W_OK;
  if (flags & O_TRUNC) mask |= W_OK;
  return mask;
}

/** Opens an existing inode: type rules (ELOOP, EISDIR), permission, O_TRUNC, the open count. */
function openInode(ctx: Ctx, mountId: string, cred: Cred, inode: Inode, flags: number): Attr {
  const mask = accessMask(flags);
  if (isLnk(inode.mode)) throw new FsError('ELOOP', `inode ${inode.ino} is a symlink`);
  if (isDir(inode.mode) && mask & W_OK) throw new FsError('EISDIR', `inode ${inode.ino} is a directory`);
  requirePermission(cred, inode, mask);
  if (!isReg(inode.mode)) return toAttr(inode);
  if (flags & O_TRUNC) {
    const t = ctx.nowNs();
    applySize(ctx, cred, inode, 0, t);
    inode.mtimeNs = t;
    ctx.store.updateInode(inode);
  }
  ctx.store.addOpen(mountId, inode.ino);
  return toAttr(inode);
}

export function open(ctx: Ctx, mountId: string, cred: Cred, ino: Ino, flags: number): Attr {
  return openInode(ctx, mountId, cred, mustInode(ctx, ino), flags);
}

/**
 * open(O_CREAT): makes a regular file, or with O_EXCL fails with EEXIST when the name exists;
 * without O_EXCL an existing directory is EISDIR and anything else is opened as open() would.
 * A newly made file is opened without a permission check (creat with mode 0 works).
 */
export function create(ctx: Ctx, mountId: string, cred: Cred, parent: Ino, name: string, mode: number, umask: number, flags: number): Attr {
  const { dir, existing } = dirForNewEntry(ctx, cred, parent, name);
  if (existing) {
    if (flags & O_EXCL) throw new FsError('EEXIST', `${name} exists in ${parent}`);
    if (isDir(existing.mode)) throw new FsError('EISDIR', `${name} is a directory`);
    return openInode(ctx, mountId, cred, existing, flags);
  }
  const inode = newRegularFile(ctx, cred, dir, name, mode, umask);
  ctx.store.addOpen(mountId, inode.ino);
  return toAttr(inode);
}

/** Gives back one open; an unknown (mount, inode) pair is ignored. */
export function release(ctx: Ctx, mountId: string, ino: Ino): void {
  if (ctx.store.removeOpen(mountId, ino)) destroyIfOrphan(ctx, ino);
}

export function requireOpen(ctx: Ctx, mountId: string, ino: Ino): void {
  if (!ctx.store.isOpenBy(mountId, ino)) throw new FsError('EBADF', `inode ${ino} is not open on this mount`);
}

export function dropMount(ctx: Ctx, mountId: string): void {
  for (const ino of ctx.store.takeOpensOfMount(mountId)) destroyIfOrphan(ctx, ino);
}
