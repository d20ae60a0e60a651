// LlReply over the addon: one per request, named by its slot id. The first answer is sent;
// a second is reported (onError) and dropped. The size-0 xattr probe and ERANGE are decided
// here; readdir entries carry their own resume offsets. r.signal is created on first use and
// aborted when the kernel interrupts the request (FUSE_INTERRUPT).

import { constants } from 'node:os';
import type { LlAddon } from './addon.js';
import type { LlAttr, LlCaller, LlDirEntry, LlDirPlusEntry, LlLock, LlOpenOptions, LlReply, LlStatfs, LlTimeouts } from './types.js';

const { ERANGE } = constants.errno;
/** struct flock l_type on Linux. */
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

const scratch = new Float64Array(15);
export function encodeAttr(a: LlAttr): Float64Array {
  scratch[0] = a.ino; scratch[1] = a.mode; scratch[2] = a.nlink; scratch[3] = a.uid; scratch[4] = a.gid;
  scratch[5] = a.rdev ?? 0; scratch[6] = a.size; scratch[7] = a.blocks ?? Math.ceil(a.size / 512);
  scratch[8] = a.atime.sec; scratch[9] = a.atime.nsec; scratch[10] = a.mtime.sec; scratch[11] = a.mtime.nsec;
  scratch[12] = a.ctime.sec; scratch[13] = a.ctime.nsec; scratch[14] = a.blksize ?? 4096;
  return scratch;
}
const negative = new Float64Array(15);
const openFlags = (o?: LlOpenOptions) => (o?.directIo ? 1 : 0) | (o?.keepCache ? 2 : 0);
const lockTypes = { read: F_RDLCK, write: F_WRLCK, unlock: F_UNLCK } as const;

/** What a Reply needs from its session. */
export interface ReplyContext {
  readonly a: LlAddon;
  /** Requests JS has not answered, by id (for interrupts). */
  readonly live: Map<number, Reply>;
  onError(op: number, err: unknown): void;
}

export class Reply implements LlReply {
  done = false;
  /** Called once, at the first answer (a WRITE gives its payload buffer back to the pool). */
  onDone: (() => void) | undefined;
  private ac: AbortController | undefined;
  private interrupted = false;

  constructor(private readonly c: ReplyContext, readonly op: number, private readonly id: number, private readonly size: number) {}

  private once(): boolean {
    if (this.done) {
      this.c.onError(this.op, new Error('second reply'));
      return false;
    }
    this.done = true;
    this.c.live.delete(this.id);
    this.onDone?.();
    return true;
  }

  /** FUSE_INTERRUPT for this request. */
  interrupt(): void {
    this.interrupted = true;
    this.ac?.abort(Object.assign(new Error('interrupted'), { code: 'EINTR' }));
  }

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.interrupted) this.interrupt();
    }
    return this.ac.signal;
  }

  caller(): LlCaller {
    const c = this.c.a.callerContext(this.id);
    if (!c) throw new Error('caller(): the request was already answered');
    return { uid: c[0], gid: c[1], pid: c[2], umask: c[3] };
  }

  err(errno: number) { if (this.once()) this.c.a.replyErr(this.id, Math.abs(errno)); }
  ok() { if (this.once()) this.c.a.replyErr(this.id, 0); }
  entry(attr: LlAttr, t: LlTimeouts) { if (this.once()) this.c.a.replyEntry(this.id, encodeAttr(attr), t.attrS, t.entryS); }
  noEntry(t: LlTimeouts) { if (this.once()) this.c.a.replyEntry(this.id, negative, 0, t.entryS); }
  attr(attr: LlAttr, attrS: number) { if (this.once()) this.c.a.replyAttr(this.id, encodeAttr(attr), attrS); }
  readlink(target: string) { if (this.once()) this.c.a.replyReadlink(this.id, target); }
  open(fh: number, o?: LlOpenOptions) { if (this.once()) this.c.a.replyOpen(this.id, fh, openFlags(o)); }
  create(attr: LlAttr, t: LlTimeouts, fh: number, o?: LlOpenOptions) {
    if (this.once()) this.c.a.replyCreate(this.id, encodeAttr(attr), t.attrS, t.entryS, fh, openFlags(o));
  }
  buf(data: Buffer) { if (this.once()) this.c.a.replyBuf(this.id, data); }
  written(count: number) { if (this.once()) this.c.a.replyWrite(this.id, count); }
  statfs(s: LlStatfs) {
    if (this.once()) this.c.a.replyStatfs(this.id, Float64Array.of(s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.namemax));
  }
  xattr(value: Buffer) {
    if (!this.once()) return;
    if (this.size === 0) this.c.a.replyXattrSize(this.id, value.length);
    else if (value.length > this.size) this.c.a.replyErr(this.id, ERANGE);
    else this.c.a.replyBuf(this.id, value);
  }
  xattrNames(names: string[]) {
    this.xattr(Buffer.from(names.map((n) => `${n}\0`).join('')));
  }
  lock(conflict: LlLock | undefined) {
    if (!this.once()) return;
    const l = conflict ?? { type: 'unlock', start: 0, end: -1, pid: 0 };
    this.c.a.replyLock(this.id, Float64Array.of(lockTypes[l.type], l.start, l.end, l.pid));
  }
  dir(entries: LlDirEntry[], offset: number): number {
    if (!this.once()) return 0;
    // At least 32 bytes a dirent (24 + name, 8-aligned): never more than size/32 can fit.
    const max = Math.max(1, Math.floor(this.size / 32));
    const part = entries.length > max ? entries.slice(0, max) : entries;
    const sent = this.c.a.replyDir(this.id, this.size, part.map((e) => e.name), part.map((e) => e.ino), part.map((e) => e.mode), part.map((e, i) => e.off ?? offset + i + 1));
    return Math.max(0, sent);
  }
  dirPlus(_entries: LlDirPlusEntry[], _offset: number): number {
    // libfuse 2.9 never offers READDIRPLUS; the own channel (docs/FUSE-BINDING.md 8.7 step 2) would.
    throw new Error('dirPlus: this session cannot send READDIRPLUS (libfuse 2.9 without the own channel); the kernel sends READDIR');
  }
}
