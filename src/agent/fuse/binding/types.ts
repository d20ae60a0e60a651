// The op table the binding accepts: fuse-native 2.2.6's, with create and
// utimens as they should have been (see docs/FUSE-BINDING.md).

import type Fuse from 'fuse-native';
import type { TimeSpec } from './caller-context.js';

/** 0 for success or a negative errno; read/write answer a byte count instead. */
export type FuseCode = number;
export type FuseStat = Fuse.Stat;
export type FuseStatfs = Fuse.Statfs;
export type FuseDone = (code: FuseCode) => void;

export interface FuseOps extends Omit<Fuse.Ops, 'error' | 'create' | 'utimens'> {
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
}

export type FuseOpName = keyof FuseOps;
