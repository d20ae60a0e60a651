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
   * null leaves that time unchanged (UTIME_OMIT); "now" arrives as the current time.
   * Exact to the ns with the context addon; without it both are fuse-native's atime in ms.
   */
  utimens?(path: string, atime: TimeSpec | null, mtime: TimeSpec | null, done: FuseDone): void;
}

export type FuseOpName = keyof FuseOps;
