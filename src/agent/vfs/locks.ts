/**
 * Locks across agents (docs/LEASES.md §6): fcntl and flock requests of this mount become
 * `Lock` / `GetLock` RPCs; proxyfsd holds every lock, so they hold between agents.
 *
 * The agent keeps, per lane (inode, owner, kind), its copy of what the owner holds
 * (lock-ranges.ts), the RPCs it has out, and the waits it gave up. It needs that copy for one
 * thing only, giving up a wait:
 *
 * - A blocking request (F_SETLKW, flock without LOCK_NB) is `Lock wait: true` in a loop: the
 *   server answers when granted or after 10 s with granted: false, and the agent asks again.
 * - When the caller gets a signal (the binding aborts `signal`), the agent answers EINTR at
 *   once (the kernel restarts the call or returns EINTR) but cannot withdraw the request: the
 *   server may still grant it. That wait is "abandoned": if its answer is a grant, the agent
 *   undoes it by putting the range back as its copy says the owner holds it (unlock where it
 *   held nothing, the old type where it held the other one). An unlock of the whole range
 *   would be wrong: it would also drop what the owner held there before.
 * - The undo is exact only if it is computed with every earlier request of the lane answered
 *   and no later one sent: it waits for the lane's overlapping RPCs that are out, and a new
 *   request of the lane that overlaps an abandoned wait waits until that wait is settled
 *   (answered, and undone if granted: at most the server's 10-s cap). Two exceptions:
 *   a request identical to the abandoned wait (a restarted F_SETLKW, SA_RESTART) takes it over
 *   (no undo, and it keeps its place in the server's queue); the close-time unlock does not wait
 *   (close(2) must not hang): it clears the owner's copy, so a later undo unlocks the range.
 * - Limits: the undo of a read grant over a range the owner held for writing must upgrade it
 *   back, which can fail if another owner took a read lock in between (logged; the owner then
 *   holds a read lock there). Two threads of one process racing overlapping requests of their
 *   shared owner can leave the copy behind the server's order (the copy is used only to undo).
 */
import { FsError } from '../../common/errors/index.js';
import type { Ino, LockConflict, LockParams, LockResult, ReclaimedLock } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { VolumeClient } from '../volume-client/index.js';
import { applyRange, overlaps, piecesOf, type HeldRange, type HeldType } from './lock-ranges.js';

/** What a set-lock request asks; end is exclusive, -1 = to end of file (as on the wire). */
export interface SetLockRequest {
  type: HeldType | 'unlock';
  start: number;
  end: number;
  /** F_SETLKW / flock without LOCK_NB. */
  wait: boolean;
  /** The locking process (0 when unknown). */
  pid: number;
  /** The unlock the kernel sends when the owner closes the file: drops all the owner's locks of this kind on it. */
  closing: boolean;
  /** Aborted when the caller got a signal: the request answers EINTR. */
  signal: AbortSignal;
}

export interface Locks {
  /** F_GETLK: the conflicting lock of another owner with the lowest start (end -1 = to EOF), if any. */
  getLock(ino: Ino, owner: string, q: { type: HeldType; start: number; end: number }): Promise<LockConflict | undefined>;
  /** fcntl F_SETLK / F_SETLKW. A refused F_SETLK throws EAGAIN; a deadlock EDEADLK; a signal InterruptedError. */
  posix(ino: Ino, owner: string, req: SetLockRequest): Promise<void>;
  /** flock(2): start and end are ignored. A refused LOCK_NB throws EAGAIN (EWOULDBLOCK). */
  flock(ino: Ino, owner: string, req: SetLockRequest): Promise<void>;
  /** True when owner holds (or is asking for) locks of this kind on ino: a close must drop them. */
  has(ino: Ino, owner: string, kind: 'posix' | 'flock'): boolean;
  /** Every lock this agent knows it holds: what a Reclaim claims after a proxyfsd restart. */
  claims(): ReclaimedLock[];
  /** The mount was lost (evicted or dropped): the server freed its locks, so the copies go. */
  reset(): void;
  stats(): LockStats;
}

export interface LockStats {
  /** (inode, owner, kind) with locks held, RPCs out or waits given up. */
  lanes: number;
  /** Waits given up (EINTR) whose RPC is not yet settled. */
  abandoned: number;
  /** Grants of given-up waits that were undone. */
  undone: number;
  /** Undo steps the server refused (see the module comment). */
  undoFailures: number;
}

/** The caller was interrupted (a signal) while it waited: answered as EINTR. */
export class InterruptedError extends Error {
  readonly code = 'EINTR';
  constructor(message: string) {
    super(`EINTR: ${message}`);
    this.name = 'InterruptedError';
  }
}

interface Span {
  start: number;
  /** Exclusive; Infinity = to EOF. */
  end: number;
}

interface Abandoned extends Span {
  type: HeldType;
  rpc: Promise<LockResult>;
  /** Set when its answer is being handled (too late to take it over). */
  answered: boolean;
  adopted: boolean;
  /** Resolves once answered and, if that was a grant, undone. */
  settled: Promise<void>;
}

interface Lane {
  readonly key: string;
  readonly ino: Ino;
  readonly owner: string;
  readonly kind: 'posix' | 'flock';
  /** What the owner holds, as far as this agent knows (flock: at most one range, 0..EOF). */
  held: HeldRange[];
  readonly inflight: Set<Span & { done: Promise<unknown> }>;
  readonly abandoned: Set<Abandoned>;
  /** Requests running on the lane (it is forgotten only when none is and it holds nothing). */
  users: number;
  /** The process of the last grant (a Reclaim reports it; F_GETLK on other agents shows it). */
  pid: number;
}

const WHOLE: Span = { start: 0, end: Infinity };
const wireEnd = (end: number): number => (end === Infinity ? -1 : end);
const ABORTED = Symbol('aborted');

export interface LocksOptions {
  client: Pick<VolumeClient, 'call'>;
  log: Logger;
}

export function createLocks(opts: LocksOptions): Locks {
  const { client, log } = opts;
  const lanes = new Map<string, Lane>();
  const counters = { undone: 0, undoFailures: 0 };

  function enter(ino: Ino, owner: string, kind: Lane['kind']): Lane {
    const key = `${kind}/${ino}/${owner}`;
    let lane = lanes.get(key);
    if (!lane) lanes.set(key, (lane = { key, ino, owner, kind, held: [], inflight: new Set(), abandoned: new Set(), users: 0, pid: 0 }));
    lane.users++;
    return lane;
  }

  function leave(lane: Lane): void {
    lane.users--;
    if (lane.users === 0 && lane.held.length === 0 && lane.abandoned.size === 0 && lane.inflight.size === 0) lanes.delete(lane.key);
  }

  /** One Lock RPC, tracked while it is out. */
  function send(lane: Lane, span: Span, type: HeldType | 'unlock', wait: boolean, pid: number): Promise<LockResult> {
    const params: Omit<LockParams, 'mountId'> = { ino: lane.ino, owner: lane.owner, kind: lane.kind, type, start: span.start, end: wireEnd(span.end), wait, pid };
    const done = client.call('Lock', params);
    const entry = { ...span, done };
    lane.inflight.add(entry);
    done.then(() => lane.inflight.delete(entry), () => lane.inflight.delete(entry));
    return done;
  }

  /** Waits until no wait the owner gave up overlaps span (answered, and undone if granted). */
  async function settleBefore(lane: Lane, span: Span, signal: AbortSignal): Promise<void> {
    for (;;) {
      const pending = [...lane.abandoned].filter((a) => overlaps(a, span));
      if (pending.length === 0) return;
      if (await raceAbort(Promise.all(pending.map((a) => a.settled)), signal) === ABORTED) throw interrupted(lane);
    }
  }

  function abandon(lane: Lane, span: Span, type: HeldType, rpc: Promise<LockResult>): void {
    lane.users++; // held until settled
    const a: Abandoned = { ...span, type, rpc, answered: false, adopted: false, settled: Promise.resolve() };
    lane.abandoned.add(a);
    a.settled = rpc.then(
      async (r) => {
        a.answered = true;
        if (r.granted && !a.adopted) await undo(lane, a);
      },
      () => { a.answered = true; },
    ).catch((err) => {
      counters.undoFailures++;
      log.warn({ ino: lane.ino, owner: lane.owner, kind: lane.kind, err: (err as Error).message }, 'lock: undoing the grant of an interrupted wait failed');
    }).finally(() => {
      lane.abandoned.delete(a);
      leave(lane);
    });
  }

  /** Puts a's range back as the owner's copy says it holds it (module comment). */
  async function undo(lane: Lane, a: Abandoned): Promise<void> {
    const earlier = [...lane.inflight].filter((f) => f.done !== a.rpc && overlaps(f, a));
    await Promise.allSettled(earlier.map((f) => f.done));
    counters.undone++;
    for (const piece of piecesOf(lane.held, a.start, a.end)) {
      if (piece.type === a.type) continue;
      if (piece.type === 'none') {
        await send(lane, piece, 'unlock', false, 0);
        continue;
      }
      const r = await send(lane, piece, piece.type, false, 0);
      if (!r.granted) {
        counters.undoFailures++;
        lane.held = applyRange(lane.held, a.type, piece.start, piece.end);
        log.warn({ ino: lane.ino, owner: lane.owner, kind: lane.kind, start: piece.start, end: wireEnd(piece.end) },
          `lock: could not restore a ${piece.type} lock after an interrupted wait; the owner holds a ${a.type} lock there`);
      }
    }
  }

  function interrupted(lane: Lane): InterruptedError {
    return new InterruptedError(`${lane.kind} lock on inode ${lane.ino}: the caller was interrupted`);
  }

  async function acquire(lane: Lane, span: Span, type: HeldType, req: SetLockRequest): Promise<void> {
    let pending: Promise<LockResult> | undefined;
    if (req.wait) {
      for (const a of lane.abandoned) {
        if (a.answered || a.adopted || a.type !== type || a.start !== span.start || a.end !== span.end) continue;
        a.adopted = true; // a restarted F_SETLKW: take the abandoned wait over
        lane.abandoned.delete(a);
        pending = a.rpc;
        break;
      }
    }
    for (;;) {
      if (!pending) {
        await settleBefore(lane, span, req.signal);
        if (req.wait && req.signal.aborted) throw interrupted(lane);
        // flock conversions are not atomic: the server drops the old lock when the request arrives.
        if (lane.kind === 'flock' && lane.held[0]?.type !== type) lane.held = [];
        pending = send(lane, span, type, req.wait, req.pid);
      }
      const rpc = pending;
      pending = undefined;
      let r: LockResult;
      if (req.wait) {
        const answer = await raceAbort(rpc, req.signal);
        if (answer === ABORTED) {
          abandon(lane, span, type, rpc);
          throw interrupted(lane);
        }
        r = answer;
      } else {
        r = await rpc;
      }
      if (r.granted) {
        lane.held = applyRange(lane.held, type, span.start, span.end);
        lane.pid = req.pid;
        return;
      }
      if (!req.wait) throw new FsError('EAGAIN', `${lane.kind} ${type} lock on inode ${lane.ino} is held by another owner`);
      if (r.retryAfterMs > 0 && await raceAbort(delay(r.retryAfterMs), req.signal) === ABORTED) throw interrupted(lane);
    }
  }

  async function release(lane: Lane, span: Span, req: SetLockRequest): Promise<void> {
    if (req.closing) {
      // Not behind abandoned waits (close(2) must not hang): their undo sees the cleared copy.
      await send(lane, WHOLE, 'unlock', false, 0);
      lane.held = [];
      return;
    }
    await settleBefore(lane, span, req.signal);
    await send(lane, span, 'unlock', false, req.pid);
    lane.held = applyRange(lane.held, 'unlock', span.start, span.end);
  }

  async function setLock(ino: Ino, owner: string, kind: Lane['kind'], span: Span, req: SetLockRequest): Promise<void> {
    const lane = enter(ino, owner, kind);
    try {
      if (req.type === 'unlock') await release(lane, span, req);
      else await acquire(lane, span, req.type, req);
    } finally {
      leave(lane);
    }
  }

  return {
    has: (ino, owner, kind) => lanes.has(`${kind}/${ino}/${owner}`),
    async getLock(ino, owner, q) {
      const r = await client.call('GetLock', { ino, owner, kind: 'posix', type: q.type, start: q.start, end: q.end });
      return r.conflict;
    },
    posix(ino, owner, req) {
      return setLock(ino, owner, 'posix', { start: req.start, end: req.end === -1 ? Infinity : req.end }, req);
    },
    flock(ino, owner, req) {
      return setLock(ino, owner, 'flock', WHOLE, req);
    },
    claims() {
      const out: ReclaimedLock[] = [];
      for (const lane of lanes.values()) {
        for (const r of lane.held) out.push({ ino: lane.ino, owner: lane.owner, kind: lane.kind, type: r.type, start: r.start, end: wireEnd(r.end), pid: lane.pid });
      }
      return out;
    },
    reset() {
      for (const lane of [...lanes.values()]) {
        lane.held = [];
        if (lane.users === 0 && lane.abandoned.size === 0 && lane.inflight.size === 0) lanes.delete(lane.key);
      }
    },
    stats() {
      let abandoned = 0;
      for (const lane of lanes.values()) abandoned += lane.abandoned.size;
      return { lanes: lanes.size, abandoned, ...counters };
    },
  };
}

/** The promise's value, or ABORTED as soon as signal aborts (the promise is left running). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (err) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
