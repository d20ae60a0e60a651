// The op table the binding accepts: fuse-native 2.2.6's, with create and
// utimens as they should have been, plus lock and flock, which fuse-native does
// not have (the context addon serves them; see docs/FUSE-BINDING.md).

import type Fuse from 'fuse-native';
import type { TimeSpec } from './caller-context.js';

/** 0 for success or a negative errno; read/write answer a byte count instead. */
export type FuseCode = number;
export type FuseStat = Fuse.Stat;
export type FuseStatfs = Fuse.Statfs;
export type FuseDone = (code: FuseCode) => void;

export interface FuseOps extends Omit<Fuse.Ops, 'error' | 'create' | 'utimens' | 'getxattr'> {
  /**
   * `value` missing or null answers ENODATA. For `security.capability` only, `absentKnown`
   * with ENODATA (-61) says the answer holds until the mount's forgetCapabilityAbsence(): the
   * context addon then answers the kernel's next asks for that file itself (it asks before every
   * write(2)), without calling the handler. See docs/FUSE-BINDING.md 2.9.
   */
  getxattr?(path: string, name: string, position: number, reply: (code: FuseCode, value?: Buffer | null, absentKnown?: boolean) => void): void;
  /** flags: the open(2) flags, or null when the context addon is not loaded. mode includes S_IFREG. */
  create?(path: string, mode: number, flags: number | null, reply: (code: FuseCode, fd?: number) => void): void;
  /**
   * Each time is an explicit TimeSpec, 'now' (UTIME_NOW: set it to the current
   * time; POSIX lets any writer do that for both times, explicit times need the
   * owner) or null (UTIME_OMIT: leave it unchanged). Exact to the ns with the
   * context addon; without it both are fuse-native's atime in whole ms (never
   * 'now' or null).
   */
  utimens?(path: string, atime: TimeSpec | 'now' | null, mtime: TimeSpec | 'now' | null, done: FuseDone): void;

  /**
   * POSIX byte-range locks (fcntl F_GETLK/F_SETLK/F_SETLKW), needs the context
   * addon. Present: the kernel sends every fcntl lock on this mount here instead
   * of keeping it local. `owner` is the kernel's lock owner (one per process's
   * file table), `lk.pid` the locking process (0 for unlock and getlk). getlk
   * replies the conflicting lock (none: omit it or type 'unlck'); setlk answers
   * a conflict with EAGAIN at once; setlkw may wait as long as it likes (it
   * holds one FUSE thread) but must reply EINTR soon after `lk.signal` aborts.
   * `lk.closing`: the unlock libfuse sends when the owner closes a descriptor of
   * the file (only for owners that asked for a lock on it). See docs/FUSE-BINDING.md 5.
   */
  lock?(path: string, fh: number, cmd: FuseLockCmd, lk: FuseLockRequest, owner: bigint, reply: (code: FuseCode, conflict?: FuseLock) => void): void;
  /**
   * BSD flock(2) locks, needs the context addon. `owner` identifies the open
   * file description. op.closing: the unlock of the last close of a file
   * description that used flock. A nonblocking conflict answers EAGAIN
   * (EWOULDBLOCK); a blocking request waits like setlkw (op.signal).
   */
  flock?(path: string, fh: number, op: FuseFlockRequest, owner: bigint, done: FuseDone): void;
}

export type FuseLockCmd = 'getlk' | 'setlk' | 'setlkw';
export type FuseLockType = 'rdlck' | 'wrlck' | 'unlck';

/** A byte range lock: start and len are bytes (len 0 = to the end of file, however it grows). */
export interface FuseLock {
  type: FuseLockType;
  start: number;
  len: number;
  /** The process holding (or asking for) it; 0 when unknown or remote. */
  pid: number;
}

export interface FuseLockRequest extends FuseLock {
  /** libfuse's unlock at close(2) of one of the owner's descriptors: release all of the owner's locks on the file. */
  closing: boolean;
  /** Aborted when the caller was interrupted by a signal: stop waiting and reply EINTR. */
  signal: AbortSignal;
}

export interface FuseFlockRequest {
  op: 'shared' | 'exclusive' | 'unlock';
  /** LOCK_NB: answer EAGAIN at once instead of waiting. */
  nonblock: boolean;
  /** The release of the last descriptor of a file description that used flock. */
  closing: boolean;
  /** Aborted when the caller was interrupted by a signal: stop waiting and reply EINTR. */
  signal: AbortSignal;
}

export type FuseOpName = keyof FuseOps;
