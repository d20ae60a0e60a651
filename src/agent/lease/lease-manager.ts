/**
 * The client lease manager (docs/LEASES.md §1-§4): per inode, the lease this mount holds, the
 * server call in progress (requesting, promoting, demoting, releasing), the guards of the
 * operations relying on it, and a FIFO of what waits: acquisitions and revocations (interrupts
 * from the server, SharedLeaseLimit/ExclusiveLeaseLimit, the HTTP admin calls).
 *
 * Invariants:
 * - At most one server call per inode at a time; the queue is served in order, so an
 *   acquisition that arrives after a revocation waits for it (no starvation of interrupts).
 * - A revocation waits for the guards it conflicts with: a demote for Exclusive guards, a
 *   release for every guard. Operations never take a second guard on an inode they hold one
 *   on (that could wait for a revocation that waits for them).
 * - An Exclusive lease is flushed (callbacks.flush) before it is demoted or released; a
 *   released lease's caches are dropped (callbacks.dropped) before the Lease release call.
 *   Neither awaits the kernel's invalidation (docs/FUSE-BINDING.md §6.4).
 * - A failed demote or release call leaves the lease weaker here than the server may think:
 *   never the other way round. The server's next interrupt is answered again.
 * - reset() (eviction) detaches every entry: server calls still in flight for them are ignored
 *   when they settle; waiting acquisitions move to fresh entries and ask the next mount.
 */
import { PfsError, errorCode } from '../../common/errors/index.js';
import type { Ino, LeaseGrant, LeaseInterruptAction, LeaseRequest } from '../../common/protocol/index.js';
import type { LeaseGuard, LeaseManager, LeaseManagerOptions, LeaseMode, LeaseSnapshot, LeaseState, LeaseStats, LeaseTransition } from './types.js';
import { idle, revocationOf, users, type Acquire, type Entry, type Revoke } from './entry.js';
import { limitVictims } from './limits.js';
import { askWithRetry } from './retry.js';

export function createLeaseManager(opts: LeaseManagerOptions): LeaseManager {
  const { server, callbacks, log, timers, retry } = opts;
  const invalidateWaitMs = opts.invalidateWaitMs ?? 1000;
  const random = opts.random ?? Math.random;
  /** Insertion order is recency: the least recently used entry comes first. */
  let entries = new Map<Ino, Entry>();
  const held = { shared: 0, exclusive: 0 };
  const counters = { interruptsDemote: 0, interruptsRelease: 0, denials: 0, limitRevocations: 0, retries: 0, evictions: 0 };
  const inflight = new Set<Promise<void>>();
  let epochSeq = 0;
  let closed = false;

  const satisfies = (state: LeaseState, mode: LeaseMode) => state === 'exclusive' || (state === 'shared' && mode === 'shared');

  function entryOf(ino: Ino): Entry {
    let e = entries.get(ino);
    if (!e) entries.set(ino, (e = { ino, state: 'none', epoch: 0, valid: false, serverHeld: false, shared: 0, exclusive: 0, queue: [], detached: false }));
    return e;
  }

  function touch(e: Entry): void {
    entries.delete(e.ino);
    entries.set(e.ino, e);
  }

  function setState(e: Entry, state: LeaseState): void {
    if (e.state !== 'none') held[e.state]--;
    if (state !== 'none') held[state]++;
    e.state = state;
  }

  function forgetIfIdle(e: Entry): void {
    if (!e.detached && e.state === 'none' && !e.busy && e.queue.length === 0 && users(e) === 0) entries.delete(e.ino);
  }

  function guard(e: Entry, mode: LeaseMode): LeaseGuard {
    e[mode]++;
    let released = false;
    return {
      ino: e.ino, mode, epoch: e.epoch,
      release() {
        if (released) return;
        released = true;
        e[mode]--;
        pump(e);
        enforceLimits();
      },
    };
  }

  function finish(r: Revoke): void {
    for (const w of r.waiters.splice(0)) w();
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { timers.after(ms, resolve); });
  }

  /** One Lease call, asked again per the LeaseRetry* keys (retry.ts). */
  function ask(e: Entry, request: LeaseRequest): Promise<LeaseGrant> {
    return askWithRetry({ server, retry, random, log, sleep, stop: () => e.detached || closed, onRetry: () => { counters.retries++; } }, e.ino, request);
  }

  /** Runs one server call for e (busy until it settles), then serves the queue again. */
  function transition(e: Entry, busy: LeaseTransition, work: () => Promise<void>): void {
    e.busy = busy;
    const p = work().catch((err) => {
      log.error({ ino: e.ino, busy, err: (err as Error)?.message }, 'lease manager: unexpected failure');
    }).finally(() => {
      inflight.delete(p);
      if (e.detached) return;
      e.busy = undefined;
      e.running = undefined;
      pump(e);
      enforceLimits();
    });
    inflight.add(p);
  }

  function request(e: Entry, head: Acquire): void {
    const promote = e.state === 'shared';
    transition(e, promote ? 'promoting' : 'requesting', async () => {
      let granted: LeaseGrant;
      try {
        granted = await ask(e, promote ? 'promote' : head.mode);
      } catch (err) {
        if (e.detached) return;
        if (promote && errorCode(err) === 'PFS_ERR_LEASE_DENIED') {
          // Another mount's promotion waits for our Shared lease: give it up, then ask for Exclusive.
          counters.denials++;
          e.queue.unshift({ kind: 'revoke', action: 'release', answer: false, started: false, waiters: [] });
          return;
        }
        e.queue.splice(e.queue.indexOf(head), 1);
        head.reject(err);
        return;
      }
      if (e.detached) return;
      if (granted === 'none') {
        e.queue.splice(e.queue.indexOf(head), 1);
        head.reject(new PfsError('PFS_ERR_INTERNAL', `Lease ${promote ? 'promote' : head.mode} of inode ${e.ino} answered none`));
        return;
      }
      if (e.state === 'none') {
        e.epoch = ++epochSeq;
        e.valid = true;
        e.serverHeld = true;
      }
      setState(e, granted);
    });
  }

  function demote(e: Entry, r: Revoke): void {
    r.started = true;
    e.running = r;
    transition(e, 'demoting', async () => {
      try {
        await callbacks.flush(e.ino);
      } catch (err) {
        log.warn({ ino: e.ino, err: (err as Error).message }, 'flush before a lease demote failed');
      }
      if (e.detached) return;
      await ask(e, 'demote').catch((err) => log.warn({ ino: e.ino, code: errorCode(err) }, 'Lease demote failed'));
      if (e.detached) return;
      setState(e, 'shared');
      e.queue.splice(e.queue.indexOf(r), 1);
      finish(r);
    });
  }

  function release(e: Entry, r: Revoke): void {
    r.started = true;
    e.running = r;
    e.valid = false;
    transition(e, 'releasing', async () => {
      if (e.state === 'exclusive') {
        try {
          await callbacks.flush(e.ino);
        } catch (err) {
          log.warn({ ino: e.ino, err: (err as Error).message }, 'flush before a lease release failed');
        }
      }
      if (e.detached) return;
      let invalidated: Promise<unknown> = Promise.resolve();
      try {
        invalidated = callbacks.dropped(e.ino);
      } catch (err) {
        log.error({ ino: e.ino, err: (err as Error).message }, 'dropping caches of a released lease failed');
      }
      await kernelDone(e, invalidated);
      if (e.detached) return;
      e.serverHeld = false;
      await ask(e, 'release').catch((err) => log.warn({ ino: e.ino, code: errorCode(err) }, 'Lease release failed'));
      if (e.detached) return;
      setState(e, 'none');
      e.queue.splice(e.queue.indexOf(r), 1);
      finish(r);
    });
  }

  /**
   * Waits (at most invalidateWaitMs) for the kernel to drop the inode's pages and attributes, so
   * that the other mount is granted only after this one cannot serve stale pages. Never while an
   * operation waits on the inode: a FUSE read or write waiting for the lease may hold the page
   * locks the invalidation needs (docs/FUSE-BINDING.md §6.4); one that queues stops the wait.
   */
  async function kernelDone(e: Entry, invalidated: Promise<unknown>): Promise<void> {
    if (e.queue.some((i) => i.kind === 'acquire')) return;
    let cancel = () => {};
    await Promise.race([
      invalidated.catch(() => undefined),
      new Promise<void>((resolve) => {
        e.wake = resolve;
        cancel = timers.after(invalidateWaitMs, resolve);
      }),
    ]);
    cancel();
    e.wake = undefined;
  }

  /** An interrupt for a lease we do not hold in the asked form: tell the server what we hold. */
  function answer(e: Entry, r: Revoke, request: 'demote' | 'release'): void {
    r.started = true;
    e.running = r;
    transition(e, request === 'demote' ? 'demoting' : 'releasing', async () => {
      await ask(e, request).catch((err) => log.debug({ ino: e.ino, code: errorCode(err) }, 'answering a lease interrupt failed'));
      if (e.detached) return;
      e.queue.splice(e.queue.indexOf(r), 1);
      finish(r);
    });
  }

  function pump(e: Entry): void {
    if (e.detached || e.busy) return;
    while (e.queue.length > 0) {
      const head = e.queue[0]!;
      if (head.kind === 'acquire') {
        if (satisfies(e.state, head.mode)) {
          e.queue.shift();
          head.resolve(guard(e, head.mode));
          continue;
        }
        if (closed) {
          e.queue.shift();
          head.reject(new PfsError('PFS_ERR_RPC_CLOSED', 'the lease manager is closed'));
          continue;
        }
        request(e, head);
        return;
      }
      const nothingToGive = head.action === 'demote' ? e.state !== 'exclusive' : e.state === 'none';
      if (nothingToGive) {
        if (head.answer) {
          answer(e, head, e.state === 'shared' ? 'demote' : 'release');
          return;
        }
        e.queue.shift();
        finish(head);
        continue;
      }
      if (head.action === 'demote') {
        if (e.exclusive > 0) return;
        demote(e, head);
      } else {
        if (users(e) > 0) return;
        release(e, head);
      }
      return;
    }
    forgetIfIdle(e);
  }

  function revoke(e: Entry, action: LeaseInterruptAction, answer: boolean): Revoke {
    const r: Revoke = { kind: 'revoke', action, answer, started: false, waiters: [] };
    e.queue.push(r);
    return r;
  }

  /** Over a limit: the least recently used idle leases are demoted (Exclusive) or released (Shared). */
  function enforceLimits(): void {
    if (closed) return;
    for (const [e, action] of limitVictims(() => entries.values(), held, { shared: opts.sharedLimit, exclusive: opts.exclusiveLimit })) {
      counters.limitRevocations++;
      revoke(e, action, false);
      pump(e);
    }
  }

  function acquire(ino: Ino, mode: LeaseMode): Promise<LeaseGuard> {
    if (closed) return Promise.reject(new PfsError('PFS_ERR_RPC_CLOSED', 'the lease manager is closed'));
    const e = entryOf(ino);
    touch(e);
    if (!e.busy && e.queue.length === 0 && satisfies(e.state, mode)) return Promise.resolve(guard(e, mode));
    return new Promise<LeaseGuard>((resolve, reject) => {
      e.queue.push({ kind: 'acquire', mode, resolve, reject });
      e.wake?.();
      pump(e);
    });
  }

  function revokeAll(action: LeaseInterruptAction, which: (e: Entry) => boolean): Promise<number> {
    const done: Promise<void>[] = [];
    for (const e of [...entries.values()]) {
      if (!which(e)) continue;
      const r = revoke(e, action, false);
      done.push(new Promise<void>((resolve) => r.waiters.push(resolve)));
      pump(e);
    }
    return Promise.all(done).then(() => done.length);
  }

  return {
    acquireShared: (ino) => acquire(ino, 'shared'),
    acquireExclusive: (ino) => acquire(ino, 'exclusive'),
    adopt(ino, mode) {
      if (closed || entries.has(ino)) return false;
      const e = entryOf(ino);
      e.epoch = ++epochSeq;
      e.valid = true;
      e.serverHeld = true;
      setState(e, mode);
      enforceLimits();
      return true;
    },
    gone(ino) {
      const e = entries.get(ino);
      if (!e || e.state === 'none' || e.busy || e.queue.length > 0 || users(e) > 0 || e.detached) return false;
      setState(e, 'none');
      e.valid = false;
      e.serverHeld = false;
      forgetIfIdle(e);
      return true;
    },
    epoch(ino) {
      const e = entries.get(ino);
      return e && e.valid && e.state !== 'none' ? e.epoch : undefined;
    },
    heldEpoch(ino) {
      const e = entries.get(ino);
      return e && e.serverHeld && e.state !== 'none' ? e.epoch : undefined;
    },
    known(ino) {
      const e = entries.get(ino);
      return e !== undefined && (e.state !== 'none' || e.busy === 'requesting');
    },
    drop(ino) {
      const e = entries.get(ino);
      if (!e || e.state === 'none' || !idle(e) || revocationOf(e)) return;
      revoke(e, 'release', false);
      pump(e);
    },
    interrupt(ino, action) {
      if (action === 'demote') counters.interruptsDemote++;
      else counters.interruptsRelease++;
      if (closed) return;
      const e = entryOf(ino);
      const running = e.running;
      if (running && (running.action === 'release' || action === 'demote')) return; // already giving it up
      const queued = e.queue.find((i): i is Revoke => i.kind === 'revoke' && !i.started);
      if (queued) {
        queued.answer = true;
        if (action === 'release') queued.action = 'release';
      } else {
        revoke(e, action, true);
      }
      pump(e);
    },
    snapshot() {
      const out: LeaseSnapshot = { shared: [], exclusive: [], requesting: [], promoting: [], demoting: [], releasing: [] };
      for (const e of entries.values()) {
        if (e.state !== 'none') out[e.state].push(e.ino);
        if (e.busy) out[e.busy].push(e.ino);
      }
      for (const list of Object.values(out) as Ino[][]) list.sort((a, b) => a - b);
      return out;
    },
    claims() {
      const out: { ino: Ino; mode: LeaseMode }[] = [];
      for (const e of entries.values()) if (e.serverHeld && e.state !== 'none') out.push({ ino: e.ino, mode: e.state });
      return out;
    },
    demoteAll: () => revokeAll('demote', (e) => e.state === 'exclusive'),
    releaseAll: () => revokeAll('release', (e) => e.state !== 'none'),
    reset() {
      counters.evictions++;
      const old = [...entries.values()];
      entries = new Map();
      held.shared = 0;
      held.exclusive = 0;
      const had: Ino[] = [];
      for (const e of old) {
        e.detached = true;
        e.wake?.();
        if (e.state !== 'none') had.push(e.ino);
        const waiting = e.queue.filter((i): i is Acquire => i.kind === 'acquire');
        for (const i of e.queue) if (i.kind === 'revoke') finish(i);
        if (e.running) finish(e.running);
        e.queue = [];
        if (waiting.length > 0) entryOf(e.ino).queue.push(...waiting);
      }
      for (const e of [...entries.values()]) pump(e);
      return had;
    },
    stats(): LeaseStats {
      let transitions = 0;
      for (const e of entries.values()) if (e.busy) transitions++;
      return { shared: held.shared, exclusive: held.exclusive, transitions, ...counters };
    },
    async close() {
      closed = true;
      for (const e of entries.values()) {
        const waiting = e.queue.filter((i): i is Acquire => i.kind === 'acquire' && !(e.busy && e.queue[0] === i));
        for (const a of waiting) {
          e.queue.splice(e.queue.indexOf(a), 1);
          a.reject(new PfsError('PFS_ERR_RPC_CLOSED', 'the lease manager is closed'));
        }
      }
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}
