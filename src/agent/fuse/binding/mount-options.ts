// The mount option builder that replaces fuse-native's _fuseOptions().
//
// fuse-native 2.2.6 passes exactly one argument, "-o<opt>,<opt>,...", to libfuse
// 2.9 (fuse_mount, then fuse_new). It knows only some options and drops every
// falsy value (attr_timeout=0 cannot be said). This builder knows the libfuse
// 2.9.9 options pfs needs, writes 0 when 0 is asked, and refuses what libfuse
// would refuse: an unknown option makes fuse_new fail AFTER fuse_mount has
// mounted, which leaves a dead mount (ENOTCONN) behind.

/** libfuse 2.9 alone caps a FUSE request at 128 KiB (it does not negotiate max_pages). */
export const LIBFUSE2_MAX_WRITE_BYTES = 131072;
/**
 * Largest request with the context addon, which negotiates FUSE_MAX_PAGES (kernel 4.20+;
 * docs/FUSE-BINDING.md 2.8): 256 pages, the kernel's default fs.fuse.max_pages_limit.
 */
export const MAX_REQUEST_BYTES = 1 << 20;
/** fuse-native copies the option string into a 1024-byte C buffer and truncates silently. */
const MAX_OPTION_ARG_BYTES = 1023;

export interface FuseMountOptions {
  /** Source column of /proc/mounts (fsname=). Letters, digits and . _ : @ / + = - only. */
  fsname?: string;
  /** Type becomes fuse.<subtype> (subtype=). Letters, digits and . _ - only. */
  subtype?: string;
  /** Let users other than the mounter use the mount (allow_other). Default false. */
  allowOther?: boolean;
  /** Kernel checks permissions from the mode/uid/gid that getattr returns (default_permissions). Default false. */
  defaultPermissions?: boolean;
  /** fusermount unmounts when the process dies, even by SIGKILL (auto_unmount). Default true. */
  autoUnmount?: boolean;
  /** Mount read-only (ro). Default false. */
  readOnly?: boolean;
  /** Allow mounting over a non-empty directory (nonempty). Default false. */
  nonempty?: boolean;
  /** Writes larger than 4 KiB (big_writes). Default true. */
  bigWrites?: boolean;
  /**
   * Largest write request (max_write). Default 131072, libfuse 2's own limit. Up to
   * MAX_REQUEST_BYTES (a multiple of 4096) with the context addon, which also lets reads grow to
   * max_read (createFuseMount refuses more than 131072 without it).
   */
  maxWriteBytes?: number;
  /** Largest read request (mount option max_read). Default unset (kernel default). */
  maxReadBytes?: number;
  /** Kernel read-ahead window (max_readahead). Default unset (libfuse takes the kernel's). */
  maxReadaheadBytes?: number;
  /** Kernel queue of background requests: read-ahead, async writes (max_background). libfuse default 12. */
  maxBackground?: number;
  /** Queue length at which the kernel marks the bdi congested (congestion_threshold). libfuse default 3/4 of maxBackground. */
  congestionThreshold?: number;
  /** How long the kernel caches attributes (attr_timeout). libfuse default 1000 ms. */
  attrTimeoutMs?: number;
  /** How long the kernel caches a name lookup (entry_timeout). libfuse default 1000 ms. */
  entryTimeoutMs?: number;
  /** How long the kernel caches a failed lookup (negative_timeout). libfuse default 0. */
  negativeTimeoutMs?: number;
  /** Take st_ino from getattr (use_ino). fuse-native sends ino as uint32. Default false. */
  useIno?: boolean;
  /** Keep the page cache across opens (kernel_cache). Default false. */
  kernelCache?: boolean;
  /** Keep the page cache across opens while mtime/size are unchanged (auto_cache). Default false. */
  autoCache?: boolean;
  /** Bypass the page cache (direct_io). Default false. */
  directIo?: boolean;
  /** Pass O_TRUNC to open instead of calling truncate first (atomic_o_trunc). Default false. */
  atomicOTrunc?: boolean;
  /**
   * Unlink immediately even when the file is open, no .fuse_hidden files (hard_remove). Default false.
   * createFuseMount refuses it without the context addon. fd-based handlers then get path '' for a
   * file that lost its name and must go by the fd (docs/FUSE-BINDING.md 2.7).
   */
  hardRemove?: boolean;
  /** Let a signal interrupt a waiting request (intr). Default false. */
  intr?: boolean;
  /** libfuse's own request trace on stderr (debug). Default false. */
  debug?: boolean;
}

const FSNAME_RE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
const SUBTYPE_RE = /^[A-Za-z0-9._-]{1,32}$/;

/** The libfuse option list, e.g. ["big_writes", "max_write=131072", ...], in a stable order. */
export function buildMountOptions(input: FuseMountOptions = {}): string[] {
  const o = { autoUnmount: true, bigWrites: true, maxWriteBytes: LIBFUSE2_MAX_WRITE_BYTES, ...input };
  const out: string[] = [];
  const flag = (on: boolean | undefined, name: string): void => {
    if (on === true) out.push(name);
  };
  const int = (value: number | undefined, name: string, min: number, max: number): void => {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`mount option ${name}: ${value} is not an integer in [${min}, ${max}]`);
    }
    out.push(`${name}=${value}`);
  };
  const seconds = (ms: number | undefined, name: string): void => {
    if (ms === undefined) return;
    if (!Number.isFinite(ms) || ms < 0 || ms > 1e9) {
      throw new RangeError(`mount option ${name}: ${ms} ms is not a duration`);
    }
    // libfuse parses a double; keep ms precision without exponent notation.
    out.push(`${name}=${Number((ms / 1000).toFixed(3))}`);
  };
  const str = (value: string | undefined, name: string, re: RegExp): void => {
    if (value === undefined) return;
    if (!re.test(value)) throw new RangeError(`mount option ${name}: ${JSON.stringify(value)} must match ${re}`);
    out.push(`${name}=${value}`);
  };

  flag(o.debug, 'debug');
  str(o.fsname, 'fsname', FSNAME_RE);
  str(o.subtype, 'subtype', SUBTYPE_RE);
  flag(o.allowOther, 'allow_other');
  flag(o.defaultPermissions, 'default_permissions');
  flag(o.autoUnmount, 'auto_unmount');
  flag(o.readOnly, 'ro');
  flag(o.nonempty, 'nonempty');
  flag(o.bigWrites, 'big_writes');
  int(o.maxWriteBytes, 'max_write', 4096, MAX_REQUEST_BYTES);
  if (o.maxWriteBytes !== undefined && o.maxWriteBytes > LIBFUSE2_MAX_WRITE_BYTES && o.maxWriteBytes % 4096 !== 0) {
    throw new RangeError(`mount option max_write: ${o.maxWriteBytes} above ${LIBFUSE2_MAX_WRITE_BYTES} must be a multiple of 4096`);
  }
  int(o.maxReadBytes, 'max_read', 4096, 1 << 30);
  int(o.maxReadaheadBytes, 'max_readahead', 0, 1 << 30);
  int(o.maxBackground, 'max_background', 1, 65535);
  int(o.congestionThreshold, 'congestion_threshold', 1, 65535);
  seconds(o.attrTimeoutMs, 'attr_timeout');
  seconds(o.entryTimeoutMs, 'entry_timeout');
  seconds(o.negativeTimeoutMs, 'negative_timeout');
  flag(o.useIno, 'use_ino');
  flag(o.kernelCache, 'kernel_cache');
  flag(o.autoCache, 'auto_cache');
  flag(o.directIo, 'direct_io');
  flag(o.atomicOTrunc, 'atomic_o_trunc');
  flag(o.hardRemove, 'hard_remove');
  flag(o.intr, 'intr');

  if (o.congestionThreshold !== undefined && o.maxBackground !== undefined && o.congestionThreshold > o.maxBackground) {
    throw new RangeError('mount option congestion_threshold must not exceed max_background');
  }
  return out;
}

/** The one argv string fuse-native hands to libfuse: "" or "-o" + options joined by ",". */
export function formatOptionArg(options: readonly string[]): string {
  if (options.length === 0) return '';
  const arg = '-o' + options.join(',');
  if (Buffer.byteLength(arg) > MAX_OPTION_ARG_BYTES) {
    throw new RangeError(`mount options are ${Buffer.byteLength(arg)} bytes; fuse-native truncates past ${MAX_OPTION_ARG_BYTES}`);
  }
  return arg;
}
