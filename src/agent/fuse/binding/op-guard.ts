// Guards every handler of the op table before fuse-native sees it.
//
// fuse-native turns a reply into one native call that posts the waiting FUSE
// thread's semaphore. Three handler mistakes therefore break the whole mount:
// a reply code that is not a number (null, an Error) throws "Expected number"
// from a nextTick and kills the process; a second reply posts the semaphore
// twice and desynchronises that FUSE thread; a synchronous throw leaves the
// request unanswered forever. The guard answers each request exactly once with
// an integer code, and reports every mistake to onHandlerError.

import type Fuse from 'fuse-native';
import type { FuseOpName, FuseOps } from './types.js';

const EIO = -5;
/** Ops whose reply code is a byte count when positive. */
const COUNT_OPS: ReadonlySet<string> = new Set(['read', 'write']);

export type HandlerErrorReporter = (op: string, err: unknown) => void;

/** Coerces a reply code: undefined/null → 0, positive errno → negative, anything else odd → EIO. */
export function toReplyCode(op: string, code: unknown, len: number | undefined, report: HandlerErrorReporter): number {
  if (code === undefined || code === null || code === 0) return 0;
  if (typeof code === 'number' && Number.isInteger(code)) {
    if (code < 0) return code;
    if (!COUNT_OPS.has(op)) return -code;
    if (len === undefined || code <= len) return code;
    report(op, new RangeError(`${op} replied ${code} bytes for a ${len}-byte request`));
    return EIO;
  }
  report(op, new TypeError(`${op} replied with a non-integer code: ${String(code)}`));
  return EIO;
}

/** Returns a table with the same ops, each answering exactly once with an integer code. */
export function guardOps(ops: FuseOps, report: HandlerErrorReporter): Fuse.Ops {
  const guarded: Record<string, (...args: unknown[]) => void> = {};
  for (const [name, fn] of Object.entries(ops)) {
    if (typeof fn !== 'function') continue;
    const handler = fn as (...args: unknown[]) => void;
    guarded[name] = (...args: unknown[]) => {
      const reply = args.pop() as (...out: unknown[]) => void;
      // read/write: (path, fd, buf, len, pos, cb): the reply may not exceed len.
      const len = COUNT_OPS.has(name) ? (args[3] as number) : undefined;
      let replied = false;
      const once = (code: unknown, ...rest: unknown[]): void => {
        if (replied) {
          report(name, new Error(`${name} replied twice`));
          return;
        }
        replied = true;
        reply(toReplyCode(name, code, len, report), ...rest);
      };
      try {
        handler.apply(ops, [...args, once]);
      } catch (err) {
        report(name, err);
        if (!replied) once(EIO);
      }
    };
  }
  // create/utimens keep our signatures: PfsFuse's _op_create/_op_utimens call them.
  return guarded as Fuse.Ops;
}

/** Ops fuse-native serves (and can time out); lock/flock are served by the addon, never timed out. */
export type TimedOpName = Exclude<FuseOpName, 'lock' | 'flock'>;

/** Handler timeouts: false disables, a number is ms. perOp overrides the default for one op. */
export interface HandlerTimeouts {
  defaultMs: number | false;
  perOpMs?: Partial<Record<TimedOpName, number | false>>;
}

const ALL_OPS: readonly TimedOpName[] = [
  'init', 'access', 'statfs', 'getattr', 'fgetattr', 'flush', 'fsync', 'fsyncdir', 'readdir',
  'truncate', 'ftruncate', 'utimens', 'readlink', 'chown', 'chmod', 'mknod', 'setxattr',
  'getxattr', 'listxattr', 'removexattr', 'open', 'opendir', 'read', 'write', 'release',
  'releasedir', 'create', 'unlink', 'rename', 'link', 'symlink', 'mkdir', 'rmdir',
];
/** setTimeout fires at once above this (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * fuse-native's `timeout` option for these timeouts. fuse-native reads 0 as its
 * 15 s default and cannot disable the default in a table, so every op is named.
 */
export function toFuseNativeTimeout(t: HandlerTimeouts): number | false | Fuse.TimeoutTable {
  const check = (ms: number | false, what: string): number | false => {
    if (ms === false) return false;
    if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIMER_MS) {
      throw new RangeError(`handler timeout ${what}: ${ms} is not false or an integer ms in [1, ${MAX_TIMER_MS}]`);
    }
    return ms;
  };
  const def = check(t.defaultMs, 'default');
  const perOp = t.perOpMs ?? {};
  if (Object.keys(perOp).length === 0) return def;
  const table: Fuse.TimeoutTable = def === false ? {} : { default: def };
  for (const op of ALL_OPS) table[op] = check(perOp[op] ?? def, op);
  return table;
}
