// createLowLevelSession: mounts LlOps with libfuse 2.9's low-level API through the
// pfs_fuse_ll addon (native/pfs_fuse_ll.c). The addon's loop thread queues each request and
// wakes this thread once per batch; dispatch() turns each into one handler call with an
// LlReply whose methods call fuse_reply_* directly (no FUSE thread waits for JS).

import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../../../common/native/package-root.js';
import { forceUnmount } from '../fuse-mount.js';
import type { LlAttr, LlDirEntry, LlOpenOptions, LlOps, LlReply, LlSetAttr, LlTimeouts } from './types.js';

type Dispatch = (op: number, req: number, ino: number, fh: number, x: number, y: number, name?: string, data?: Buffer | Float64Array) => void;

interface LlAddon {
  mount(mnt: string, optionArg: string, dispatch: Dispatch, pollMode: boolean): object;
  replyErr(req: number, errno: number): number;
  replyEntry(req: number, attr: Float64Array, attrS: number, entryS: number): number;
  replyCreate(req: number, attr: Float64Array, attrS: number, entryS: number, fh: number, flags: number): number;
  replyAttr(req: number, attr: Float64Array, attrS: number): number;
  replyOpen(req: number, fh: number, flags: number): number;
  replyBuf(req: number, data: Buffer, len: number): number;
  replyWrite(req: number, count: number): number;
  replyDir(req: number, size: number, names: string[], inos: number[], modes: number[], first: number): number;
  callerContext(req: number): [number, number, number, number];
  notifyInvalInode(session: object, ino: number, offset: number, length: number): number;
  notifyInvalEntry(session: object, parent: number, name: string): number;
  stats(): [number, number];
}

// Opcodes of the addon's messages (pfs_fuse_ll.c).
const OP = {
  INIT: 0, END: 1, LOOKUP: 2, FORGET: 3, GETATTR: 4, SETATTR: 5, OPENDIR: 6, READDIR: 7, RELEASEDIR: 8, OPEN: 9,
  READ: 10, WRITE: 11, FLUSH: 12, RELEASE: 13, FSYNC: 14, CREATE: 15, MKDIR: 16, LINK: 17, UNLINK: 18,
} as const;
const SET = { MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32, ATIME_NOW: 128, MTIME_NOW: 256 } as const;
const { EIO, ENOSYS } = constants.errno;

let addon: LlAddon | null | undefined;

export function lowLevelAddonPath(): string | null {
  const root = packageRoot();
  const p = root && join(root, 'src', 'agent', 'fuse', 'binding', 'native', 'build', 'pfs_fuse_ll.node');
  return p && existsSync(p) ? p : null;
}

function loadAddon(): LlAddon {
  if (addon === undefined) {
    const path = process.platform === 'linux' ? lowLevelAddonPath() : null;
    addon = null;
    if (path) {
      const mod = { exports: {} as LlAddon };
      process.dlopen(mod, path); // local symbols: nothing here interposes libfuse
      addon = mod.exports;
    }
  }
  if (!addon) throw Object.assign(new Error('pfs_fuse_ll addon not built (node src/agent/fuse/binding/native/build.mjs)'), { code: 'ENOTSUP' });
  return addon;
}

/** Process-wide: wakeups of the JS thread and the requests (and forgets) they carried. */
export function lowLevelStats(): { wakeups: number; messages: number } {
  const [wakeups, messages] = loadAddon().stats();
  return { wakeups, messages };
}

export interface LowLevelSessionOptions {
  /** libfuse options, e.g. ['auto_unmount', 'big_writes', 'max_write=131072', 'fsname=pfs:x']. */
  options?: string[];
  /**
   * Who reads /dev/fuse: 'thread' (default), a libfuse loop thread that queues requests and wakes
   * the JS thread once per batch; 'poll', the JS thread itself, non-blocking, when libuv reports
   * the descriptor readable (no thread hop; handlers are called straight after libfuse's decoding).
   */
  reader?: 'thread' | 'poll';
  /** A handler mistake (second reply, throw): reported, and answered EIO when still open. */
  onHandlerError?: (op: number, err: unknown) => void;
}

export interface LowLevelSession {
  readonly mountPoint: string;
  mount(): Promise<void>;
  unmount(): Promise<void>;
  /** FUSE_NOTIFY_INVAL_INODE / _ENTRY: 0 or -errno (-ENOENT: nothing cached). */
  invalidateInode(ino: number, offset?: number, length?: number): number;
  invalidateEntry(parent: number, name: string): number;
  /** Resolves when the kernel ended the session (unmounted). */
  readonly ended: Promise<void>;
}

const scratch = new Float64Array(14);
function encodeAttr(a: LlAttr): Float64Array {
  scratch[0] = a.ino; scratch[1] = a.mode; scratch[2] = a.nlink; scratch[3] = a.uid; scratch[4] = a.gid;
  scratch[5] = a.rdev ?? 0; scratch[6] = a.size; scratch[7] = a.blocks ?? Math.ceil(a.size / 512);
  scratch[8] = a.atime.sec; scratch[9] = a.atime.nsec; scratch[10] = a.mtime.sec; scratch[11] = a.mtime.nsec;
  scratch[12] = a.ctime.sec; scratch[13] = a.ctime.nsec;
  return scratch;
}
const negative = new Float64Array(14);
const openFlags = (o?: LlOpenOptions) => (o?.directIo ? 1 : 0) | (o?.keepCache ? 2 : 0);

class Reply implements LlReply {
  done = false;
  constructor(private readonly a: LlAddon, private readonly req: number, private readonly size: number, private readonly onError: (err: unknown) => void) {}
  private once(): boolean {
    if (this.done) {
      this.onError(new Error('second reply'));
      return false;
    }
    this.done = true;
    return true;
  }
  caller() {
    const [uid, gid, pid, umask] = this.a.callerContext(this.req);
    return { uid, gid, pid, umask };
  }
  err(errno: number) { if (this.once()) this.a.replyErr(this.req, Math.abs(errno)); }
  ok() { if (this.once()) this.a.replyErr(this.req, 0); }
  entry(attr: LlAttr, t: LlTimeouts) { if (this.once()) this.a.replyEntry(this.req, encodeAttr(attr), t.attrS, t.entryS); }
  noEntry(t: LlTimeouts) { if (this.once()) this.a.replyEntry(this.req, negative, 0, t.entryS); }
  attr(attr: LlAttr, attrS: number) { if (this.once()) this.a.replyAttr(this.req, encodeAttr(attr), attrS); }
  open(fh: number, o?: LlOpenOptions) { if (this.once()) this.a.replyOpen(this.req, fh, openFlags(o)); }
  create(attr: LlAttr, t: LlTimeouts, fh: number, o?: LlOpenOptions) {
    if (this.once()) this.a.replyCreate(this.req, encodeAttr(attr), t.attrS, t.entryS, fh, openFlags(o));
  }
  buf(data: Buffer) { if (this.once()) this.a.replyBuf(this.req, data, data.length); }
  written(count: number) { if (this.once()) this.a.replyWrite(this.req, count); }
  dir(entries: LlDirEntry[], offset: number) {
    if (!this.once()) return;
    // At least 32 bytes a dirent (24 + name, 8-aligned): never more than size/32 can fit.
    const max = Math.max(1, Math.floor(this.size / 32));
    const part = entries.length > max ? entries.slice(0, max) : entries;
    this.a.replyDir(this.req, this.size, part.map((e) => e.name), part.map((e) => e.ino), part.map((e) => e.mode), offset);
  }
}

function decodeSetAttr(toSet: number, d: Float64Array): LlSetAttr {
  const set: LlSetAttr = {};
  if (toSet & SET.MODE) set.mode = d[0]!;
  if (toSet & SET.UID) set.uid = d[1]!;
  if (toSet & SET.GID) set.gid = d[2]!;
  if (toSet & SET.SIZE) set.size = d[3]!;
  if (toSet & SET.ATIME_NOW) set.atime = 'now';
  else if (toSet & SET.ATIME) set.atime = { sec: d[4]!, nsec: d[5]! };
  if (toSet & SET.MTIME_NOW) set.mtime = 'now';
  else if (toSet & SET.MTIME) set.mtime = { sec: d[6]!, nsec: d[7]! };
  return set;
}

export function createLowLevelSession(mountPoint: string, ops: LlOps, opts: LowLevelSessionOptions = {}): LowLevelSession {
  const a = loadAddon();
  const mnt = resolve(mountPoint);
  const report = opts.onHandlerError ?? (() => undefined);
  let session: object | null = null;
  let initDone: (() => void) | null = null;
  let endDone: () => void = () => undefined;
  const ended = new Promise<void>((ok) => (endDone = ok));

  function dispatch(op: number, req: number, ino: number, fh: number, x: number, y: number, name?: string, data?: Buffer | Float64Array): void {
    if (op === OP.INIT) return initDone?.();
    if (op === OP.END) return endDone();
    if (op === OP.FORGET) {
      if (ino !== 0) ops.forget(ino, x);
      else for (let i = 0; i < data!.length; i += 2) ops.forget((data as Float64Array)[i]!, (data as Float64Array)[i + 1]!);
      return;
    }
    const r = new Reply(a, req, op === OP.READDIR ? y : 0, (err) => report(op, err));
    try {
      switch (op) {
        case OP.LOOKUP: return ops.lookup(ino, name!, r);
        case OP.GETATTR: return ops.getattr(ino, x ? fh : undefined, r);
        case OP.SETATTR: return ops.setattr ? ops.setattr(ino, decodeSetAttr(x, data as Float64Array), y ? fh : undefined, r) : r.err(ENOSYS);
        case OP.OPENDIR: return ops.opendir ? ops.opendir(ino, y, r) : r.open(0);
        case OP.READDIR: return ops.readdir(ino, fh, x, y, r);
        case OP.RELEASEDIR: return ops.releasedir ? ops.releasedir(ino, fh, r) : r.ok();
        case OP.OPEN: return ops.open(ino, y, r);
        case OP.READ: return ops.read(ino, fh, x, y, r);
        case OP.WRITE: return ops.write(ino, fh, x, data as Buffer, r);
        case OP.FLUSH: return ops.flush ? ops.flush(ino, fh, r) : r.ok();
        case OP.RELEASE: return ops.release ? ops.release(ino, fh, y, r) : r.ok();
        case OP.FSYNC: return ops.fsync ? ops.fsync(ino, fh, x !== 0, r) : r.ok();
        case OP.CREATE: return ops.create ? ops.create(ino, name!, x, y, r) : r.err(ENOSYS);
        case OP.MKDIR: return ops.mkdir ? ops.mkdir(ino, name!, x, r) : r.err(ENOSYS);
        case OP.LINK: return ops.link ? ops.link(ino, fh, name!, r) : r.err(ENOSYS);
        case OP.UNLINK: return ops.unlink ? ops.unlink(ino, name!, r) : r.err(ENOSYS);
        default: return r.err(ENOSYS);
      }
    } catch (err) {
      report(op, err);
      if (!r.done) r.err(EIO);
    }
  }

  return {
    mountPoint: mnt,
    ended,
    async mount() {
      const init = new Promise<void>((ok) => (initDone = ok));
      const optionArg = opts.options?.length ? `-o${opts.options.join(',')}` : '';
      session = a.mount(mnt, optionArg, dispatch, opts.reader === 'poll');
      await init;
    },
    async unmount() {
      if (!session) return;
      await forceUnmount(mnt);
      await ended;
    },
    invalidateInode: (ino, offset = 0, length = 0) => (session ? a.notifyInvalInode(session, ino, offset, length) : -constants.errno.ENOTCONN),
    invalidateEntry: (parent, name) => (session ? a.notifyInvalEntry(session, parent, name) : -constants.errno.ENOTCONN),
  };
}
