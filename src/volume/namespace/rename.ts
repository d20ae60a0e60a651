/**
 * rename(2) / renameat2(2), in Linux's order of checks:
 *   flags (EINVAL) → both parents (ENOENT, ENOTDIR, EACCES) → names ('.'/'..' EBUSY)
 *   → source (ENOENT) → target (EXCHANGE: ENOENT if missing; NOREPLACE: EEXIST if present)
 *   → loops (source an ancestor of newParent: EINVAL; target an ancestor of parent: ENOTEMPTY)
 *   → same inode: success, nothing changes
 *   → may delete source / create or delete target (EACCES, sticky EPERM, ENOTDIR, EISDIR)
 *   → a directory changing parent needs write permission on itself ('..' changes) → EMLINK
 *   → target directory not empty (ENOTEMPTY).
 * A moved entry takes a new cookie in its new directory; exchanged entries keep their cookies.
 */
import { FsError } from '../../common/errors/index.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, W_OK, X_OK } from '../../common/protocol/index.js';
import type { Cred, Ino } from '../../common/protocol/index.js';
import { LINK_MAX, destroy, dropLink, entryInode, mustInode, searchableDir, type Ctx } from './context.js';
import { checkMayDelete } from './entries.js';
import { isDir, type Inode } from './inode-store.js';
import { nameKind } from './names.js';
import { requirePermission } from './permissions.js';

/** Whether `ancestor` is `dir` or one of the directories above it. */
function isAncestorOrSelf(ctx: Ctx, ancestor: Ino, dir: Ino): boolean {
  let cur = dir;
  for (let depth = 0; depth < 1_000_000; depth++) {
    if (cur === ancestor) return true;
    if (cur === ROOT_INO) return false;
    cur = ctx.store.parentOf(cur);
  }
  throw new FsError('ELOOP', 'directory loop');
}

export function rename(ctx: Ctx, cred: Cred, parent: Ino, name: string, newParent: Ino, newName: string, flags: number): void {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new FsError('EINVAL', `rename flags ${flags}`);
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  const noReplace = (flags & RENAME_NOREPLACE) !== 0;
  if (exchange && noReplace) throw new FsError('EINVAL', 'RENAME_EXCHANGE with RENAME_NOREPLACE');

  const oldDir = searchableDir(ctx, cred, parent);
  const newDir = searchableDir(ctx, cred, newParent);
  const oldKind = nameKind(name);
  const newKind = nameKind(newName);
  if (oldKind !== 'normal') throw new FsError('EBUSY', `cannot rename ${name}`);
  if (newKind !== 'normal') throw new FsError(noReplace ? 'EEXIST' : 'EBUSY', `cannot rename onto ${newName}`);

  const src = entryInode(ctx, parent, name);
  const dstEntry = ctx.store.getEntry(newParent, newName);
  const dst = dstEntry ? mustInode(ctx, dstEntry.ino) : undefined;
  if (exchange && !dst) throw new FsError('ENOENT', `no entry ${newName} in ${newParent}`);
  if (noReplace && dst) throw new FsError('EEXIST', `${newName} exists in ${newParent}`);

  if (parent !== newParent) {
    if (isDir(src.mode) && isAncestorOrSelf(ctx, src.ino, newParent)) {
      throw new FsError('EINVAL', 'cannot move a directory into itself');
    }
    if (dst && isDir(dst.mode) && isAncestorOrSelf(ctx, dst.ino, parent)) {
      throw new FsError(exchange ? 'EINVAL' : 'ENOTEMPTY', 'target is an ancestor of the source');
    }
  }
  if (dst && dst.ino === src.ino) return;

  const srcIsDir = isDir(src.mode);
  const dstIsDir = dst ? isDir(dst.mode) : false;
  checkMayDelete(cred, oldDir, src);
  if (!dst) {
    requirePermission(cred, newDir, W_OK | X_OK);
  } else {
    checkMayDelete(cred, newDir, dst);
    if (!exchange && srcIsDir && !dstIsDir) throw new FsError('ENOTDIR', `${newName} is not a directory`);
    if (!exchange && !srcIsDir && dstIsDir) throw new FsError('EISDIR', `${newName} is a directory`);
  }
  if (parent !== newParent) {
    if (srcIsDir) requirePermission(cred, src, W_OK);
    if (exchange && dst && dstIsDir) requirePermission(cred, dst, W_OK);
    if (srcIsDir && !dstIsDir && newDir.nlink >= LINK_MAX) throw new FsError('EMLINK', 'too many subdirectories');
    if (exchange && !srcIsDir && dstIsDir && oldDir.nlink >= LINK_MAX) throw new FsError('EMLINK', 'too many subdirectories');
  }
  if (dst && dstIsDir && !exchange && ctx.store.hasEntries(dst.ino)) throw new FsError('ENOTEMPTY', `${newName} is not empty`);

  const t = ctx.nowNs();
  if (exchange) exchangeEntries(ctx, { parent, name, inode: src }, { parent: newParent, name: newName, inode: dst! }, t);
  else moveEntry(ctx, { parent, name, inode: src }, { parent: newParent, name: newName }, dst, t);
}

interface Place { parent: Ino; name: string }

/** Adds the subdirectory-count changes of two directories (one when they are the same) and sets their times. */
function touchDirs(ctx: Ctx, a: Ino, aDelta: number, b: Ino, bDelta: number, t: bigint): void {
  if (a === b) ctx.store.touchDir(a, aDelta + bDelta, t);
  else { ctx.store.touchDir(a, aDelta, t); ctx.store.touchDir(b, bDelta, t); }
}

function moveEntry(ctx: Ctx, from: Place & { inode: Inode }, to: Place, replaced: Inode | undefined, t: bigint): void {
  const { store } = ctx;
  const srcIsDir = isDir(from.inode.mode);
  if (replaced) store.removeEntry(to.parent, to.name);
  store.removeEntry(from.parent, from.name);
  store.addEntry(to.parent, to.name, from.inode.ino);
  let toDelta = srcIsDir ? 1 : 0;
  if (replaced && isDir(replaced.mode)) toDelta -= 1;
  touchDirs(ctx, from.parent, srcIsDir ? -1 : 0, to.parent, toDelta, t);
  from.inode.ctimeNs = t;
  store.updateInode(from.inode);
  if (replaced) {
    if (isDir(replaced.mode)) destroy(ctx, replaced);
    else dropLink(ctx, replaced, t);
  }
}

function exchangeEntries(ctx: Ctx, a: Place & { inode: Inode }, b: Place & { inode: Inode }, t: bigint): void {
  const { store } = ctx;
  store.setEntryIno(a.parent, a.name, b.inode.ino);
  store.setEntryIno(b.parent, b.name, a.inode.ino);
  const aDir = isDir(a.inode.mode) ? 1 : 0;
  const bDir = isDir(b.inode.mode) ? 1 : 0;
  // a's directory now holds b and vice versa.
  touchDirs(ctx, a.parent, bDir - aDir, b.parent, aDir - bDir, t);
  for (const inode of [a.inode, b.inode]) {
    inode.ctimeNs = t;
    store.updateInode(inode);
  }
}
