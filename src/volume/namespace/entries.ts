/**
 * Names in directories: lookup, making nodes (mknod, mkdir, symlink), link, unlink, rmdir.
 * Order of checks follows Linux: the parent (ENOENT, ENOTDIR, EACCES for search), the name
 * (ENOENT, EINVAL, ENAMETOOLONG, '.'/'..' rules), the entry (EEXIST / ENOENT), then write
 * permission on the parent (EACCES), sticky bit (EPERM), and type rules.
 */
import { FsError } from '../../common/errors/index.js';
import {
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, W_OK, X_OK,
} from '../../common/protocol/index.js';
import type { Attr, Cred, Ino } from '../../common/protocol/index.js';
import {
  LINK_MAX, destroy, dropLink, entryInode, mustInode, searchableDir, type Ctx,
} from './context.js';
import { isDir, isLnk, toAttr, type Inode } from './inode-store.js';
import { checkSymlinkTarget, nameKind, plainName } from './names.js';
import { S_IXGRP, checkSticky, inGroup, isRoot, requirePermission } from './permissions.js';

export function lookup(ctx: Ctx, cred: Cred, parent: Ino, name: string): Attr {
  const dir = searchableDir(ctx, cred, parent);
  const kind = nameKind(name);
  if (kind === 'dot') return toAttr(dir);
  if (kind === 'dotdot') return toAttr(mustInode(ctx, ctx.store.parentOf(dir.ino)));
  return toAttr(entryInode(ctx, dir.ino, name));
}

/**
 * The directory a new entry goes into, after every check up to (excluding) write permission:
 * returns the existing inode of the name instead when there is one ('.' and '..' included).
 */
export function dirForNewEntry(ctx: Ctx, cred: Cred, parent: Ino, name: string): { dir: Inode; existing?: Inode } {
  const dir = searchableDir(ctx, cred, parent);
  const kind = nameKind(name);
  if (kind === 'dot') return { dir, existing: dir };
  if (kind === 'dotdot') return { dir, existing: mustInode(ctx, ctx.store.parentOf(dir.ino)) };
  const e = ctx.store.getEntry(dir.ino, name);
  return { dir, existing: e ? mustInode(ctx, e.ino) : undefined };
}

/** As dirForNewEntry, but an existing name is EEXIST and write permission is checked. */
function writableDirForNewEntry(ctx: Ctx, cred: Cred, parent: Ino, name: string): Inode {
  const { dir, existing } = dirForNewEntry(ctx, cred, parent, name);
  if (existing) throw new FsError('EEXIST', `${name} exists in ${parent}`);
  requirePermission(cred, dir, W_OK | X_OK);
  return dir;
}

/**
 * Inserts a new inode and its entry. mode holds type and final permission bits (umask applied);
 * setgid directories pass on their gid, and to new subdirectories their S_ISGID.
 */
export function makeNode(ctx: Ctx, cred: Cred, dir: Inode, name: string, mode: number, rdev = 0, target: Buffer | null = null): Inode {
  let gid = cred.gid;
  let m = mode;
  if (dir.mode & S_ISGID) {
    gid = dir.gid;
    if (isDir(m)) m |= S_ISGID;
    else if ((m & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) && !isRoot(cred) && !inGroup(cred, gid)) m &= ~S_ISGID;
  }
  const limit = ctx.limits.inodes;
  if (limit !== undefined && ctx.store.countInodes() >= limit) throw new FsError('ENOSPC', `the volume holds its limit of ${limit} inodes (InodeLimit)`);
  const t = ctx.nowNs();
  const dirNode = isDir(m);
  const inode = ctx.store.insertInode({
    mode: m, nlink: dirNode ? 2 : 1, uid: cred.uid, gid, rdev, size: target ? target.length : 0,
    atimeNs: t, mtimeNs: t, ctimeNs: t, crtimeNs: t, target, nextCookie: 3,
  });
  ctx.store.addEntry(dir.ino, name, inode.ino);
  ctx.store.touchDir(dir.ino, dirNode ? 1 : 0, t);
  return inode;
}

export function newRegularFile(ctx: Ctx, cred: Cred, dir: Inode, name: string, mode: number, umask: number): Inode {
  requirePermission(cred, dir, W_OK | X_OK);
  return makeNode(ctx, cred, dir, name, S_IFREG | (mode & 0o7777 & ~(umask & 0o777)));
}

export function mknod(ctx: Ctx, cred: Cred, parent: Ino, name: string, mode: number, umask: number, rdev: number): Attr {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type === S_IFDIR) throw new FsError('EPERM', 'mknod cannot make directories');
  if (![S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK].includes(type)) throw new FsError('EINVAL', `mknod of type ${type.toString(8)}`);
  const dir = writableDirForNewEntry(ctx, cred, parent, name);
  const device = type === S_IFCHR || type === S_IFBLK;
  if (device && !isRoot(cred)) throw new FsError('EPERM', 'only root may make device nodes');
  const perm = mode & 0o7777 & ~(umask & 0o777);
  return toAttr(makeNode(ctx, cred, dir, name, type | perm, device ? rdev : 0));
}

export function mkdir(ctx: Ctx, cred: Cred, parent: Ino, name: string, mode: number, umask: number): Attr {
  const dir = writableDirForNewEntry(ctx, cred, parent, name);
  if (dir.nlink >= LINK_MAX) throw new FsError('EMLINK', `directory ${parent} has too many subdirectories`);
  return toAttr(makeNode(ctx, cred, dir, name, S_IFDIR | (mode & 0o1777 & ~(umask & 0o777))));
}

export function symlink(ctx: Ctx, cred: Cred, parent: Ino, name: string, target: string): Attr {
  const bytes = checkSymlinkTarget(target);
  const dir = writableDirForNewEntry(ctx, cred, parent, name);
  return toAttr(makeNode(ctx, cred, dir, name, S_IFLNK | 0o777, 0, bytes));
}

export function readlink(ctx: Ctx, ino: Ino): string {
  const inode = mustInode(ctx, ino);
  if (!isLnk(inode.mode)) throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
  return (inode.target ?? Buffer.alloc(0)).toString('utf8');
}

export function link(ctx: Ctx, cred: Cred, ino: Ino, newParent: Ino, newName: string): Attr {
  const inode = mustInode(ctx, ino);
  const dir = writableDirForNewEntry(ctx, cred, newParent, newName);
  if (isDir(inode.mode)) throw new FsError('EPERM', 'hard links to directories are not allowed');
  if (inode.nlink <= 0) throw new FsError('ENOENT', `inode ${ino} has been unlinked`);
  if (inode.nlink >= LINK_MAX) throw new FsError('EMLINK', `inode ${ino} has too many links`);
  const t = ctx.nowNs();
  ctx.store.addEntry(dir.ino, newName, inode.ino);
  ctx.store.touchDir(dir.ino, 0, t);
  inode.nlink += 1;
  inode.ctimeNs = t;
  ctx.store.updateInode(inode);
  return toAttr(inode);
}

/** Checks common to unlink, rmdir and rename's source: permission on the directory, sticky bit. */
export function checkMayDelete(cred: Cred, dir: Inode, victim: Inode): void {
  requirePermission(cred, dir, W_OK | X_OK);
  checkSticky(cred, dir, victim);
}

export function unlink(ctx: Ctx, cred: Cred, parent: Ino, name: string): void {
  const dir = searchableDir(ctx, cred, parent);
  plainName(name, 'EISDIR');
  const victim = entryInode(ctx, dir.ino, name);
  checkMayDelete(cred, dir, victim);
  if (isDir(victim.mode)) throw new FsError('EISDIR', `${name} is a directory`);
  const t = ctx.nowNs();
  ctx.store.removeEntry(dir.ino, name);
  ctx.store.touchDir(dir.ino, 0, t);
  dropLink(ctx, victim, t);
}

export function rmdir(ctx: Ctx, cred: Cred, parent: Ino, name: string): void {
  const dir = searchableDir(ctx, cred, parent);
  const kind = nameKind(name);
  if (kind === 'dot') throw new FsError('EINVAL', 'rmdir of .');
  if (kind === 'dotdot') throw new FsError('ENOTEMPTY', 'rmdir of ..');
  const victim = entryInode(ctx, dir.ino, name);
  checkMayDelete(cred, dir, victim);
  if (!isDir(victim.mode)) throw new FsError('ENOTDIR', `${name} is not a directory`);
  if (ctx.store.hasEntries(victim.ino)) throw new FsError('ENOTEMPTY', `${name} is not empty`);
  const t = ctx.nowNs();
  ctx.store.removeEntry(dir.ino, name);
  ctx.store.touchDir(dir.ino, -1, t);
  destroy(ctx, victim);
}
