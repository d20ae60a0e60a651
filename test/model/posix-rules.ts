/**
 * The small rules the reference model shares between its operations: callers, permission
 * classes, name checks. Written from the Linux man pages and fs/namei.c, independently of
 * src/volume/namespace, so that the property test compares two readings of the same rules.
 */
import { FsError, type FsErrorCode } from '../../src/common/errors/index.js';
import type { Cred } from '../../src/common/protocol/index.js';

export type NodeType = 'dir' | 'reg' | 'lnk' | 'fifo' | 'chr';

export const TYPE_BITS: Record<NodeType, number> = {
  dir: 0o040000, reg: 0o100000, lnk: 0o120000, fifo: 0o010000, chr: 0o020000,
};

export interface MNode {
  id: number;
  type: NodeType;
  perm: number;                 // the 0o7777 part of st_mode
  uid: number;
  gid: number;
  links: number;                // entries naming a non-directory
  size: number;
  target?: string;
  entries: Map<string, number>; // directories: name → node id, in the order entries were made
  parent: number;               // directories: the directory holding its entry (root: itself)
  xattrs: Map<string, Buffer>;
}

export function fail(code: FsErrorCode, why = ''): never {
  throw new FsError(code, why);
}

export const ROOT_CRED: Cred = { uid: 0, gid: 0, groups: [] };

export function memberOf(cred: Cred, gid: number): boolean {
  return gid === cred.gid || cred.groups.includes(gid);
}

/** May cred do `want` (bits of rwx = 4|2|1) to n? Root passes all but x on files without any x bit. */
export function allowed(cred: Cred, n: MNode, want: number): boolean {
  if (cred.uid === 0) {
    if ((want & 1) === 0 || n.type === 'dir') return true;
    return (n.perm & 0o111) !== 0;
  }
  const shift = cred.uid === n.uid ? 6 : memberOf(cred, n.gid) ? 3 : 0;
  const have = (n.perm >> shift) & 7;
  return (have & want) === want;
}

export function need(cred: Cred, n: MNode, want: number): void {
  if (!allowed(cred, n, want)) fail('EACCES');
}

/** Sticky-directory rule for removing victim's entry from dir. */
export function stickyOk(cred: Cred, dir: MNode, victim: MNode): boolean {
  return (dir.perm & 0o1000) === 0 || cred.uid === 0 || cred.uid === victim.uid || cred.uid === dir.uid;
}

/** Classifies a final path component the way the namespace validates names. */
export function classify(name: string): 'plain' | '.' | '..' {
  if (name.length === 0) fail('ENOENT');
  if (name.includes('/') || name.includes('\0')) fail('EINVAL');
  if (name === '.' || name === '..') return name;
  if (Buffer.byteLength(name) > 255) fail('ENAMETOOLONG');
  return 'plain';
}

/** S_ISUID goes; S_ISGID goes when the group may execute. */
export function dropSetId(perm: number): number {
  return perm & ~0o4000 & ~((perm & 0o010) !== 0 ? 0o2000 : 0);
}
