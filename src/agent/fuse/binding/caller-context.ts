// Reads what fuse-native does not pass: the caller's uid/gid/pid/umask, create's
// open flags and utimens' exact times. They come from the pfs_fuse_context
// addon (native/pfs_fuse_context.c), which must be loaded with RTLD_GLOBAL
// before fuse-native mounts, so that its fuse_new() wraps fuse-native's ops.

import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../../common/native/package-root.js';

export interface CallerContext {
  uid: number;
  gid: number;
  pid: number;
  umask: number;
}

/** A time to set: seconds and nanoseconds since the epoch. */
export interface TimeSpec {
  sec: number;
  nsec: number;
}

/**
 * One time of utimens: an explicit time, 'now' (UTIME_NOW: the caller asked for
 * the current time, e.g. `touch` or utimensat(..., NULL)), or null (UTIME_OMIT:
 * leave it unchanged). POSIX lets any writer set both times to now, but only
 * the owner set explicit times, so the two must stay apart.
 */
export type UtimensTime = TimeSpec | 'now' | null;

export interface RequestInfo extends CallerContext {
  /** create: the open(2) flags. */
  createFlags?: number;
  /** utimens: exact times; 'now' is UTIME_NOW, null is UTIME_OMIT ("leave unchanged"). */
  utimens?: { atime: UtimensTime; mtime: UtimensTime };
}

export interface ContextAddon {
  lookup(threadLocals: Buffer): number[] | null;
  wrappedMounts(): number;
  UTIME_NOW: number;
  UTIME_OMIT: number;
  /** Set by builds that pass flag_nullpath_ok and turn NULL paths into "" (needed for hard_remove). */
  nullPathOk?: boolean;
  /** hard_remove mounts: how many GETATTRs without a handle were given an open file's handle (fstat of an unlinked file). */
  getattrRewrites?(): number;
  /** Set by builds with the mount registry, lock/flock dispatch and cache invalidation (native-events.ts). */
  locksAndNotify?: boolean;
  /** Marks the getxattr(security.capability) being answered ENODATA as lasting (FUSE-BINDING.md 2.9). */
  markCapabilityAbsent?(threadLocals: Buffer): boolean;
  /** Every lasting ENODATA for security.capability is forgotten. */
  forgetCapabilityAbsence?(): void;
  /** How many getxattr(security.capability) the addon answered itself. */
  capabilityAnswers?(): number;
  /** Set by builds that negotiate FUSE_MAX_PAGES for registerMount's requestBytes (docs/FUSE-BINDING.md 2.8). */
  largeRequests?: boolean;
  /**
   * Registers a mount point before fuse-native mounts it; want: 1 lock, 2 flock; requestBytes: the
   * largest request to negotiate above libfuse 2's 128 KiB (0: none). 0 = no free slot.
   */
  registerMount?(mountPoint: string, want: number, requestBytes?: number): number;
  /** The mount failed: forget the registration. */
  abandonMount?(id: number): void;
  /**
   * [started, wrapped, installed (1 lock | 2 flock), ended, negotiated], or null for an unknown id.
   * negotiated: -1 until the INIT reply is sent, then the request bytes it offered (0: libfuse's 128 KiB).
   */
  mountState?(id: number): [number, number, number, number, number?] | null;
  /** Once per process: the JS function the addon posts lock requests and events to. */
  setDispatcher?(fn: (kind: number, id: number, mountId: number, ...rest: unknown[]) => void): boolean;
  /** Answers lock/flock request id; false when it is unknown or already answered. */
  lockReply?(id: number, code: number, type: number, start: number, len: number, pid: number): boolean;
  /** Starts a cache invalidation on its own thread: 0, or -errno when it could not start. kind: 0 inode, 1 entry. */
  invalidate?(mountId: number, kind: number, path: string, name: string | null, offset: number, length: number, requestId: number): number;
}

const ADDON_REL = join('src', 'agent', 'fuse', 'binding', 'native', 'build', 'pfs_fuse_context.node');
/** sizeof(fuse_thread_locals_t) in fuse-native 2.2.6 on x86_64; another size means another layout. */
const FUSE_NATIVE_LOCALS_BYTES = 360;
const KIND_CREATE = 1;
const KIND_UTIMENS = 2;

let loaded: ContextAddon | null | undefined;

/** The built addon (native/build.mjs writes it under src/, also used from dist/), or null. */
export function contextAddonPath(): string | null {
  const root = packageRoot();
  const p = root && join(root, ADDON_REL);
  return p && existsSync(p) ? p : null;
}

/** The script that builds the addon. */
export function contextAddonBuildScript(): string | null {
  const root = packageRoot();
  return root && join(root, 'src', 'agent', 'fuse', 'binding', 'native', 'build.mjs');
}

/**
 * Loads the addon once per process (dlopen is process-wide anyway); null when it
 * is not built or cannot load. Call before fuse-native's first mount.
 */
export function loadContextAddon(): ContextAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const path = process.platform === 'linux' ? contextAddonPath() : null;
  if (path) {
    const mod = { exports: {} as ContextAddon };
    process.dlopen(mod, path, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
    loaded = mod.exports;
  }
  return loaded;
}

/** Decodes the addon's reply for the request whose thread locals are given. */
export function readRequest(addon: ContextAddon, threadLocals: Buffer): RequestInfo | null {
  if (threadLocals.length !== FUSE_NATIVE_LOCALS_BYTES) return null;
  const v = addon.lookup(threadLocals);
  if (!v) return null;
  const [uid, gid, pid, umask, kind, flags, aSec, aNsec, mSec, mNsec] = v as [
    number, number, number, number, number, number, number, number, number, number,
  ];
  const info: RequestInfo = { uid, gid, pid, umask };
  if (kind === KIND_CREATE) info.createFlags = flags;
  if (kind === KIND_UTIMENS) {
    const time = (sec: number, nsec: number): UtimensTime =>
      nsec === addon.UTIME_OMIT ? null : nsec === addon.UTIME_NOW ? 'now' : { sec, nsec };
    info.utimens = { atime: time(aSec, aNsec), mtime: time(mSec, mNsec) };
  }
  return info;
}

/** fuse-native's whole-ms time as a TimeSpec. */
export function msToSpec(ms: number): TimeSpec {
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1e6 };
}
