// A subclass of fuse-native's Fuse, made per mount, that
//  - replaces _fuseOptions() with our own option string (mount-options.ts),
//  - remembers which native request is being dispatched, so the caller's
//    uid/gid/pid can be looked up while a handler starts (caller-context.ts),
//  - fixes 2.2.6 adapters: fgetattr called ops.getattr; getxattr overflowed a
//    too-small buffer instead of answering ERANGE; create gets its open flags
//    and utimens its real mtime (both from the context addon, when loaded).
// Overriding methods of the installed package keeps `npm ci` the only install
// step: nothing in node_modules is edited.

import type Fuse from 'fuse-native';
import { msToSpec, type RequestInfo } from './caller-context.js';
import type { FuseOps } from './types.js';

const ERANGE = -34;
const ENODATA = -61;

/** Set while a native request is being handed to a handler (synchronously). */
export interface DispatchTracker {
  /** fuse-native's per-FUSE-thread locals buffer of the request now starting, or null. */
  current: Buffer | null;
}

/** Reads the request being dispatched (tracker.current), or null without the addon. */
export type RequestReader = () => RequestInfo | null;

/** Marks the request whose thread locals are given as answered ENODATA for good (security.capability). */
export type AbsenceMarker = (threadLocals: Buffer) => void;

export function definePfsFuse(Base: typeof Fuse, optionArg: string, tracker: DispatchTracker, readRequest: RequestReader, markAbsent: AbsenceMarker | null = null): typeof Fuse {
  return class PfsFuse extends Base {
    protected override _fuseOptions(): string {
      return optionArg;
    }

    protected override _makeHandlerArray(): Array<Fuse.NativeHandler | undefined> {
      const handlers = super._makeHandlerArray();
      return handlers.map((handler) => {
        if (!handler) return handler;
        return function (this: unknown, threadLocals: Buffer, opcode: number, ...args: unknown[]) {
          tracker.current = threadLocals;
          try {
            return handler.call(this, threadLocals, opcode, ...args);
          } finally {
            tracker.current = null;
          }
        };
      });
    }

    protected override _op_fgetattr(signal: Fuse.Signal, path: string, fd: number): void {
      const fgetattr = this.ops.fgetattr;
      if (!fgetattr) {
        super._op_fgetattr(signal, path, fd);
        return;
      }
      fgetattr(path, fd, (code, stat) => {
        if (code) signal(code);
        else signal(0, statToArray(stat));
      });
    }

    protected override _op_create(signal: Fuse.Signal, path: string, mode: number): void {
      const create = (this.ops as FuseOps).create!;
      create(path, mode, readRequest()?.createFlags ?? null, (code, fd) => signal(code, fd));
    }

    protected override _op_utimens(signal: Fuse.Signal, path: string, aLow: number, aHigh: number, mLow: number, mHigh: number): void {
      const exact = readRequest()?.utimens;
      // Without the addon fuse-native sends atime twice (its C code): both are the atime.
      const atime = exact ? exact.atime : msToSpec(aLow + aHigh * 4294967296);
      const mtime = exact ? exact.mtime : msToSpec(mLow + mHigh * 4294967296);
      (this.ops as FuseOps).utimens!(path, atime, mtime, (code) => signal(code));
    }

    protected override _op_getxattr(signal: Fuse.Signal, path: string, name: string, valueBuf: Buffer, position: number): void {
      const locals = tracker.current;
      (this.ops as FuseOps).getxattr!(path, name, position, (code, value, absentKnown) => {
        // Before the reply: the addon's record of this request lives until its reply is taken.
        if (absentKnown === true && code === ENODATA && locals && markAbsent && name === 'security.capability') markAbsent(locals);
        if (code) return signal(code, valueBuf.buffer);
        if (!value) return signal(ENODATA, valueBuf.buffer);
        if (valueBuf.length === 0) return signal(value.length, valueBuf.buffer); // size query
        if (value.length > valueBuf.length) return signal(ERANGE, valueBuf.buffer);
        value.copy(valueBuf);
        return signal(value.length, valueBuf.buffer);
      });
    }
  };
}

/** fuse-native's getStatArray (not exported): 18 uint32, 64-bit values as low/high. */
export function statToArray(stat: Fuse.Stat | undefined): Uint32Array {
  const ints = new Uint32Array(18);
  const setDouble = (idx: number, n: number): void => {
    ints[idx] = n % 4294967296;
    ints[idx + 1] = (n - (n % 4294967296)) / 4294967296;
  };
  const ms = (t: Date | number | undefined): number => (typeof t === 'number' ? t : t ? t.getTime() : Date.now());
  ints[0] = stat?.mode ?? 0;
  ints[1] = stat?.uid ?? 0;
  ints[2] = stat?.gid ?? 0;
  setDouble(3, stat?.size ?? 0);
  ints[5] = stat?.dev ?? 0;
  ints[6] = stat?.nlink || 1;
  ints[7] = stat?.ino ?? 0;
  ints[8] = stat?.rdev ?? 0;
  ints[9] = stat?.blksize ?? 0;
  setDouble(10, stat?.blocks ?? 0);
  setDouble(12, ms(stat?.atime));
  setDouble(14, ms(stat?.mtime));
  setDouble(16, ms(stat?.ctime));
  return ints;
}
