// createFuseMount: one FUSE mount over fuse-native, with our mount options,
// guarded handlers, configurable handler timeouts, and promise lifecycle.

import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type Fuse from 'fuse-native';

import { buildMountOptions, formatOptionArg, type FuseMountOptions } from './mount-options.js';
import { guardOps, toFuseNativeTimeout, type HandlerErrorReporter, type HandlerTimeouts } from './op-guard.js';
import { definePfsFuse, type DispatchTracker } from './pfs-fuse-class.js';
import { loadContextAddon, readRequest, type CallerContext } from './caller-context.js';
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
}

export interface FuseMount {
  readonly mountPoint: string;
  /** The exact "-o..." argument given to libfuse. */
  readonly optionArg: string;
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
  const { handlerTimeouts, mountTimeoutMs = 10_000, mkdir = false, onHandlerError, ...mountOptions } = options;
  const mnt = resolve(mountPoint);
  const optionArg = formatOptionArg(buildMountOptions(mountOptions));
  const timeout = toFuseNativeTimeout(handlerTimeouts ?? { defaultMs: false });
  const report: HandlerErrorReporter = onHandlerError ?? ((op, err) => console.error(`fuse ${op}:`, err));

  // The addon must be in the global symbol scope before fuse-native's first mount.
  const addon = loadContextAddon();
  const hardRemove = mountOptions.hardRemove === true;
  if (hardRemove) assertHardRemoveSupported(addon);
  const FuseNative = loadFuseNative();
  const tracker: DispatchTracker = { current: null };
  const current = () => (addon && tracker.current ? readRequest(addon, tracker.current) : null);
  const PfsFuse = definePfsFuse(FuseNative, optionArg, tracker, current);
  const fuse = new PfsFuse(mnt, guardOps(ops, report), { timeout, mkdir });

  return {
    mountPoint: mnt,
    optionArg,
    hasCallerContext: addon !== null,
    hardRemove,

    async mount(): Promise<void> {
      // Something already mounted there is not ours to clean up after a failure.
      const mountedBefore = await isMounted(mnt);
      const wrappedBefore = addon?.wrappedMounts() ?? 0;
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
      } catch (err) {
        // fuse_new can fail after fuse_mount succeeded, leaving a dead mount.
        if (!mountedBefore) await forceUnmount(mnt).catch(() => undefined);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },

    async unmount(): Promise<void> {
      await new Promise<void>((ok, fail) => fuse.unmount((err) => (err ? fail(err) : ok())));
    },

    callerContext(): CallerContext | null {
      const info = current();
      return info ? { uid: info.uid, gid: info.gid, pid: info.pid, umask: info.umask } : null;
    },
  };
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
