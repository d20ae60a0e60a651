// What the context addon's own threads hand to JS, outside fuse-native: lock
// and flock requests from FUSE threads, interrupts of requests that wait, the
// end of a mount's session, and cache invalidation results. The addon has one
// dispatcher per process (a napi threadsafe function), so there is one
// NativeEvents per loaded addon; each mount attaches a sink under the id the
// addon gave its registration.

import { constants } from 'node:os';
import type { CallerContext, ContextAddon } from './caller-context.js';

const EV_LOCK = 0;
const EV_FLOCK = 1;
const EV_INTERRUPT = 2;
const EV_MOUNT_ENDED = 3;
const EV_NOTIFY_DONE = 4;

const errnoTable = constants.errno as Record<string, number>;
export const ENOLCK = errnoTable.ENOLCK!;
const errnoNames = new Map<number, string>();
for (const [name, n] of Object.entries(errnoTable)) if (!errnoNames.has(n)) errnoNames.set(n, name);

/** An Error whose code is the errno's name ('ENOTCONN'), as Node's fs errors have. */
export function errnoError(errno: number, message: string): Error & { code: string } {
  const code = errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
  return Object.assign(new Error(`${message}: ${code}`), { code });
}

export interface NativeLockRequest {
  id: number;
  path: string;
  fh: number;
  /** 0 getlk, 1 setlk, 2 setlkw */
  cmd: number;
  /** 0 rdlck, 1 wrlck, 2 unlck */
  type: number;
  start: number;
  len: number;
  pid: number;
  owner: bigint;
  closing: boolean;
  caller: CallerContext;
}

export interface NativeFlockRequest {
  id: number;
  path: string;
  fh: number;
  /** 0 shared, 1 exclusive, 2 unlock */
  op: number;
  nonblock: boolean;
  owner: bigint;
  closing: boolean;
  caller: CallerContext;
}

/** One mount's receiver. Each request must end in exactly one addon.lockReply(id, ...). */
export interface MountEventSink {
  lock(req: NativeLockRequest): void;
  flock(req: NativeFlockRequest): void;
  /** The caller of request id was interrupted by a signal (it still needs its reply). */
  interrupt(id: number): void;
  /** The session loop ended: no request of this mount will come again. */
  ended(): void;
}

export interface NativeEvents {
  attach(mountId: number, sink: MountEventSink): void;
  detach(mountId: number): void;
  /** kind 0: inode (path, offset, length); kind 1: entry (path = parent, name). Resolves whether the kernel had it cached. */
  invalidate(mountId: number, kind: 0 | 1, path: string, name: string | null, offset: number, length: number): Promise<boolean>;
}

const perAddon = new WeakMap<ContextAddon, NativeEvents>();

/** The addon's dispatcher (installed on first use), or null for a build without it. */
export function nativeEvents(addon: ContextAddon | null): NativeEvents | null {
  if (!addon?.locksAndNotify) return null;
  const known = perAddon.get(addon);
  if (known) return known;
  const sinks = new Map<number, MountEventSink>();
  const invalidations = new Map<number, { ok: (found: boolean) => void; fail: (err: Error) => void }>();
  let nextRequest = 1;
  // The addon's threadsafe function does not keep the loop alive: a pending invalidation does.
  let keepAlive: NodeJS.Timeout | undefined;
  const settle = (id: number): { ok: (found: boolean) => void; fail: (err: Error) => void } | undefined => {
    const pending = invalidations.get(id);
    invalidations.delete(id);
    if (invalidations.size === 0) keepAlive = void clearInterval(keepAlive);
    return pending;
  };

  const dispatch = (kind: number, id: number, mountId: number, ...rest: unknown[]): void => {
    if (kind === EV_LOCK || kind === EV_FLOCK) {
      const [path, fh, cmd, type, start, len, pid, owner, closing, uid, gid, cpid, umask] = rest as [
        string, number, number, number, number, number, number, bigint, boolean, number, number, number, number,
      ];
      const caller = { uid, gid, pid: cpid, umask };
      const sink = sinks.get(mountId);
      if (!sink) {
        addon.lockReply!(id, closing ? 0 : -ENOLCK, 2, 0, 0, 0);
      } else if (kind === EV_LOCK) {
        sink.lock({ id, path, fh, cmd, type, start, len, pid, owner, closing, caller });
      } else {
        sink.flock({ id, path, fh, op: cmd, nonblock: type === 1, owner, closing, caller });
      }
    } else if (kind === EV_INTERRUPT) {
      sinks.get(mountId)?.interrupt(id);
    } else if (kind === EV_MOUNT_ENDED) {
      const sink = sinks.get(mountId);
      sinks.delete(mountId);
      sink?.ended();
    } else if (kind === EV_NOTIFY_DONE) {
      const [code, found] = rest as [number, boolean];
      const pending = settle(id);
      if (!pending) return;
      if (code === 0) pending.ok(found);
      else pending.fail(errnoError(code, 'cache invalidation'));
    }
  };
  // A throw here would only be cleared by the addon: keep every mistake visible and answered.
  const safeDispatch = (kind: number, id: number, mountId: number, ...rest: unknown[]): void => {
    try {
      dispatch(kind, id, mountId, ...rest);
    } catch (err) {
      process.emitWarning(`pfs_fuse_context dispatcher: ${String(err)}`);
      if (kind === EV_LOCK || kind === EV_FLOCK) addon.lockReply!(id, -errnoTable.EIO!, 2, 0, 0, 0);
    }
  };
  if (!addon.setDispatcher!(safeDispatch)) throw new Error('pfs_fuse_context: the dispatcher was already set by another copy of the binding');

  const events: NativeEvents = {
    attach: (mountId, sink) => void sinks.set(mountId, sink),
    detach: (mountId) => void sinks.delete(mountId),
    invalidate(mountId, kind, path, name, offset, length) {
      return new Promise((ok, fail) => {
        const id = nextRequest++;
        invalidations.set(id, { ok, fail });
        keepAlive ??= setInterval(() => undefined, 2 ** 30);
        const started = addon.invalidate!(mountId, kind, path, name, offset, length, id);
        if (started !== 0) {
          settle(id);
          fail(errnoError(started, 'cache invalidation'));
        }
      });
    },
  };
  perAddon.set(addon, events);
  return events;
}
