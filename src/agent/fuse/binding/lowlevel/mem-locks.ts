// MemLocks: POSIX byte-range locks and flock locks for MemTree, by node id and kernel lock
// owner, with waiting (setlkw, flock without LOCK_NB) that ends with EINTR when the request's
// signal aborts (FUSE_INTERRUPT). For tests; ranges are [start, end), end -1 = to end of file.

import { constants } from 'node:os';
import type { LlLock, LlLockType } from './types.js';

const { EAGAIN, EINTR } = constants.errno;

interface Held {
  owner: string;
  type: 'read' | 'write';
  start: number;
  end: number; // exclusive; Infinity = to end of file
  pid: number;
}

const endOf = (l: LlLock) => (l.end < 0 ? Infinity : l.end);
const overlaps = (a: { start: number; end: number }, start: number, end: number) => a.start < end && start < a.end;

export class MemLocks {
  private readonly posix = new Map<number, Held[]>();
  private readonly flocks = new Map<number, Map<string, 'read' | 'write'>>();
  private readonly waiters = new Set<() => void>();
  /** Waits that ended because the request was interrupted. */
  interrupted = 0;

  /** getlk: the first lock of another owner that conflicts with `lock`, or undefined. */
  test(ino: number, owner: string, lock: LlLock): LlLock | undefined {
    const end = endOf(lock);
    const c = (this.posix.get(ino) ?? []).find((h) => h.owner !== owner && overlaps(h, lock.start, end) && (h.type === 'write' || lock.type === 'write'));
    return c && { type: c.type, start: c.start, end: c.end === Infinity ? -1 : c.end, pid: c.pid };
  }

  /** setlk/setlkw: 0 or an errno (EAGAIN: held by another; EINTR: interrupted while waiting). */
  setlk(ino: number, owner: string, lock: LlLock, wait: boolean, signal: AbortSignal): Promise<number> {
    return this.acquire(() => lock.type === 'unlock' || !this.test(ino, owner, lock), () => this.apply(ino, owner, lock), wait, signal);
  }

  flock(ino: number, owner: string, type: LlLockType, wait: boolean, signal: AbortSignal): Promise<number> {
    const held = this.flocks.get(ino) ?? new Map<string, 'read' | 'write'>();
    this.flocks.set(ino, held);
    const free = () => type === 'unlock' || [...held].every(([o, t]) => o === owner || (t === 'read' && type === 'read'));
    return this.acquire(free, () => { if (type === 'unlock') held.delete(owner); else held.set(owner, type); }, wait, signal);
  }

  /** close(2) of a descriptor (flush): the owner's POSIX locks on ino go. */
  dropPosix(ino: number, owner: string): void {
    this.apply(ino, owner, { type: 'unlock', start: 0, end: -1, pid: 0 });
  }

  /** Release with flock_release: the description's flock goes. */
  dropFlock(ino: number, owner: string): void {
    if (this.flocks.get(ino)?.delete(owner)) this.wake();
  }

  private acquire(free: () => boolean, take: () => void, wait: boolean, signal: AbortSignal): Promise<number> {
    if (free()) { take(); this.wake(); return Promise.resolve(0); }
    if (!wait) return Promise.resolve(EAGAIN);
    return new Promise((done) => {
      const retry = () => {
        if (!free()) return;
        finish();
        take();
        this.wake();
        done(0);
      };
      const abort = () => { finish(); this.interrupted++; done(EINTR); };
      const finish = () => { this.waiters.delete(retry); signal.removeEventListener('abort', abort); };
      if (signal.aborted) return abort();
      this.waiters.add(retry);
      signal.addEventListener('abort', abort);
    });
  }

  private apply(ino: number, owner: string, lock: LlLock): void {
    const end = endOf(lock);
    const next: Held[] = [];
    for (const h of this.posix.get(ino) ?? []) {
      if (h.owner !== owner || !overlaps(h, lock.start, end)) { next.push(h); continue; }
      if (h.start < lock.start) next.push({ ...h, end: lock.start });
      if (h.end > end) next.push({ ...h, start: end });
    }
    if (lock.type !== 'unlock') next.push({ owner, type: lock.type, start: lock.start, end, pid: lock.pid });
    this.posix.set(ino, next);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
