/**
 * fsck of the namespace: reads every inode, entry, open and xattr and reports each broken
 * invariant as one line of text. Changes nothing. The invariants:
 * - the root (ROOT_INO) exists and is a directory; no entry names it;
 * - every entry's directory exists and is a directory, and its inode exists;
 * - every other directory has exactly one entry (so '..' is well defined), nlink = 2 + subdirs,
 *   and is reachable from the root (no cycles);
 * - a non-directory's nlink equals the number of entries naming it;
 * - an inode no entry names is a regular file with nlink 0 that some mount holds open;
 * - cookies are >= 3 and below their directory's next_cookie; next_ino is above every inode;
 * - opens and xattrs refer to existing inodes; open counts are positive;
 * - the inode_count counter (when kept) equals the number of inodes.
 */
import { ROOT_INO } from '../../common/protocol/index.js';
import type { Ctx } from './context.js';
import { INODE_COUNT_KEY, isDir, isLnk, isReg } from './inode-store.js';

interface InodeRow { ino: number; mode: number; nlink: number; next_cookie: number; target: Buffer | null }
interface DirentRow { parent: number; name: string; ino: number; cookie: number }

export function check(ctx: Ctx): string[] {
  const db = ctx.md.db;
  const problems: string[] = [];
  const inodes = new Map<number, InodeRow>();
  for (const r of db.prepare('SELECT ino, mode, nlink, next_cookie, target FROM inodes').iterate() as Iterable<InodeRow>) inodes.set(r.ino, r);
  const dirents = db.prepare('SELECT parent, name, ino, cookie FROM dirents').all() as DirentRow[];
  const openCounts = new Map<number, number>();
  for (const r of db.prepare('SELECT mount_id, ino, count FROM opens').all() as { mount_id: string; ino: number; count: number }[]) {
    if (r.count <= 0) problems.push(`open count ${r.count} of inode ${r.ino} on mount ${r.mount_id}`);
    if (!inodes.has(r.ino)) problems.push(`mount ${r.mount_id} holds missing inode ${r.ino} open`);
    openCounts.set(r.ino, (openCounts.get(r.ino) ?? 0) + r.count);
  }
  for (const r of db.prepare('SELECT DISTINCT ino FROM xattrs').all() as { ino: number }[]) {
    if (!inodes.has(r.ino)) problems.push(`xattrs of missing inode ${r.ino}`);
  }

  const counted = ctx.md.getMeta(INODE_COUNT_KEY);
  if (counted !== undefined && Number(counted) !== inodes.size) problems.push(`inode_count counter is ${counted}, the volume has ${inodes.size} inodes`);

  const root = inodes.get(ROOT_INO);
  if (!root) problems.push('root inode missing');
  else if (!isDir(root.mode)) problems.push('root inode is not a directory');

  const links = new Map<number, number>();
  const subdirs = new Map<number, number>();
  const children = new Map<number, number[]>();
  for (const d of dirents) {
    const parent = inodes.get(d.parent);
    const child = inodes.get(d.ino);
    const where = `entry ${JSON.stringify(d.name)} in ${d.parent}`;
    if (!parent) problems.push(`${where}: directory missing`);
    else if (!isDir(parent.mode)) problems.push(`${where}: parent is not a directory`);
    else if (d.cookie < 3 || d.cookie >= parent.next_cookie) problems.push(`${where}: cookie ${d.cookie} outside [3, ${parent.next_cookie})`);
    if (!child) { problems.push(`${where}: inode ${d.ino} missing`); continue; }
    links.set(d.ino, (links.get(d.ino) ?? 0) + 1);
    if (isDir(child.mode)) subdirs.set(d.parent, (subdirs.get(d.parent) ?? 0) + 1);
    const list = children.get(d.parent) ?? [];
    list.push(d.ino);
    children.set(d.parent, list);
  }

  let maxIno = 0;
  for (const i of inodes.values()) {
    maxIno = Math.max(maxIno, i.ino);
    const n = links.get(i.ino) ?? 0;
    if (isDir(i.mode)) {
      const want = i.ino === ROOT_INO ? 0 : 1;
      if (n !== want) problems.push(`directory ${i.ino} has ${n} entries naming it, want ${want}`);
      const nlink = 2 + (subdirs.get(i.ino) ?? 0);
      if (i.nlink !== nlink) problems.push(`directory ${i.ino} has nlink ${i.nlink}, want ${nlink}`);
    } else {
      if (i.nlink !== n) problems.push(`inode ${i.ino} has nlink ${i.nlink} but ${n} entries`);
      if (isLnk(i.mode) && !i.target) problems.push(`symlink ${i.ino} has no target`);
    }
    if (n === 0 && i.ino !== ROOT_INO) {
      if (!isReg(i.mode) || i.nlink !== 0) problems.push(`inode ${i.ino} is named by no entry but has nlink ${i.nlink}`);
      else if (!openCounts.has(i.ino)) problems.push(`inode ${i.ino} is unlinked and open nowhere`);
    }
  }
  const nextIno = Number(ctx.md.getMeta('next_ino') ?? '0');
  if (nextIno <= maxIno) problems.push(`next_ino ${nextIno} is not above the largest inode ${maxIno}`);

  // Reachability: directories whose entries form a cycle are not reached from the root.
  const reached = new Set<number>();
  const stack = root ? [ROOT_INO] : [];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    if (reached.has(dir)) continue;
    reached.add(dir);
    for (const c of children.get(dir) ?? []) {
      const child = inodes.get(c);
      if (child && isDir(child.mode)) stack.push(c);
      else reached.add(c);
    }
  }
  for (const i of inodes.values()) {
    if (!reached.has(i.ino) && (links.get(i.ino) ?? 0) > 0) problems.push(`inode ${i.ino} is not reachable from the root`);
  }
  return problems;
}
