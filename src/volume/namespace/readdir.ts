/**
 * readdir with stable cookies, and statvfs.
 * Cookies: '.' is 1, '..' is 2, every entry keeps the cookie it got from its directory's
 * next_cookie counter when it was made (never reused within the directory). Listing resumes
 * after the given cookie, so an entry present for the whole listing is returned exactly once,
 * whatever else is added, removed or renamed meanwhile.
 */
import { FsError } from '../../common/errors/index.js';
import { NAME_MAX, R_OK } from '../../common/protocol/index.js';
import type { Cred, DirEntry, Ino, StatVfs } from '../../common/protocol/index.js';
import { mustInode, type Ctx } from './context.js';
import { isDir, toAttr, type Inode } from './inode-store.js';
import { requirePermission } from './permissions.js';

export const DOT_COOKIE = 1;
export const DOTDOT_COOKIE = 2;

function dirEntry(name: string, inode: Inode, cookie: number, plus: boolean): DirEntry {
  const e: DirEntry = { name, ino: inode.ino, mode: inode.mode, cookie };
  if (plus) e.attr = toAttr(inode);
  return e;
}

export function readdir(ctx: Ctx, cred: Cred, ino: Ino, cookie: number, maxEntries: number, plus: boolean): { entries: DirEntry[]; eof: boolean } {
  const dir = mustInode(ctx, ino);
  if (!isDir(dir.mode)) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
  requirePermission(cred, dir, R_OK);
  const max = Math.max(1, Math.floor(maxEntries) || 1);
  const entries: DirEntry[] = [];
  if (cookie < DOT_COOKIE) entries.push(dirEntry('.', dir, DOT_COOKIE, plus));
  if (cookie < DOTDOT_COOKIE && entries.length < max) {
    entries.push(dirEntry('..', mustInode(ctx, ctx.store.parentOf(dir.ino)), DOTDOT_COOKIE, plus));
  }
  const room = max - entries.length;
  const rows = ctx.store.entriesAfter(dir.ino, Math.max(cookie, DOTDOT_COOKIE), room + 1);
  for (const { entry, inode } of rows.slice(0, room)) entries.push(dirEntry(entry.name, inode, entry.cookie, plus));
  const more = rows.length > room || entries.at(-1)?.cookie === DOT_COOKIE;
  return { entries, eof: !more };
}

const FRSIZE = 4096;
/** What df shows of a volume with no Capacity on a store that does not say (Swift, S3). */
const UNLIMITED_BYTES = 2 ** 50;
const MAX_FILES = 2 ** 40;

/**
 * Size: Capacity when set, else used + the free space of a local store's filesystem, else
 * 1 PiB. Free: what Capacity leaves, never more than the local store's filesystem has free.
 * Files: InodeLimit when set, else 2^40.
 */
export function statvfs(ctx: Ctx): StatVfs {
  const usedBytes = ctx.fileData.usedBytes();
  const space = ctx.limits.storeSpace?.();
  const cap = ctx.limits.capacityBytes;
  let totalBytes = cap ?? (space ? usedBytes + space.availBytes : UNLIMITED_BYTES);
  let freeBytes = Math.max(0, totalBytes - usedBytes);
  if (space) freeBytes = Math.min(freeBytes, space.availBytes);
  totalBytes = Math.max(totalBytes, usedBytes);
  const blocks = Math.ceil(totalBytes / FRSIZE);
  const bfree = Math.floor(freeBytes / FRSIZE);
  const maxFiles = ctx.limits.inodes ?? MAX_FILES;
  const ffree = Math.max(0, maxFiles - ctx.store.countInodes());
  return {
    bsize: FRSIZE, frsize: FRSIZE, blocks, bfree, bavail: bfree,
    files: maxFiles, ffree, favail: ffree, namemax: NAME_MAX,
  };
}
