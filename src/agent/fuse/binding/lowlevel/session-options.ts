// createLowLevelSession's options: createFuseMount's mount options minus those only libfuse's
// high-level API knows (fuse_lowlevel_new refuses them after fuse_mount mounted, leaving a dead
// mount: they are refused here, before anything is mounted), formatted by the same builder.

import { buildMountOptions, formatOptionArg, type FuseMountOptions } from '../mount-options.js';

/** Mount options libfuse 2.9's mount and low-level session take. */
export type LowLevelMountOptions = Pick<FuseMountOptions,
  'fsname' | 'subtype' | 'allowOther' | 'defaultPermissions' | 'autoUnmount' | 'readOnly' | 'nonempty' | 'bigWrites' |
  'maxWriteBytes' | 'maxReadBytes' | 'maxReadaheadBytes' | 'maxBackground' | 'congestionThreshold' | 'atomicOTrunc' | 'debug'>;

export interface LowLevelSessionOptions extends LowLevelMountOptions {
  /**
   * Who reads /dev/fuse: 'poll' (default), the JS thread itself when libuv reports the
   * descriptor readable (no thread hop); 'thread', a libfuse loop thread that queues requests and
   * wakes the JS thread once per batch.
   */
  reader?: 'poll' | 'thread';
  /** How long mount() waits for the kernel's INIT. Default 10 000 ms. */
  mountTimeoutMs?: number;
  /**
   * Raise the mount's read-ahead window (its bdi's read_ahead_kb, root only) to at least this
   * many bytes once mounted; session.readAhead says what it is. Default: the kernel's.
   */
  readAheadBytes?: number;
  /**
   * READDIRPLUS (FUSE_DO_READDIRPLUS). Refused: libfuse 2.9 cannot offer it without the own
   * channel (docs/FUSE-BINDING.md 8.7 step 2), and this session does not fake it.
   */
  readdirplus?: boolean;
  /** A handler mistake (throw, second reply): reported, and answered EIO when still open. Default: console.error. */
  onHandlerError?: (op: string, err: unknown) => void;
}

const MOUNT_KEYS: ReadonlyArray<keyof LowLevelMountOptions> = ['fsname', 'subtype', 'allowOther', 'defaultPermissions', 'autoUnmount', 'readOnly',
  'nonempty', 'bigWrites', 'maxWriteBytes', 'maxReadBytes', 'maxReadaheadBytes', 'maxBackground', 'congestionThreshold', 'atomicOTrunc', 'debug'];

/** Options of createFuseMount that belong to libfuse's high-level API, and what replaces them here. */
const HIGH_LEVEL_ONLY: Record<string, string> = {
  attrTimeoutMs: 'each attr/entry reply carries its own timeouts (LlTimeouts)',
  entryTimeoutMs: 'each attr/entry reply carries its own timeouts (LlTimeouts)',
  negativeTimeoutMs: 'answer r.noEntry(timeouts)',
  useIno: 'node ids are the inode numbers the entry replies give',
  kernelCache: 'answer open with { keepCache: true }',
  autoCache: 'answer open with { keepCache } or invalidate by node id',
  directIo: 'answer open with { directIo: true }',
  hardRemove: 'the low-level API has no hidden files: unlink is always immediate',
  intr: 'interrupts always reach handlers as r.signal',
  handlerTimeouts: 'handlers answer when they are done',
  mkdir: 'create the mount directory first',
};

/** The one "-o..." argument for libfuse; throws RangeError for what this session cannot do. */
export function lowLevelOptionArg(opts: LowLevelSessionOptions): string {
  for (const key of Object.keys(opts)) {
    const instead = HIGH_LEVEL_ONLY[key];
    if (instead !== undefined && (opts as Record<string, unknown>)[key] !== undefined) {
      throw new RangeError(`createLowLevelSession: option ${key} is libfuse high-level only (${instead})`);
    }
  }
  if (opts.readdirplus) {
    throw new RangeError('createLowLevelSession: readdirplus needs the own FUSE channel (docs/FUSE-BINDING.md 8.7 step 2), not built yet: libfuse 2.9 never offers READDIRPLUS');
  }
  if (opts.reader !== undefined && opts.reader !== 'poll' && opts.reader !== 'thread') {
    throw new RangeError(`createLowLevelSession: reader ${String(opts.reader)} is neither 'poll' nor 'thread'`);
  }
  // Only the keys given: buildMountOptions' defaults (auto_unmount, big_writes, max_write) stay.
  const picked = Object.fromEntries(MOUNT_KEYS.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]])) as LowLevelMountOptions;
  return formatOptionArg(buildMountOptions(picked));
}
