// The pfs_fuse_ll addon (native/pfs_fuse_ll*.c) as JS sees it: its functions, the message
// opcodes it dispatches, and loading it. Requests are named by slot ids (a double: generation
// and index); every reply* returns 0, or -ENOENT when the id no longer names a request.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../../common/native/package-root.js';

/** One message: (op, id, ino, fh, x, y, name, name2, data, interrupted); pfs_fuse_ll_ops.c says which field is what per op. */
export type Dispatch = (
  op: number, id: number, ino: number, fh: number, x: number, y: number,
  name: string | undefined, name2: string | undefined, data: Buffer | Float64Array | undefined, interrupted: boolean,
) => void;

export interface LlAddon {
  /** maxRequest above 131072: the own channel offers requests that large (FUSE_MAX_PAGES). */
  mount(mnt: string, optionArg: string, dispatch: Dispatch, notifyDone: (id: number, result: number) => void, pollMode: boolean, features: number, maxRequest: number): object;
  /** JS answered the WRITE whose payload was in write-pool slot `slot` (dispatch's y - 1). */
  releaseWrite(session: object, slot: number): void;
  /** The request size the INIT reply offered with FUSE_MAX_PAGES, 0 if none. */
  negotiated(session: object): number;
  replyErr(id: number, errno: number): number;
  replyEntry(id: number, attr: Float64Array, attrS: number, entryS: number): number;
  replyCreate(id: number, attr: Float64Array, attrS: number, entryS: number, fh: number, openFlags: number): number;
  replyAttr(id: number, attr: Float64Array, attrS: number): number;
  replyOpen(id: number, fh: number, openFlags: number): number;
  replyBuf(id: number, data: Buffer): number;
  replyWrite(id: number, count: number): number;
  replyXattrSize(id: number, size: number): number;
  replyReadlink(id: number, target: string): number;
  replyStatfs(id: number, s: Float64Array): number;
  replyLock(id: number, lock: Float64Array): number;
  /** Entries that fit (and were sent), or -ENOENT. */
  replyDir(id: number, size: number, names: string[], inos: number[], modes: number[], offs: number[]): number;
  callerContext(id: number): [number, number, number, number] | null;
  notifyInvalInode(session: object, id: number, ino: number, offset: number, length: number): number;
  notifyInvalEntry(session: object, id: number, parent: number, name: string): number;
  markCapabilityAbsent(session: object, ino: number): number;
  clearCapability(session: object, ino: number): number;
  capabilityAnswers(session: object): number;
  stats(): [number, number];
}

/** Message opcodes (pfs_fuse_ll.h). */
export const OP = {
  INIT: 0, END: 1, LOOKUP: 2, FORGET: 3, GETATTR: 4, SETATTR: 5, OPENDIR: 6, READDIR: 7, RELEASEDIR: 8, OPEN: 9,
  READ: 10, WRITE: 11, FLUSH: 12, RELEASE: 13, FSYNC: 14, CREATE: 15, MKDIR: 16, LINK: 17, UNLINK: 18, STATFS: 19,
  READLINK: 20, MKNOD: 21, RMDIR: 22, SYMLINK: 23, RENAME: 24, FSYNCDIR: 25, SETXATTR: 26, GETXATTR: 27, LISTXATTR: 28,
  REMOVEXATTR: 29, ACCESS: 30, GETLK: 31, SETLK: 32, FLOCK: 33, INTERRUPT: 34,
} as const;

/** Op names by opcode, for error reports. */
export const OP_NAMES: readonly string[] = Object.entries(OP).sort((a, b) => a[1] - b[1]).map(([k]) => k.toLowerCase());

/** mount() features: which lock handlers the table has (they change what libfuse asks of the kernel at INIT). */
export const FEAT = { POSIX_LOCKS: 1, FLOCK: 2 } as const;

let addon: LlAddon | null | undefined;

export function lowLevelAddonPath(): string | null {
  const root = packageRoot();
  const p = root && join(root, 'src', 'agent', 'fuse', 'binding', 'native', 'build', 'pfs_fuse_ll.node');
  return p && existsSync(p) ? p : null;
}

export function loadLowLevelAddon(): LlAddon {
  if (addon === undefined) {
    const path = process.platform === 'linux' ? lowLevelAddonPath() : null;
    addon = null;
    if (path) {
      const mod = { exports: {} as LlAddon };
      process.dlopen(mod, path); // local symbols: nothing here interposes libfuse
      addon = mod.exports;
    }
  }
  if (!addon) throw Object.assign(new Error('pfs_fuse_ll addon not built (node src/agent/fuse/binding/native/build.mjs)'), { code: 'ENOTSUP' });
  return addon;
}

/** Process-wide: wakeups of the JS thread and the requests (and forgets) they carried. */
export function lowLevelStats(): { wakeups: number; messages: number } {
  const [wakeups, messages] = loadLowLevelAddon().stats();
  return { wakeups, messages };
}
