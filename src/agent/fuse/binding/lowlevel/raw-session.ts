// createRawSession: the same LlOps served by speaking the kernel's FUSE protocol on /dev/fuse
// from JS, with no libfuse at all: for measurement against the libfuse low-level session
// (docs/FUSE-BINDING.md part 8.4). Root only: /dev/fuse is opened here and mount(8) -i mounts
// it with fd=3 (the descriptor handed to the child), as fusermount would for libfuse.
// Requests are read on the libuv pool (READERS reads outstanding, one 132 KiB buffer each),
// decoded here, handed to the handler, and answered with one write(2) on the JS thread.
// Protocol 7.31 layouts (include/uapi/linux/fuse.h); only what the prototype's ops need.
// With readdirPlus the INIT reply sets FUSE_DO_READDIRPLUS and READDIRPLUS is answered from
// ops.readdirplus; libfuse 2.9 cannot (it answers ENOSYS for opcodes it does not know).
// Only what the bench needs: readlink, statfs, xattrs and locks are answered ENOSYS, interrupts
// are ignored (r.signal never aborts), lock owners are not decoded.

import { spawn } from 'node:child_process';
import { close, openSync, read, writeSync, writevSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { forceUnmount } from '../fuse-mount.js';
import type { LlAttr, LlCaller, LlDirEntry, LlDirPlusEntry, LlOpenOptions, LlOps, LlReply, LlSetAttr, LlTimeouts } from './types.js';

const K = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, MKDIR: 9, UNLINK: 10, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, RELEASE: 18,
  FSYNC: 20, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, CREATE: 35, INTERRUPT: 36, DESTROY: 38,
  BATCH_FORGET: 42, READDIRPLUS: 44,
} as const;
const INIT_FLAGS = { ASYNC_READ: 1, ATOMIC_O_TRUNC: 8, BIG_WRITES: 32, DO_READDIRPLUS: 1 << 13, MAX_PAGES: 1 << 22 };
const FATTR = { MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32, FH: 64, ATIME_NOW: 128, MTIME_NOW: 256 };
const { EIO, ENOSYS, ENODEV } = constants.errno;
const IN_HEADER = 40;
const MAX_WRITE = 131072;
const READ_BUFFER = MAX_WRITE + 4096;
const READERS = 2;


export interface RawSessionOptions {
  /** mount(2) options besides fd/rootmode/user_id/group_id, e.g. ['default_permissions']. */
  mountOptions?: string[];
  readdirPlus?: boolean;
  onHandlerError?: (op: number, err: unknown) => void;
}

function attrInto(b: Buffer, at: number, a: LlAttr): void {
  b.writeBigUInt64LE(BigInt(a.ino), at);
  b.writeBigUInt64LE(BigInt(a.size), at + 8);
  b.writeBigUInt64LE(BigInt(a.blocks ?? Math.ceil(a.size / 512)), at + 16);
  b.writeBigUInt64LE(BigInt(a.atime.sec), at + 24);
  b.writeBigUInt64LE(BigInt(a.mtime.sec), at + 32);
  b.writeBigUInt64LE(BigInt(a.ctime.sec), at + 40);
  b.writeUInt32LE(a.atime.nsec, at + 48);
  b.writeUInt32LE(a.mtime.nsec, at + 52);
  b.writeUInt32LE(a.ctime.nsec, at + 56);
  b.writeUInt32LE(a.mode, at + 60);
  b.writeUInt32LE(a.nlink, at + 64);
  b.writeUInt32LE(a.uid, at + 68);
  b.writeUInt32LE(a.gid, at + 72);
  b.writeUInt32LE(a.rdev ?? 0, at + 76);
  b.writeUInt32LE(4096, at + 80);
  b.writeUInt32LE(0, at + 84);
}

/** fuse_entry_out (128 bytes) at `at`. */
function entryInto(b: Buffer, at: number, a: LlAttr | null, t: LlTimeouts): void {
  b.fill(0, at, at + 128);
  if (a) {
    b.writeBigUInt64LE(BigInt(a.ino), at);
    b.writeBigUInt64LE(1n, at + 8);
  }
  b.writeBigUInt64LE(BigInt(Math.floor(t.entryS)), at + 16);
  b.writeBigUInt64LE(BigInt(Math.floor(t.attrS)), at + 24);
  if (a) attrInto(b, at + 40, a);
}

const dirType = (mode: number) => (mode >> 12) & 0xf;
const align8 = (n: number) => (n + 7) & ~7;

export interface RawSession {
  readonly mountPoint: string;
  mount(): Promise<void>;
  unmount(): Promise<void>;
  readonly ended: Promise<void>;
}

export function createRawSession(mountPoint: string, ops: LlOps, opts: RawSessionOptions = {}): RawSession {
  const mnt = resolve(mountPoint);
  const report = opts.onHandlerError ?? (() => undefined);
  let fd = -1;
  let stopped = false;
  let initDone: () => void = () => undefined;
  let endDone: () => void = () => undefined;
  const ended = new Promise<void>((ok) => (endDone = ok));
  let readersLeft = READERS;

  const send = (unique: bigint, error: number, body?: Buffer, data?: Buffer): void => {
    const h = Buffer.allocUnsafe(16);
    h.writeUInt32LE(16 + (body?.length ?? 0) + (data?.length ?? 0), 0);
    h.writeInt32LE(-error, 4);
    h.writeBigUInt64LE(unique, 8);
    try {
      if (data) writevSync(fd, body ? [h, body, data] : [h, data]);
      else writeSync(fd, body ? Buffer.concat([h, body]) : h);
    } catch {
      // ENOENT: the request was interrupted; ENODEV: the session ended. Nothing to do.
    }
  };

  const never = new AbortController().signal;

  class Reply implements LlReply {
    done = false;
    readonly signal = never;
    constructor(private readonly unique: bigint, private readonly size: number, private readonly ctx: [number, number, number]) {}
    private once(): boolean {
      if (this.done) { report(0, new Error('second reply')); return false; }
      return (this.done = true);
    }
    caller(): LlCaller { return { uid: this.ctx[0], gid: this.ctx[1], pid: this.ctx[2], umask: 0 }; }
    readlink() { this.err(ENOSYS); }
    statfs() { this.err(ENOSYS); }
    xattr() { this.err(ENOSYS); }
    xattrNames() { this.err(ENOSYS); }
    lock() { this.err(ENOSYS); }
    err(errno: number) { if (this.once()) send(this.unique, Math.abs(errno)); }
    ok() { if (this.once()) send(this.unique, 0); }
    entry(attr: LlAttr, t: LlTimeouts) {
      if (!this.once()) return;
      const b = Buffer.allocUnsafe(128);
      entryInto(b, 0, attr, t);
      send(this.unique, 0, b);
    }
    noEntry(t: LlTimeouts) {
      if (!this.once()) return;
      const b = Buffer.allocUnsafe(128);
      entryInto(b, 0, null, t);
      send(this.unique, 0, b);
    }
    attr(attr: LlAttr, attrS: number) {
      if (!this.once()) return;
      const b = Buffer.alloc(104);
      b.writeBigUInt64LE(BigInt(Math.floor(attrS)), 0);
      attrInto(b, 16, attr);
      send(this.unique, 0, b);
    }
    open(fh: number, o?: LlOpenOptions) {
      if (!this.once()) return;
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(BigInt(fh), 0);
      b.writeUInt32LE((o?.directIo ? 1 : 0) | (o?.keepCache ? 2 : 0), 8);
      send(this.unique, 0, b);
    }
    create(attr: LlAttr, t: LlTimeouts, fh: number, o?: LlOpenOptions) {
      if (!this.once()) return;
      const b = Buffer.alloc(144);
      entryInto(b, 0, attr, t);
      b.writeBigUInt64LE(BigInt(fh), 128);
      b.writeUInt32LE((o?.directIo ? 1 : 0) | (o?.keepCache ? 2 : 0), 136);
      send(this.unique, 0, b);
    }
    buf(data: Buffer) { if (this.once()) send(this.unique, 0, undefined, data); }
    written(count: number) {
      if (!this.once()) return;
      const b = Buffer.alloc(8);
      b.writeUInt32LE(count, 0);
      send(this.unique, 0, b);
    }
    dir(entries: LlDirEntry[], offset: number): number {
      if (!this.once()) return 0;
      const b = Buffer.alloc(this.size);
      let used = 0;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        const nameLen = Buffer.byteLength(e.name);
        const need = align8(24 + nameLen);
        if (used + need > this.size) {
          send(this.unique, 0, b.subarray(0, used));
          return i;
        }
        b.writeBigUInt64LE(BigInt(e.ino), used);
        b.writeBigUInt64LE(BigInt(e.off ?? offset + i + 1), used + 8);
        b.writeUInt32LE(nameLen, used + 16);
        b.writeUInt32LE(dirType(e.mode), used + 20);
        b.write(e.name, used + 24);
        used += need;
      }
      send(this.unique, 0, b.subarray(0, used));
      return entries.length;
    }
    dirPlus(entries: LlDirPlusEntry[], offset: number): number {
      if (!this.once()) return 0;
      const b = Buffer.alloc(this.size);
      let used = 0;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        const nameLen = Buffer.byteLength(e.name);
        const need = 128 + align8(24 + nameLen);
        if (used + need > this.size) {
          send(this.unique, 0, b.subarray(0, used));
          return i;
        }
        entryInto(b, used, e.attr, e.timeouts);
        const d = used + 128;
        b.writeBigUInt64LE(BigInt(e.attr.ino), d);
        b.writeBigUInt64LE(BigInt(e.off ?? offset + i + 1), d + 8);
        b.writeUInt32LE(nameLen, d + 16);
        b.writeUInt32LE(dirType(e.attr.mode), d + 20);
        b.write(e.name, d + 24);
        used += need;
      }
      send(this.unique, 0, b.subarray(0, used));
      return entries.length;
    }
  }

  const cstr = (b: Buffer, at: number) => b.toString('utf8', at, b.indexOf(0, at));

  function initReply(unique: bigint, req: Buffer): void {
    const minor = req.readUInt32LE(IN_HEADER + 4);
    const kflags = req.readUInt32LE(IN_HEADER + 12);
    const b = Buffer.alloc(64);
    b.writeUInt32LE(7, 0);
    b.writeUInt32LE(Math.min(minor, 31), 4);
    b.writeUInt32LE(req.readUInt32LE(IN_HEADER + 8), 8); // max_readahead: the kernel's
    const want = INIT_FLAGS.ASYNC_READ | INIT_FLAGS.BIG_WRITES | INIT_FLAGS.ATOMIC_O_TRUNC | (opts.readdirPlus ? INIT_FLAGS.DO_READDIRPLUS : 0);
    b.writeUInt32LE(want & kflags, 12);
    b.writeUInt16LE(12, 16); // max_background
    b.writeUInt16LE(9, 18); // congestion_threshold
    b.writeUInt32LE(MAX_WRITE, 20);
    b.writeUInt32LE(1, 24); // time_gran: 1 ns
    send(unique, 0, b);
    initDone();
  }

  function handle(req: Buffer): void {
    const opcode = req.readUInt32LE(4);
    const unique = req.readBigUInt64LE(8);
    const ino = Number(req.readBigUInt64LE(16));
    const p = IN_HEADER;
    if (opcode === K.INIT) return initReply(unique, req);
    if (opcode === K.FORGET) return ops.forget(ino, Number(req.readBigUInt64LE(p)));
    if (opcode === K.BATCH_FORGET) {
      const count = req.readUInt32LE(p);
      for (let i = 0; i < count; i++) ops.forget(Number(req.readBigUInt64LE(p + 8 + 16 * i)), Number(req.readBigUInt64LE(p + 16 + 16 * i)));
      return;
    }
    if (opcode === K.INTERRUPT) return;
    const r = new Reply(unique, opcode === K.READDIR || opcode === K.READDIRPLUS ? req.readUInt32LE(p + 16) : 0,
      [req.readUInt32LE(24), req.readUInt32LE(28), req.readUInt32LE(32)]);
    try {
      switch (opcode) {
        case K.LOOKUP: return ops.lookup(ino, cstr(req, p), r);
        case K.GETATTR: return ops.getattr(ino, req.readUInt32LE(p) & 1 ? Number(req.readBigUInt64LE(p + 8)) : undefined, r);
        case K.SETATTR: {
          if (!ops.setattr) return r.err(ENOSYS);
          const valid = req.readUInt32LE(p);
          const set: LlSetAttr = {};
          if (valid & FATTR.MODE) set.mode = req.readUInt32LE(p + 68);
          if (valid & FATTR.UID) set.uid = req.readUInt32LE(p + 76);
          if (valid & FATTR.GID) set.gid = req.readUInt32LE(p + 80);
          if (valid & FATTR.SIZE) set.size = Number(req.readBigUInt64LE(p + 16));
          if (valid & FATTR.ATIME_NOW) set.atime = 'now';
          else if (valid & FATTR.ATIME) set.atime = { sec: Number(req.readBigUInt64LE(p + 32)), nsec: req.readUInt32LE(p + 56) };
          if (valid & FATTR.MTIME_NOW) set.mtime = 'now';
          else if (valid & FATTR.MTIME) set.mtime = { sec: Number(req.readBigUInt64LE(p + 40)), nsec: req.readUInt32LE(p + 60) };
          return ops.setattr(ino, set, valid & FATTR.FH ? Number(req.readBigUInt64LE(p + 8)) : undefined, r);
        }
        case K.OPENDIR: return ops.opendir ? ops.opendir(ino, req.readUInt32LE(p), r) : r.open(0);
        case K.READDIR: return !ops.readdir ? r.err(ENOSYS) : ops.readdir(ino, Number(req.readBigUInt64LE(p)), Number(req.readBigUInt64LE(p + 8)), req.readUInt32LE(p + 16), r);
        case K.READDIRPLUS:
          return ops.readdirplus ? ops.readdirplus(ino, Number(req.readBigUInt64LE(p)), Number(req.readBigUInt64LE(p + 8)), req.readUInt32LE(p + 16), r) : r.err(ENOSYS);
        case K.RELEASEDIR: return ops.releasedir ? ops.releasedir(ino, Number(req.readBigUInt64LE(p)), r) : r.ok();
        case K.OPEN: return ops.open ? ops.open(ino, req.readUInt32LE(p), r) : r.err(ENOSYS);
        case K.READ: return !ops.read ? r.err(ENOSYS) : ops.read(ino, Number(req.readBigUInt64LE(p)), Number(req.readBigUInt64LE(p + 8)), req.readUInt32LE(p + 16), r);
        case K.WRITE: {
          const size = req.readUInt32LE(p + 16);
          // The read buffer is reused for the next request: the handler gets its own copy.
          const data = Buffer.from(req.subarray(p + 40, p + 40 + size));
          return !ops.write ? r.err(ENOSYS) : ops.write(ino, Number(req.readBigUInt64LE(p)), Number(req.readBigUInt64LE(p + 8)), data, r);
        }
        case K.FLUSH: return ops.flush ? ops.flush(ino, Number(req.readBigUInt64LE(p)), req.readBigUInt64LE(p + 16).toString(), r) : r.ok();
        case K.RELEASE: {
          if (!ops.release) return r.ok();
          const flockRelease = (req.readUInt32LE(p + 12) & 2) !== 0; // FUSE_RELEASE_FLOCK_UNLOCK
          return ops.release(ino, Number(req.readBigUInt64LE(p)), req.readUInt32LE(p + 8), flockRelease, req.readBigUInt64LE(p + 16).toString(), r);
        }
        case K.FSYNC: return ops.fsync ? ops.fsync(ino, Number(req.readBigUInt64LE(p)), (req.readUInt32LE(p + 8) & 1) !== 0, r) : r.ok();
        case K.CREATE: return ops.create ? ops.create(ino, cstr(req, p + 16), req.readUInt32LE(p + 4), req.readUInt32LE(p), r) : r.err(ENOSYS);
        case K.MKDIR: return ops.mkdir ? ops.mkdir(ino, cstr(req, p + 8), req.readUInt32LE(p), r) : r.err(ENOSYS);
        case K.LINK: return ops.link ? ops.link(Number(req.readBigUInt64LE(p)), ino, cstr(req, p + 8), r) : r.err(ENOSYS);
        case K.UNLINK: return ops.unlink ? ops.unlink(ino, cstr(req, p), r) : r.err(ENOSYS);
        case K.DESTROY: return r.ok();
        default: return r.err(ENOSYS);
      }
    } catch (err) {
      report(opcode, err);
      if (!r.done) r.err(EIO);
    }
  }

  function reader(): void {
    const buf = Buffer.allocUnsafe(READ_BUFFER);
    const next = (): void => {
      if (stopped) return finish();
      read(fd, buf, 0, READ_BUFFER, null, (err, n) => {
        if (err) {
          // ENODEV: unmounted. EINTR/EAGAIN/ENOENT (an interrupted request): read again.
          if ((err as NodeJS.ErrnoException).errno === -ENODEV || stopped) return finish();
          return next();
        }
        handle(buf.subarray(0, n));
        next();
      });
    };
    next();
  }

  function finish(): void {
    if (--readersLeft > 0) return;
    close(fd, () => endDone());
  }

  return {
    mountPoint: mnt,
    ended,
    async mount() {
      fd = openSync('/dev/fuse', 'r+');
      const init = new Promise<void>((ok) => (initDone = ok));
      const options = ['fd=3', 'rootmode=40000', 'user_id=0', 'group_id=0', `max_read=${MAX_WRITE}`, ...(opts.mountOptions ?? [])].join(',');
      await new Promise<void>((ok, fail) => {
        // The child gets the /dev/fuse descriptor as its fd 3 (the kernel looks fd= up in the mounter).
        const child = spawn('mount', ['-i', '-t', 'fuse.pfs', '-o', options, 'pfs:raw', mnt], { stdio: ['ignore', 'ignore', 'pipe', fd] });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', fail);
        child.on('close', (code) => (code === 0 ? ok() : fail(new Error(`mount: ${stderr || `exit ${code}`}`))));
      }).catch((err) => {
        close(fd, () => undefined);
        throw err;
      });
      for (let i = 0; i < READERS; i++) reader();
      await init;
    },
    async unmount() {
      if (fd < 0) return;
      await forceUnmount(mnt);
      stopped = true;
      await ended;
    },
  };
}
