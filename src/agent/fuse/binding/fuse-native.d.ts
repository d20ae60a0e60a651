// Types for fuse-native 2.2.6 (the package ships none). They describe what the
// code does, not what its README says; docs/FUSE-BINDING.md has the details.
// Only src/agent/fuse/binding/ loads this module.

declare module 'fuse-native' {
  namespace Fuse {
    /** Every reply code: 0 for success or a negative errno (Fuse.ENOENT, ...). */
    type Code = number;
    type Done = (code: Code) => void;

    interface Stat {
      mode: number;
      uid?: number;
      gid?: number;
      /** Sent as two uint32 halves: exact up to 2^53. */
      size?: number;
      dev?: number;
      /** 0 or missing becomes 1. */
      nlink?: number;
      /** uint32 only; used by the kernel only with the use_ino mount option. */
      ino?: number;
      rdev?: number;
      blksize?: number;
      blocks?: number;
      /** Date or ms since the epoch; missing means Date.now(); whole ms only. */
      atime?: Date | number;
      mtime?: Date | number;
      ctime?: Date | number;
    }

    /** Every field is sent as uint32. */
    interface Statfs {
      bsize?: number;
      frsize?: number;
      blocks?: number;
      bfree?: number;
      bavail?: number;
      files?: number;
      ffree?: number;
      favail?: number;
      fsid?: number;
      flag?: number;
      namemax?: number;
    }

    /** The handler table, exactly as fuse-native 2.2.6 calls it (Linux). */
    interface Ops {
      init?(done: Done): void;
      /** Declared by fuse-native, never called on Linux. */
      error?(done: Done): void;
      access?(path: string, mode: number, done: Done): void;
      statfs?(path: string, reply: (code: Code, statfs?: Statfs) => void): void;
      getattr?(path: string, reply: (code: Code, stat?: Stat) => void): void;
      /** fuse-native 2.2.6 calls ops.getattr instead; the binding fixes that. */
      fgetattr?(path: string, fd: number, reply: (code: Code, stat?: Stat) => void): void;
      flush?(path: string, fd: number, done: Done): void;
      fsync?(path: string, datasync: number, fd: number, done: Done): void;
      fsyncdir?(path: string, datasync: number, fd: number, done: Done): void;
      /** Whole directory in one reply; stats, when given, must match names one to one. */
      readdir?(path: string, reply: (code: Code, names?: string[], stats?: Stat[]) => void): void;
      truncate?(path: string, size: number, done: Done): void;
      ftruncate?(path: string, fd: number, size: number, done: Done): void;
      /** BUG in 2.2.6: mtimeMs is a copy of atimeMs (ms precision); see docs. */
      utimens?(path: string, atimeMs: number, mtimeMs: number, done: Done): void;
      readlink?(path: string, reply: (code: Code, target?: string) => void): void;
      chown?(path: string, uid: number, gid: number, done: Done): void;
      chmod?(path: string, mode: number, done: Done): void;
      mknod?(path: string, mode: number, dev: number, done: Done): void;
      setxattr?(path: string, name: string, value: Buffer, position: number, flags: number, done: Done): void;
      getxattr?(path: string, name: string, position: number, reply: (code: Code, value?: Buffer | null) => void): void;
      listxattr?(path: string, reply: (code: Code, names?: string[]) => void): void;
      removexattr?(path: string, name: string, done: Done): void;
      /** fd 0 means "no handle"; handles are uint32. */
      open?(path: string, flags: number, reply: (code: Code, fd?: number) => void): void;
      /** BUG in 2.2.6: `flags` is really fi->fh (always 0 here). */
      opendir?(path: string, flags: number, reply: (code: Code, fd?: number) => void): void;
      /** buf aliases kernel memory, detached after the reply: copy, never keep. */
      read?(path: string, fd: number, buf: Buffer, len: number, pos: number, reply: (bytesOrCode: number) => void): void;
      /** buf aliases kernel memory, detached after the reply: copy, never keep. */
      write?(path: string, fd: number, buf: Buffer, len: number, pos: number, reply: (bytesOrCode: number) => void): void;
      release?(path: string, fd: number, done: Done): void;
      releasedir?(path: string, fd: number, done: Done): void;
      /** mode includes S_IFREG; open flags are not passed. */
      create?(path: string, mode: number, reply: (code: Code, fd?: number) => void): void;
      unlink?(path: string, done: Done): void;
      rename?(src: string, dest: string, done: Done): void;
      /** link(existingPath, newPath) */
      link?(src: string, dest: string, done: Done): void;
      /** symlink(target, linkPath), as libfuse's symlink(from, to) */
      symlink?(target: string, linkPath: string, done: Done): void;
      mkdir?(path: string, mode: number, done: Done): void;
      rmdir?(path: string, done: Done): void;
    }

    type OpName = Exclude<keyof Ops, 'error'>;

    /** Per-op handler timeouts in ms; false disables one. */
    type TimeoutTable = { default?: number } & { [K in OpName]?: number | false };

    interface Options {
      /** ms; false disables; 0 or missing means 15 000 (DEFAULT_TIMEOUT). */
      timeout?: number | false | TimeoutTable;
      force?: boolean;
      mkdir?: boolean;
      debug?: boolean;
      displayFolder?: string;
      name?: string;
      // Forwarded by fuse-native's own _fuseOptions (truthy values only):
      allowOther?: boolean;
      allowRoot?: boolean;
      autoUnmount?: boolean;
      defaultPermissions?: boolean;
      blkdev?: boolean;
      blksize?: number;
      maxRead?: number;
      fd?: number;
      userId?: number;
      fsname?: string;
      subtype?: string;
      kernelCache?: boolean;
      autoCache?: boolean;
      umask?: number | string;
      uid?: number;
      gid?: number;
      entryTimeout?: number;
      attrTimeout?: number;
      acAttrTimeout?: number;
      noforget?: boolean;
      remember?: number;
      modules?: string;
    }

    /** Replies to the waiting FUSE thread: (code, ...op-specific native values). */
    type Signal = (code: number, ...values: unknown[]) => void;

    /** The per-request native handler: (threadLocals, opcode, ...args). */
    type NativeHandler = (threadLocals: Buffer, opcode: number, ...args: unknown[]) => unknown;
  }

  class Fuse {
    constructor(mnt: string, ops: Fuse.Ops, opts?: Fuse.Options);
    readonly mnt: string;
    readonly ops: Fuse.Ops;
    readonly opts: Fuse.Options;
    timeout: number | false | Fuse.TimeoutTable;
    /** nanoresource state */
    readonly opened: boolean;
    readonly closed: boolean;

    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: (Error & { unmountFailure?: boolean }) | null) => void): void;
    errno(code: string): number;

    /** Builds the single "-o..." argument for libfuse's fuse_mount/fuse_new. */
    protected _fuseOptions(): string;
    /** Called from the constructor; returns handlers indexed by opcode. */
    protected _makeHandlerArray(): Array<Fuse.NativeHandler | undefined>;
    /** Per-op adapters between the native signal and ops.<name>. */
    protected _op_fgetattr(signal: Fuse.Signal, path: string, fd: number): void;
    protected _op_create(signal: Fuse.Signal, path: string, mode: number): void;
    protected _op_utimens(signal: Fuse.Signal, path: string, atimeLow: number, atimeHigh: number, mtimeLow: number, mtimeHigh: number): void;
    protected _op_getxattr(signal: Fuse.Signal, path: string, name: string, valueBuf: Buffer, position: number): void;

    /** `fusermount -uz <mnt>` (lazy). */
    static unmount(mnt: string, cb: (err: Error | null) => void): void;

    static readonly EPERM: number;
    static readonly ENOENT: number;
    static readonly EIO: number;
    static readonly EBADF: number;
    static readonly EAGAIN: number;
    static readonly ENOMEM: number;
    static readonly EACCES: number;
    static readonly EBUSY: number;
    static readonly EEXIST: number;
    static readonly EXDEV: number;
    static readonly ENOTDIR: number;
    static readonly EISDIR: number;
    static readonly EINVAL: number;
    static readonly EFBIG: number;
    static readonly ENOSPC: number;
    static readonly EROFS: number;
    static readonly EMLINK: number;
    static readonly ERANGE: number;
    static readonly ENAMETOOLONG: number;
    static readonly ENOSYS: number;
    static readonly ENOTEMPTY: number;
    static readonly ELOOP: number;
    static readonly ENODATA: number;
    static readonly EOPNOTSUPP: number;
    static readonly ENOTCONN: number;
    static readonly ETIMEDOUT: number;
    static readonly ESTALE: number;
    static readonly EDQUOT: number;
  }

  export = Fuse;
}
