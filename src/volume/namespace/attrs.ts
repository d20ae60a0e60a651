/**
 * Inode attributes: getattr, access, setattr (truncate, chmod, chown, utimens) and noteWrite.
 * setattr checks every requested change before applying any, in Linux's order: size
 * (EINVAL, EISDIR, EACCES), uid (EPERM), gid (EPERM), mode (EPERM), times (EPERM, EACCES).
 * Any setattr sets ctime. As Linux: chown (uid or gid given) of a non-directory clears S_ISUID
 * whoever the caller, and S_ISGID when group-executable; chmod by a non-root caller outside the
 * file's group clears S_ISGID; truncate by a non-root caller clears S_ISUID, and S_ISGID when
 * group-executable. mtime changes with size only when the size changes.
 */
import { FsError } from '../../common/errors/index.js';
import { S_IFMT, S_ISGID, S_ISUID, W_OK } from '../../common/protocol/index.js';
import type { Attr, Cred, Ino, SetAttrParams, Timespec } from '../../common/protocol/index.js';
import { toNs } from '../metadata/index.js';
import { mustInode, type Ctx } from './context.js';
import { isDir, isReg, toAttr, type Inode } from './inode-store.js';
import { S_IXGRP, inGroup, isOwnerOrRoot, isRoot, killPriv, permits, requirePermission } from './permissions.js';

export function getattr(ctx: Ctx, ino: Ino): Attr {
  return toAttr(mustInode(ctx, ino));
}

export function access(ctx: Ctx, cred: Cred, ino: Ino, mask: number): void {
  const inode = mustInode(ctx, ino);
  if (mask & ~7) throw new FsError('EINVAL', `access mask ${mask}`);
  if (mask !== 0) requirePermission(cred, inode, mask);
}

/** Changes a regular file's size in place (the caller writes the inode): extents, mtime, privileges. */
export function applySize(ctx: Ctx, cred: Cred, inode: Inode, size: number, t: bigint): void {
  // As Linux truncate(2) and O_TRUNC: mtime changes even when the size does not.
  if (size !== inode.size) ctx.fileData.truncate(inode.ino, inode.size, size);
  inode.mtimeNs = t;
  inode.size = size;
  inode.ctimeNs = t;
  if (!isRoot(cred)) inode.mode = killPriv(inode.mode);
}

function checkSetattr(cred: Cred, inode: Inode, p: Omit<SetAttrParams, 'mountId'>): void {
  if (p.size !== undefined) {
    if (!Number.isSafeInteger(p.size) || p.size < 0) throw new FsError('EINVAL', `size ${p.size}`);
    if (isDir(inode.mode)) throw new FsError('EISDIR', 'truncate of a directory');
    if (!isReg(inode.mode)) throw new FsError('EINVAL', 'truncate of a non-regular file');
    requirePermission(cred, inode, W_OK);
  }
  const root = isRoot(cred);
  const owner = cred.uid === inode.uid;
  if (p.uid !== undefined && !root && !(owner && p.uid === inode.uid)) {
    throw new FsError('EPERM', 'only root may change the owner');
  }
  if (p.gid !== undefined && !root && !(owner && (p.gid === inode.gid || inGroup(cred, p.gid)))) {
    throw new FsError('EPERM', 'only the owner may change the group, to one of their groups');
  }
  if (p.mode !== undefined && !isOwnerOrRoot(cred, inode)) throw new FsError('EPERM', 'only the owner may chmod');
  const explicit = (p.atime !== undefined && p.atime !== 'now') || (p.mtime !== undefined && p.mtime !== 'now');
  if (explicit && !isOwnerOrRoot(cred, inode)) throw new FsError('EPERM', 'only the owner may set explicit times');
  if ((p.atime !== undefined || p.mtime !== undefined) && !isOwnerOrRoot(cred, inode) && !permits(cred, inode, W_OK)) {
    throw new FsError('EACCES', 'setting times to now needs ownership or write permission');
  }
}

export function setattr(ctx: Ctx, p: Omit<SetAttrParams, 'mountId'>): Attr {
  const inode = mustInode(ctx, p.ino);
  const { cred } = p;
  checkSetattr(cred, inode, p);
  const t = ctx.nowNs();
  const oldGid = inode.gid;
  if (p.size !== undefined) applySize(ctx, cred, inode, p.size, t);
  if (p.uid !== undefined) inode.uid = p.uid;
  if (p.gid !== undefined) inode.gid = p.gid;
  if (p.mode !== undefined) {
    let mode = (inode.mode & S_IFMT) | (p.mode & 0o7777);
    if (!isRoot(cred) && !inGroup(cred, inode.gid)) mode &= ~S_ISGID;
    inode.mode = mode;
  }
  if ((p.uid !== undefined || p.gid !== undefined) && !isDir(inode.mode)) {
    // chown of a non-directory, by anyone: S_ISUID goes, S_ISGID too when group-executable
    // (or, without group-exec, when a non-root caller is not in the file's former group).
    const dropGid = (inode.mode & S_IXGRP) !== 0 || (!isRoot(cred) && !inGroup(cred, oldGid));
    inode.mode &= ~(S_ISUID | (dropGid ? S_ISGID : 0));
  }
  const timeNs = (v: Timespec | 'now') => (v === 'now' ? t : toNs(v));
  if (p.atime !== undefined) inode.atimeNs = timeNs(p.atime);
  if (p.mtime !== undefined) inode.mtimeNs = timeNs(p.mtime);
  inode.ctimeNs = t;
  ctx.store.updateInode(inode);
  return toAttr(inode);
}

/**
 * After data was written up to endOffset: grow size, set mtime and ctime. Set-id bits are not
 * touched here: the kernel clears them before a write by a caller without CAP_FSETID (a
 * setattr that reaches setattr() above), and keeps them for root, as Linux does.
 */
export function noteWrite(ctx: Ctx, ino: Ino, endOffset: number, mtime: Timespec): Attr {
  const inode = mustInode(ctx, ino);
  if (!isReg(inode.mode)) throw new FsError('EINVAL', `inode ${ino} is not a regular file`);
  if (!Number.isSafeInteger(endOffset) || endOffset < 0) throw new FsError('EINVAL', `end offset ${endOffset}`);
  inode.size = Math.max(inode.size, endOffset);
  inode.mtimeNs = toNs(mtime);
  inode.ctimeNs = inode.mtimeNs;
  ctx.store.updateInode(inode);
  return toAttr(inode);
}
