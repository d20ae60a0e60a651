/**
 * Permission rules of Linux, on an inode and the caller's credentials.
 * - root (uid 0) passes read and write checks, and search on directories; to execute a
 *   non-directory it needs at least one x bit.
 * - Otherwise the owner class, else the group class (primary or supplementary group), else other.
 * - Sticky directories: only the entry's owner, the directory's owner or root may remove or
 *   rename away an entry (EPERM).
 */
import { FsError } from '../../common/errors/index.js';
import { S_ISGID, S_ISUID, S_ISVTX, X_OK } from '../../common/protocol/index.js';
import type { Cred } from '../../common/protocol/index.js';
import { isDir, type Inode } from './inode-store.js';

export const S_IXGRP = 0o010;

export function isRoot(cred: Cred): boolean {
  return cred.uid === 0;
}

export function inGroup(cred: Cred, gid: number): boolean {
  return cred.gid === gid || cred.groups.includes(gid);
}

export function isOwnerOrRoot(cred: Cred, inode: Inode): boolean {
  return cred.uid === 0 || cred.uid === inode.uid;
}

/** Whether cred may access inode with mask (R_OK | W_OK | X_OK bits). */
export function permits(cred: Cred, inode: Inode, mask: number): boolean {
  if (cred.uid === 0) {
    return !(mask & X_OK) || isDir(inode.mode) || (inode.mode & 0o111) !== 0;
  }
  let bits: number;
  if (cred.uid === inode.uid) bits = (inode.mode >> 6) & 7;
  else if (inGroup(cred, inode.gid)) bits = (inode.mode >> 3) & 7;
  else bits = inode.mode & 7;
  return (bits & mask) === mask;
}

export function requirePermission(cred: Cred, inode: Inode, mask: number): void {
  if (!permits(cred, inode, mask)) throw new FsError('EACCES', `inode ${inode.ino}: access ${mask} denied`);
}

/** EPERM when dir is sticky and cred may not remove victim's entry from it. */
export function checkSticky(cred: Cred, dir: Inode, victim: Inode): void {
  if (!(dir.mode & S_ISVTX)) return;
  if (cred.uid === 0 || cred.uid === victim.uid || cred.uid === dir.uid) return;
  throw new FsError('EPERM', `sticky directory ${dir.ino}`);
}

/** The mode after a write or truncate: S_ISUID goes, and S_ISGID when group-executable. */
export function killPriv(mode: number): number {
  let m = mode & ~S_ISUID;
  if (mode & S_IXGRP) m &= ~S_ISGID;
  return m;
}
