// Turns the addon's lock/flock requests into ops.lock/ops.flock calls.
//
// Same guarantees as op-guard.ts: every request is answered exactly once with
// an integer code (a synchronous throw or an odd code is EIO, a second reply is
// dropped, each mistake is reported). A getlk conflict is checked before it
// reaches the kernel. An interrupted caller aborts the request's signal; the
// handler still answers (EINTR, or 0 when it already granted the lock: the
// kernel then hands the caller the lock it was given). No handler timeout
// applies: a setlkw may wait as long as the lock is held elsewhere.

import type { CallerContext, ContextAddon } from './caller-context.js';
import { ENOLCK, type MountEventSink, type NativeFlockRequest, type NativeLockRequest } from './native-events.js';
import { toReplyCode, type HandlerErrorReporter } from './op-guard.js';
import type { FuseCode, FuseFlockRequest, FuseLock, FuseLockCmd, FuseLockType, FuseOps } from './types.js';

const EIO = -5;
const CMDS: readonly FuseLockCmd[] = ['getlk', 'setlk', 'setlkw'];
const TYPES: readonly FuseLockType[] = ['rdlck', 'wrlck', 'unlck'];
const FLOCK_OPS: readonly FuseFlockRequest['op'][] = ['shared', 'exclusive', 'unlock'];
const NO_CONFLICT: [number, number, number, number] = [2, 0, 0, 0];

/** Set while a lock/flock handler is being called (synchronously), for callerContext(). */
export interface LockDispatchContext {
  current: CallerContext | null;
}

export function createLockSink(
  ops: Pick<FuseOps, 'lock' | 'flock'>,
  addon: ContextAddon,
  report: HandlerErrorReporter,
  context: LockDispatchContext,
): MountEventSink {
  const waiting = new Map<number, AbortController>();

  /** Calls handler(reply) once, answering the native request exactly once. */
  function serve(op: 'lock' | 'flock', id: number, caller: CallerContext, call: (signal: AbortSignal, reply: (code: unknown, conflict?: unknown) => void) => void, getlk = false): void {
    const abort = new AbortController();
    waiting.set(id, abort);
    let replied = false;
    const reply = (code: unknown, conflict?: unknown): void => {
      if (replied) {
        report(op, new Error(`${op} replied twice`));
        return;
      }
      replied = true;
      waiting.delete(id);
      let answer = toReplyCode(op, code, undefined, report);
      let out = NO_CONFLICT;
      if (answer === 0 && getlk && conflict !== undefined && conflict !== null) {
        const checked = checkConflict(conflict);
        if (typeof checked === 'string') {
          report(op, new TypeError(`getlk replied an invalid conflict: ${checked}`));
          answer = EIO;
        } else {
          out = checked;
        }
      }
      addon.lockReply!(id, answer, ...out);
    };
    context.current = caller;
    try {
      call(abort.signal, reply);
    } catch (err) {
      report(op, err);
      if (!replied) reply(EIO);
    } finally {
      context.current = null;
    }
  }

  return {
    lock(req: NativeLockRequest): void {
      if (!ops.lock) return void addon.lockReply!(req.id, req.closing ? 0 : -ENOLCK, ...NO_CONFLICT);
      const cmd = CMDS[req.cmd]!;
      serve('lock', req.id, req.caller, (signal, reply) => {
        const lk = { type: TYPES[req.type]!, start: req.start, len: req.len, pid: req.pid, closing: req.closing, signal };
        ops.lock!(req.path, req.fh, cmd, lk, req.owner, reply as (code: FuseCode, conflict?: FuseLock) => void);
      }, cmd === 'getlk');
    },
    flock(req: NativeFlockRequest): void {
      if (!ops.flock) return void addon.lockReply!(req.id, req.closing ? 0 : -ENOLCK, ...NO_CONFLICT);
      serve('flock', req.id, req.caller, (signal, reply) => {
        const op: FuseFlockRequest = { op: FLOCK_OPS[req.op]!, nonblock: req.nonblock, closing: req.closing, signal };
        ops.flock!(req.path, req.fh, op, req.owner, reply as (code: FuseCode) => void);
      });
    },
    interrupt(id: number): void {
      waiting.get(id)?.abort();
    },
    ended(): void {
      for (const abort of waiting.values()) abort.abort();
    },
  };
}

/** [type, start, len, pid] for the addon, or what is wrong with it. */
function checkConflict(c: unknown): [number, number, number, number] | string {
  const { type, start, len, pid } = (c ?? {}) as Partial<FuseLock>;
  const t = TYPES.indexOf(type as FuseLockType);
  if (t < 0) return `type ${String(type)}`;
  if (t === 2) return NO_CONFLICT;
  if (!Number.isSafeInteger(start) || start! < 0) return `start ${String(start)}`;
  if (!Number.isSafeInteger(len) || len! < 0) return `len ${String(len)}`;
  if (!Number.isInteger(pid ?? 0) || (pid ?? 0) < 0 || (pid ?? 0) > 2 ** 31 - 1) return `pid ${String(pid)}`;
  return [t, start!, len!, pid ?? 0];
}
