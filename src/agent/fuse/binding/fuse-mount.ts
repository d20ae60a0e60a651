// createFuseMount: one FUSE mount over fuse-native, with our mount options,
// guarded handlers, configurable handler timeouts, lock/flock handlers and
// kernel cache invalidation (context addon), and promise lifecycle.

import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { constants } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type Fuse from 'fuse-native';

import { buildMountOptions, formatOptionArg, LIBFUSE2_MAX_WRITE_BYTES, type FuseMountOptions } from './mount-options.js';
import { guardOps, toFuseNativeTimeout, type HandlerErrorReporter, type HandlerTimeouts } from './op-guard.js';
import { definePfsFuse, type DispatchTracker } from './pfs-fuse-class.js';
import { loadContextAddon, readRequest, type CallerContext, type ContextAddon } from './caller-context.js';
import { createLockSink, type LockDispatchContext } from './lock-ops.js';
import { errnoError, nativeEvents, type MountEventSink, type NativeEvents } from './native-events.js';
import type { FuseOps } from './types.js';

export interface CreateFuseMountOptions extends FuseMountOptions {
  /** Handler timeouts. Default: none (a slow handler is never answered ETIMEDOUT behind its back). */
  handlerTimeouts?: HandlerTimeouts;
  /** How long mount() waits for the kernel's INIT. Default 10 000 ms. */
  mountTimeoutMs?: number;
  /** Create the mount directory if missing (fuse-native `mkdir`). Default false. */
  mkdir?: boolean;
  /** Called for every handler mistake (throw, double reply, bad code). Default: console.error. */
  onHandlerError?: HandlerErrorReporter;
  /**
   * Raise the kernel's read-ahead window of the mount (its bdi's read_ahead_kb, root only) to at
   * least this many bytes once mounted; readAhead() says what it is. Default: the kernel's
   * (128 KiB, so buffered reads arrive as 128 KiB requests whatever max_read allows).
   */
  readAheadBytes?: number;
}

export interface FuseMount {
  readonly mountPoint: string;
  /** The exact "-o..." argument given to libfuse. */
  readonly optionArg: string;
  /**
   * Largest write request the kernel may send, known once mount() resolved: max_write, and above
   * 128 KiB only what the INIT reply negotiated and fs.fuse.max_pages_limit allows (2.8).
   */
  readonly maxRequestBytes: number;
  /**
   * The mount's read-ahead window after mount() (bytes), and why it is not readAheadBytes when
   * raising it failed (not root, no sysfs); null before mount() or without readAheadBytes.
   */
  readonly readAhead: { bytes: number; error?: string } | null;
  /** Resolves once the kernel has sent INIT; on failure nothing stays mounted. */
  mount(): Promise<void>;
  /** Lazy unmount (fusermount -uz); resolves when the mount is gone from the namespace. */
  unmount(): Promise<void>;
  /** True when the context addon is loaded: callerContext() works, create gets flags, utimens exact times. */
  readonly hasCallerContext: boolean;
  /**
   * hard_remove is on: unlinking (or renaming over) an open file really unlinks
   * it (no .fuse_hidden files). fd-based handlers (read, write, flush, release,
   * fsync, ftruncate, fgetattr, readdir, releasedir, fsyncdir) then get path ''
   * for a file or directory that no longer has a name, and must go by the fd.
   */
  readonly hardRemove: boolean;
  /**
   * uid/gid/pid/umask of the process whose request is being dispatched. Valid only
   * synchronously at the start of a handler (before any await or callback); null
   * elsewhere, or when the native context reader is not built.
   */
  callerContext(): CallerContext | null;
  /**
   * Forgets every getxattr(security.capability) ENODATA a handler marked as lasting (the
   * `absentKnown` reply of FuseOps.getxattr); the kernel's next asks reach the handler again.
   * Synchronous: done when it returns. A no-op without the addon (nothing was remembered).
   */
  forgetCapabilityAbsence(): void;
  /** How many getxattr(security.capability) the addon answered without the handler (0 without it). */
  capabilityAnswers(): number;
  /** True when invalidateInode/invalidateEntry can work (context addon with the notify part). */
  readonly canInvalidate: boolean;
  /**
   * Drops what the kernel caches for path: its attributes and, unless
   * attributesOnly, its page cache from offset for length bytes (0: to the end;
   * default all). Resolves true when the kernel had the node, false when it had
   * nothing cached for it. Runs on its own thread: never await it inside a
   * handler of a request on the same file (a read of those pages, a setattr),
   * which the kernel may make it wait for (docs/FUSE-BINDING.md 6.4).
   */
  invalidateInode(path: string, range?: { offset?: number; length?: number; attributesOnly?: boolean }): Promise<boolean>;
  /**
   * Drops the kernel's cached name `name` in directory parentPath (and the
   * directory's attributes): the next access looks it up again. Resolves true
   * when the kernel had a dentry for the name (a negative one, left by a failed
   * lookup, counts). Never await it inside a handler of a request on
   * that directory (lookup, create, mkdir, unlink, rename, readdir...): the
   * kernel holds the directory lock the notification needs.
   */
  invalidateEntry(parentPath: string, name: string): Promise<boolean>;
}

const require = createRequire(import.meta.url);

function loadFuseNative(): typeof Fuse {
  try {
    return require('fuse-native') as typeof Fuse;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot load fuse-native (${msg}); it needs Debian's libfuse2 and fuse: run scripts/install-system-deps.sh fuse`,
      { cause: err },
    );
  }
}

export function createFuseMount(mountPoint: string, ops: FuseOps, options: CreateFuseMountOptions = {}): FuseMount {
  const { handlerTimeouts, mountTimeoutMs = 10_000, mkdir = false, onHandlerError, readAheadBytes, ...mountOptions } = options;
  const { lock, flock, ...fuseNativeOps } = ops;
  const mnt = resolve(mountPoint);
  const optionArg = formatOptionArg(buildMountOptions(mountOptions));
  const timeout = toFuseNativeTimeout(handlerTimeouts ?? { defaultMs: false });
  const report: HandlerErrorReporter = onHandlerError ?? ((op, err) => console.error(`fuse ${op}:`, err));

  // The addon must be in the global symbol scope before fuse-native's first mount.
  const addon = loadContextAddon();
  const hardRemove = mountOptions.hardRemove === true;
  if (hardRemove) assertHardRemoveSupported(addon);
  const events = nativeEvents(addon);
  const want = (typeof lock === 'function' ? WANT_LOCK : 0) | (typeof flock === 'function' ? WANT_FLOCK : 0);
  if (want && !events) throw new Error(`lock/flock handlers need the pfs_fuse_context addon with lock support (${ADDON_HINT})`);
  const maxWrite = mountOptions.maxWriteBytes ?? LIBFUSE2_MAX_WRITE_BYTES;
  const requestBytes = maxWrite > LIBFUSE2_MAX_WRITE_BYTES ? maxWrite : 0;
  if (requestBytes && !(events && addon?.largeRequests)) {
    throw new Error(`max_write above ${LIBFUSE2_MAX_WRITE_BYTES} needs the pfs_fuse_context addon with large requests (${ADDON_HINT})`);
  }
  let maxRequestBytes = Math.min(maxWrite, LIBFUSE2_MAX_WRITE_BYTES);
  let readAhead: { bytes: number; error?: string } | null = null;
  const FuseNative = loadFuseNative();
  const tracker: DispatchTracker = { current: null };
  const lockContext: LockDispatchContext = { current: null };
  const current = () => (addon && tracker.current ? readRequest(addon, tracker.current) : null);
  const markAbsent = addon?.markCapabilityAbsent ? (locals: Buffer) => void addon.markCapabilityAbsent!(locals) : null;
  const PfsFuse = definePfsFuse(FuseNative, optionArg, tracker, current, markAbsent);
  // lock/flock never reach fuse-native (it has no such ops): the addon serves them.
  const fuse = new PfsFuse(mnt, guardOps(fuseNativeOps, report), { timeout, mkdir });
  /** The addon's registration of this mount (0: none); unmounted: invalidations refused. */
  let mountId = 0;
  let unmounted = false;

  const invalidate = (kind: 0 | 1, path: string, name: string | null, offset: number, length: number): Promise<boolean> => {
    if (!events) return Promise.reject(errnoError(-ENOTSUP, `cache invalidation needs the pfs_fuse_context addon (${ADDON_HINT})`));
    if (!mountId || unmounted) return Promise.reject(errnoError(-ENOTCONN, `${mnt} is not mounted`));
    return events.invalidate(mountId, kind, path, name, offset, length);
  };

  return {
    mountPoint: mnt,
    optionArg,
    get maxRequestBytes() {
      return maxRequestBytes;
    },
    get readAhead() {
      return readAhead;
    },
    hasCallerContext: addon !== null,
    hardRemove,
    canInvalidate: events !== null,

    async mount(): Promise<void> {
      // Something already mounted there is not ours to clean up after a failure.
      const mountedBefore = await isMounted(mnt);
      const wrappedBefore = addon?.wrappedMounts() ?? 0;
      if (events) mountId = register(addon!, events, mnt, want, requestBytes, createLockSink({ lock, flock }, addon!, report, lockContext));
      let timer: NodeJS.Timeout | undefined;
      try {
        await new Promise<void>((ok, fail) => {
          timer = setTimeout(() => fail(new Error(`FUSE INIT not received within ${mountTimeoutMs} ms`)), mountTimeoutMs);
          fuse.mount((err) => (err ? fail(err) : ok()));
        });
        // fuse_new ran before INIT. If the addon refused this op table (another
        // fuse.node), NULL paths could reach fuse-native: do not keep the mount.
        if (hardRemove && addon!.wrappedMounts() <= wrappedBefore) {
          await new Promise<void>((ok) => fuse.unmount(() => ok()));
          throw new Error('hardRemove: the context addon did not wrap this mount\'s op table');
        }
        // fuse_new installed lock/flock (libfuse advertised them at INIT), or the kernel keeps locks local.
        const installed = want ? addon!.mountState!(mountId)?.[2] ?? 0 : 0;
        if ((installed & want) !== want) {
          await new Promise<void>((ok) => fuse.unmount(() => ok()));
          throw new Error('lock/flock: the context addon did not install them for this mount');
        }
        if (requestBytes) maxRequestBytes = await negotiatedRequestBytes(addon!, mountId);
        if (readAheadBytes !== undefined) readAhead = await raiseReadAhead(mnt, readAheadBytes);
      } catch (err) {
        if (mountId) {
          addon!.abandonMount!(mountId);
          events!.detach(mountId);
          mountId = 0;
        }
        // fuse_new can fail after fuse_mount succeeded, leaving a dead mount.
        if (!mountedBefore) await forceUnmount(mnt).catch(() => undefined);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },

    async unmount(): Promise<void> {
      unmounted = true;
      await new Promise<void>((ok, fail) => fuse.unmount((err) => (err ? fail(err) : ok())));
    },

    forgetCapabilityAbsence(): void {
      addon?.forgetCapabilityAbsence?.();
    },

    capabilityAnswers(): number {
      return addon?.capabilityAnswers?.() ?? 0;
    },

    callerContext(): CallerContext | null {
      if (lockContext.current) return { ...lockContext.current };
      const info = current();
      return info ? { uid: info.uid, gid: info.gid, pid: info.pid, umask: info.umask } : null;
    },

    async invalidateInode(path, range = {}) {
      checkPath(path);
      const offset = range.attributesOnly ? -1 : range.offset ?? 0;
      const length = range.attributesOnly ? 0 : range.length ?? 0;
      if (!range.attributesOnly && (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)) {
        throw new RangeError(`invalidateInode: offset ${offset} / length ${length} must be integers >= 0`);
      }
      return invalidate(0, path, null, offset, length);
    },

    async invalidateEntry(parentPath, name) {
      checkPath(parentPath);
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > 1024) {
        throw new RangeError(`invalidateEntry: ${JSON.stringify(name)} is not a file name`);
      }
      return invalidate(1, parentPath, name, 0, 0);
    },
  };
}

const WANT_LOCK = 1;
const WANT_FLOCK = 2;
const { ENOTSUP, ENOTCONN } = constants.errno;
const ADDON_HINT = 'node src/agent/fuse/binding/native/build.mjs';

/** Registers mnt with the addon before fuse-native mounts it, and attaches its lock sink. */
function register(addon: ContextAddon, events: NativeEvents, mnt: string, want: number, requestBytes: number, sink: MountEventSink): number {
  const id = addon.registerMount!(mnt, want, requestBytes);
  if (id === 0 && want) throw new Error('lock/flock: the context addon has no free mount slot (64 at once)');
  if (id !== 0) events.attach(id, sink);
  return id;
}

/**
 * The request size the kernel took from the mount's INIT reply (what it offered above 128 KiB,
 * capped at fs.fuse.max_pages_limit pages, 256 when unreadable; else libfuse's 128 KiB). The
 * reply leaves after fuse-native's init handler answered, so just after mount() called back.
 */
async function negotiatedRequestBytes(addon: ContextAddon, mountId: number): Promise<number> {
  let offered = addon.mountState!(mountId)?.[4] ?? 0;
  for (let waited = 0; offered < 0 && waited < 2000; waited += 5) {
    await new Promise((ok) => setTimeout(ok, 5));
    offered = addon.mountState!(mountId)?.[4] ?? 0;
  }
  if (offered <= LIBFUSE2_MAX_WRITE_BYTES) return LIBFUSE2_MAX_WRITE_BYTES;
  const limit = Number((await readFile('/proc/sys/fs/fuse/max_pages_limit', 'utf8').catch(() => '256')).trim()) || 256;
  return Math.max(LIBFUSE2_MAX_WRITE_BYTES, Math.min(offered, limit * 4096));
}

/**
 * Raises the read-ahead window of the mount at mnt (sysfs: /sys/class/bdi/<major:minor>/
 * read_ahead_kb, found from /proc/self/mountinfo; never by a stat of the mount, which this
 * process serves) to at least `bytes`. Never throws: the result says what it is.
 */
export async function raiseReadAhead(mnt: string, bytes: number): Promise<{ bytes: number; error?: string }> {
  let current = 0;
  try {
    const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => unescapeMountPath(l.split(' ')[4] ?? '') === mnt);
    if (!line) return { bytes: 0, error: `${mnt} is not in /proc/self/mountinfo` };
    const file = `/sys/class/bdi/${line.split(' ')[2]}/read_ahead_kb`;
    current = Number((await readFile(file, 'utf8')).trim()) * 1024;
    const want = Math.ceil(bytes / 1024);
    if (current >= want * 1024) return { bytes: current };
    await writeFile(file, String(want));
    return { bytes: Number((await readFile(file, 'utf8')).trim()) * 1024 };
  } catch (err) {
    return { bytes: current, error: (err as Error).message };
  }
}

/** A path on the mount: absolute, no '.', '..' or empty components (the kernel walks it). */
function checkPath(path: string): void {
  const parts = path.split('/');
  const ok = path === '/' || (path.startsWith('/') && !path.includes('\0') && parts.slice(1).every((p) => p !== '' && p !== '.' && p !== '..'));
  if (!ok) throw new RangeError(`${JSON.stringify(path)} is not an absolute path on the mount`);
}

/**
 * Throws unless the loaded context addon makes hard_remove safe. Without it
 * libfuse hands fuse-native a NULL path for an unlinked open file (flush does
 * even without flag_nullpath_ok), and fuse-native makes a JS string from it.
 */
export function assertHardRemoveSupported(addon: { nullPathOk?: boolean } | null): void {
  if (addon?.nullPathOk === true) return;
  throw new Error(
    'hardRemove needs the pfs_fuse_context addon (node src/agent/fuse/binding/native/build.mjs): ' +
      (addon ? 'the loaded build predates the NULL-path fix, rebuild it' : 'it is not built or not loadable'),
  );
}

/** True when mountPoint is a mount point in this namespace (reads /proc/self/mountinfo, async). */
export async function isMounted(mountPoint: string): Promise<boolean> {
  const target = resolve(mountPoint);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === target);
}

/** Unmounts whatever is at mountPoint: fusermount -uz, then umount -l. Resolves when nothing is mounted there. */
export async function forceUnmount(mountPoint: string): Promise<void> {
  const target = resolve(mountPoint);
  if (!(await isMounted(target))) return;
  await run('fusermount', ['-uz', target]).catch(() => undefined);
  if (!(await isMounted(target))) return;
  await run('umount', ['-l', target]);
  if (await isMounted(target)) throw new Error(`could not unmount ${target}`);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    execFile(cmd, args, (err, _stdout, stderr) => (err ? fail(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : ok()));
  });
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
