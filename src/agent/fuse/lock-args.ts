/**
 * Lock arguments between the binding and the VFS: the binding's (start, len) with len 0 = to
 * end of file, and 'rdlck' / 'wrlck' / 'unlck'; the VFS's and the protocol's [start, end) with
 * end -1 = to end of file, and 'read' / 'write' / 'unlock'. The lock owner, a 64-bit kernel
 * value, is sent as its decimal string.
 */
import type { LockConflict } from '../../common/protocol/index.js';
import type { SetLockRequest } from '../vfs/index.js';
import type { FuseFlockRequest, FuseLock, FuseLockRequest, FuseLockType } from './binding/index.js';

const TYPES = { rdlck: 'read', wrlck: 'write', unlck: 'unlock' } as const;

export function ownerString(owner: bigint): string {
  return owner.toString(10);
}

export function endOf(start: number, len: number): number {
  return len === 0 ? -1 : start + len;
}

export function decodeLock(lk: FuseLockRequest, wait: boolean): SetLockRequest {
  return { type: TYPES[lk.type], start: lk.start, end: endOf(lk.start, lk.len), wait, pid: lk.pid, closing: lk.closing, signal: lk.signal };
}

/** LOCK_SH / LOCK_EX / LOCK_UN; pid is the caller's (the binding gives flock none). */
export function decodeFlock(op: FuseFlockRequest, pid: number): SetLockRequest {
  const type = op.op === 'shared' ? 'read' : op.op === 'exclusive' ? 'write' : 'unlock';
  return { type, start: 0, end: -1, wait: !op.nonblock, pid, closing: op.closing, signal: op.signal };
}

/** F_GETLK's answer: the conflicting lock, or type 'unlck' for none. */
export function encodeConflict(c: LockConflict | undefined): FuseLock {
  if (!c) return { type: 'unlck', start: 0, len: 0, pid: 0 };
  const type: FuseLockType = c.type === 'read' ? 'rdlck' : 'wrlck';
  return { type, start: c.start, len: c.end === -1 ? 0 : c.end - c.start, pid: c.pid };
}
