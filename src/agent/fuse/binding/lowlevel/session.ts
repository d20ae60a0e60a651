// createLowLevelSession: mounts LlOps with libfuse 2.9's low-level API through the pfs_fuse_ll
// addon (native/pfs_fuse_ll*.c). The addon's reader (the JS thread by default) queues each
// request; dispatch.ts turns each into one handler call with a Reply whose methods call
// fuse_reply_* directly (no FUSE thread waits for JS). Notifications go through the addon's
// notifier thread and resolve later (never written on the JS thread: docs/FUSE-BINDING.md 6.4).

import { execFile } from 'node:child_process';
import { access, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { forceUnmount, raiseReadAhead } from '../fuse-mount.js';
import { errnoError } from '../native-events.js';
import { LIBFUSE2_MAX_WRITE_BYTES } from '../mount-options.js';
import { FEAT, loadLowLevelAddon, OP_NAMES } from './addon.js';
import { createDispatch } from './dispatch.js';
import type { Reply } from './reply.js';
import { lowLevelOptionArg, type LowLevelSessionOptions } from './session-options.js';
import type { LlOps } from './types.js';

const { ENOENT, ENOTCONN } = constants.errno;
const FUSECTL = '/sys/fs/fuse/connections';

/** True when p settled within ms. */
async function settles(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((ok) => (timer = setTimeout(() => ok(false), ms)));
  const done = await Promise.race([p.then(() => true), late]);
  clearTimeout(timer);
  return done;
}

/** Aborts FUSE connection dev through fusectl (mounted first if it is not). */
async function abortConnection(dev: number): Promise<void> {
  const abort = `${FUSECTL}/${dev}/abort`;
  try {
    await access(abort);
  } catch {
    await new Promise<void>((ok) => execFile('mount', ['-t', 'fusectl', 'fusectl', FUSECTL], () => ok()));
  }
  await writeFile(abort, '1');
}

export interface LowLevelSession {
  readonly mountPoint: string;
  /** The exact "-o..." argument given to libfuse. */
  readonly optionArg: string;
  /** The read-ahead window after mount() when readAheadBytes was asked (error: why it is not that); else null. */
  readonly readAhead: { bytes: number; error?: string } | null;
  /**
   * After mount(): the largest read or write request the kernel sends. Above 131072 only when
   * maxWriteBytes asked for it and the kernel took FUSE_MAX_PAGES (Linux 4.20+, capped by
   * fs.fuse.max_pages_limit).
   */
  readonly maxRequestBytes: number;
  /** Resolves once the kernel sent INIT; on failure (or mountTimeoutMs) nothing stays mounted. */
  mount(): Promise<void>;
  /**
   * Lazy unmount; resolves once the kernel ended the session and every request was answered.
   * Files still open keep a lazily unmounted connection alive, so after abortAfterMs (default
   * 5000) the connection is aborted through fusectl (/sys/fs/fuse/connections/DEV/abort): their
   * requests then fail with ENOTCONN, as when a FUSE daemon exits.
   */
  unmount(opts?: { abortAfterMs?: number }): Promise<void>;
  /** Resolves when the kernel ended the session (unmounted). */
  readonly ended: Promise<void>;
  /**
   * FUSE_NOTIFY_INVAL_INODE: drop the node's cached attributes and, unless attributesOnly, its
   * pages from offset for length bytes (0: to the end). Resolves true when the kernel had the node,
   * false when not; rejects with code ENOTCONN once the session ended. Runs on the notifier
   * thread: never await it in a handler of a request on the same node (6.4).
   */
  invalidateInode(ino: number, range?: { offset?: number; length?: number; attributesOnly?: boolean }): Promise<boolean>;
  /**
   * FUSE_NOTIFY_INVAL_ENTRY: drop the cached name `name` in directory parent (a negative entry
   * too). Resolves true when the kernel had it. Never await it in a handler of a request on that
   * directory (lookup, create, unlink, rename, readdir...): the kernel holds its lock.
   */
  invalidateEntry(parent: number, name: string): Promise<boolean>;
  /** getxattr(ino, "security.capability") is answered ENODATA by the addon from now on, without a handler call. */
  markCapabilityAbsent(ino: number): void;
  /** Undoes markCapabilityAbsent (the node got a capability, or its number is gone). */
  clearCapability(ino: number): void;
  /** How many getxattr(security.capability) the addon answered itself. */
  capabilityAnswers(): number;
}

export function createLowLevelSession(mountPoint: string, ops: LlOps, opts: LowLevelSessionOptions = {}): LowLevelSession {
  const optionArg = lowLevelOptionArg(opts);
  const a = loadLowLevelAddon();
  const mnt = resolve(mountPoint);
  const report = opts.onHandlerError ?? ((op, err) => console.error(`fuse ll ${op}:`, err));
  const features = (ops.getlk && ops.setlk ? FEAT.POSIX_LOCKS : 0) | (ops.flock ? FEAT.FLOCK : 0);
  if (!!ops.getlk !== !!ops.setlk) throw new TypeError('createLowLevelSession: getlk and setlk come together (the kernel asks for both or neither)');
  let session: object | null = null;
  let isEnded = false;
  let readAhead: { bytes: number; error?: string } | null = null;
  let initDone: (() => void) | null = null;
  let endDone: () => void = () => undefined;
  const ended = new Promise<void>((ok) => (endDone = ok));
  const pending = new Map<number, { ok: (cached: boolean) => void; fail: (err: Error) => void }>();
  let nextNotify = 1;
  /** The connection's number under /sys/fs/fuse/connections: the mount's st_dev (major 0). */
  let connection: number | undefined;

  const live = new Map<number, Reply>();
  const dispatch = createDispatch(ops, { a, live, onError: (op, err) => report(OP_NAMES[op] ?? String(op), err) }, {
    init: () => initDone?.(),
    end: () => { isEnded = true; endDone(); },
    releaseWrite: (slot) => { if (session) a.releaseWrite(session, slot); },
  });

  function notified(id: number, result: number): void {
    const p = pending.get(id);
    pending.delete(id);
    if (!p) return;
    if (result === 0) p.ok(true);
    else if (result === -ENOENT) p.ok(false);
    else p.fail(errnoError(result, 'invalidate'));
  }

  function notify(start: (id: number) => number): Promise<boolean> {
    if (!session || isEnded) return Promise.reject(errnoError(ENOTCONN, 'invalidate'));
    const id = nextNotify++;
    const r = start(id);
    if (r !== 0) return Promise.reject(errnoError(r, 'invalidate'));
    return new Promise((ok, fail) => pending.set(id, { ok, fail }));
  }

  return {
    mountPoint: mnt,
    optionArg,
    ended,
    get readAhead() { return readAhead; },
    get maxRequestBytes() {
      const asked = opts.maxWriteBytes ?? LIBFUSE2_MAX_WRITE_BYTES;
      const offered = session ? a.negotiated(session) : 0;
      return offered > 0 ? Math.min(offered, asked) : Math.min(asked, LIBFUSE2_MAX_WRITE_BYTES);
    },
    async mount() {
      if (session) throw new Error('createLowLevelSession: mount() twice');
      const init = new Promise<void>((ok) => (initDone = ok));
      session = a.mount(mnt, optionArg, dispatch, notified, (opts.reader ?? 'poll') === 'poll', features, opts.maxWriteBytes ?? 0);
      const timeoutMs = opts.mountTimeoutMs ?? 10_000;
      if (!(await settles(init, timeoutMs))) {
        await forceUnmount(mnt).catch(() => undefined);
        throw Object.assign(new Error(`createLowLevelSession: no INIT from the kernel within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      }
      connection = (await stat(mnt)).dev;
      if (opts.readAheadBytes !== undefined) readAhead = await raiseReadAhead(mnt, opts.readAheadBytes);
    },
    async unmount(how = {}) {
      if (!session) return;
      await forceUnmount(mnt);
      if (await settles(ended, how.abortAfterMs ?? 5000)) return;
      if (connection !== undefined) await abortConnection(connection);
      await ended;
    },
    invalidateInode(ino, range = {}) {
      const offset = range.attributesOnly ? -1 : range.offset ?? 0;
      return notify((id) => a.notifyInvalInode(session!, id, ino, offset, range.length ?? 0));
    },
    invalidateEntry(parent, name) {
      return notify((id) => a.notifyInvalEntry(session!, id, parent, name));
    },
    markCapabilityAbsent(ino) {
      if (session) a.markCapabilityAbsent(session, ino);
    },
    clearCapability(ino) {
      if (session) a.clearCapability(session, ino);
    },
    capabilityAnswers: () => (session ? a.capabilityAnswers(session) : 0),
  };
}
