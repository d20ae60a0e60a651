/**
 * What every namespace operation shares: the store, the clock, the file data module, and the
 * few steps of an inode's life that several operations take (find, drop a link, destroy).
 */
import { FsError } from '../../common/errors/index.js';
import type { Cred, Ino, Timespec } from '../../common/protocol/index.js';
import { X_OK } from '../../common/protocol/index.js';
import { toNs } from '../metadata/index.js';
import type { Metadata } from '../metadata/index.js';
import { isDir, isReg, type Inode, type Store } from './inode-store.js';
import { requirePermission } from './permissions.js';

/** The extent maps of regular files; implemented by another module and injected. */
export interface FileData {
  /** Drops or trims extents beyond newSize (called whenever the size changes by setattr or O_TRUNC). */
  truncate(ino: Ino, oldSize: number, newSize: number): void;
  /** The inode is destroyed: drop all its extents. */
  drop(ino: Ino): void;
  /** Bytes referenced by all extents (for statvfs). */
  usedBytes(): number;
}

/** Most links one inode may have (and most subdirectories + 2 of one directory). */
export const LINK_MAX = 65000;

/** What a volume may hold ([Volume:NAME] Capacity, InodeLimit) and the room its store has. */
export interface VolumeLimits {
  /** Bytes of file data (extents) the volume may hold; undefined: no limit. Enforced by Wrote. */
  capacityBytes?: number;
  /** Inodes the volume may hold; undefined: no limit. Creating one more is ENOSPC. */
  inodes?: number;
  /** Size and free space of the filesystem a local store lives on (statvfs reports it). */
  storeSpace?: () => { totalBytes: number; availBytes: number } | undefined;
}

export interface Ctx {
  md: Metadata;
  store: Store;
  fileData: FileData;
  limits: VolumeLimits;
  nowNs(): bigint;
}

export function makeCtx(md: Metadata, store: Store, fileData: FileData, now: () => Timespec, limits: VolumeLimits = {}): Ctx {
  return { md, store, fileData, limits, nowNs: () => toNs(now()) };
}

export function mustInode(ctx: Ctx, ino: Ino): Inode {
  const inode = ctx.store.getInode(ino);
  if (!inode) throw new FsError('ENOENT', `no inode ${ino}`);
  return inode;
}

/** A directory the caller may look names up in: ENOENT, ENOTDIR, EACCES (no search permission). */
export function searchableDir(ctx: Ctx, cred: Cred, ino: Ino): Inode {
  const dir = mustInode(ctx, ino);
  if (!isDir(dir.mode)) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
  requirePermission(cred, dir, X_OK);
  return dir;
}

/** The inode an entry names; ENOENT when the entry (or, after corruption, its inode) is missing. */
export function entryInode(ctx: Ctx, parent: Ino, name: string): Inode {
  const e = ctx.store.getEntry(parent, name);
  if (!e) throw new FsError('ENOENT', `no entry ${name} in ${parent}`);
  return mustInode(ctx, e.ino);
}

/** Removes an inode and everything that hangs off it. */
export function destroy(ctx: Ctx, inode: Inode): void {
  ctx.store.deleteInode(inode.ino);
  if (isReg(inode.mode)) ctx.fileData.drop(inode.ino);
}

/** One link of a non-directory is gone: nlink-1, ctime; destroyed when unlinked and not open. */
export function dropLink(ctx: Ctx, inode: Inode, nowNs: bigint): void {
  inode.nlink -= 1;
  inode.ctimeNs = nowNs;
  if (inode.nlink <= 0 && ctx.store.openCount(inode.ino) === 0) destroy(ctx, inode);
  else ctx.store.updateInode(inode);
}

/** Called after an open went away: destroys the inode if it was its last link and last open. */
export function destroyIfOrphan(ctx: Ctx, ino: Ino): void {
  const inode = ctx.store.getInode(ino);
  if (inode && inode.nlink <= 0 && ctx.store.openCount(ino) === 0) destroy(ctx, inode);
}
