/**
 * The agent's directory leases (docs/LEASES.md §5): which directories' names and attributes
 * this mount may let its kernel keep, and the names it let it keep in each.
 *
 * proxyfsd grants a directory lease with a Lookup or GetAttr answer. The agent uses a grant only
 * when no directory lease was lost (broken, dropped) since it sent the request (`mark`, `adopt`):
 * an answer may have been made before a change whose break reached the agent first. A break
 * (LeaseInterrupt release of a directory) drops the lease at once, tells the kernel to forget
 * every name kept under it and the directory's attributes, and answers (Lease release) once the
 * kernel has done so: the change that broke it is acknowledged only then. The kernel forgets a
 * name under the directory's inode lock; a change in that directory by this mount may hold it
 * while it waits for proxyfsd, which may be waiting for this answer. So while such a change is
 * in flight here (`changing`), the answer goes as soon as the notifications are sent; it also
 * goes after ANSWER_WAIT_MS whatever happens (logged), so no break waits into an eviction.
 *
 * A directory this mount made (Mkdir grants its maker the lease) starts *complete*: every name
 * in it is one this mount created there since, so a lookup of any other name is answered ENOENT
 * here (`absent`) without an RPC, until the lease goes or a change of it fails (its outcome is
 * then not known). After a change of a directory alone (no other change of it overlapping),
 * the directory's attributes the answer carries are kept under the lease (`keep`).
 *
 * Bounds: MAX_DIRS leases used and MAX_NAMES names recorded (kept names and the names of
 * complete directories); past them a grant or a name is not used, a directory is no longer
 * complete (the kernel then asks again, as without leases).
 */
import type { Attr, Ino } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';

export interface DirLeaseHooks {
  /** Tells the kernel to forget `name` in `dir`; resolves when done, never rejects. */
  invalidateEntry(dir: Ino, name: string): Promise<unknown>;
  /** Tells the kernel to forget the directory's attributes; resolves when done, never rejects. */
  invalidateAttrs(dir: Ino): Promise<unknown>;
  /** The agent's own caches of the directory go (its attributes). */
  forget(dir: Ino): void;
  /** The directory's attributes after this mount's change, current under the lease of `epoch`. */
  keep(attr: Attr, epoch: number): void;
  /** Sends Lease release for `dir`. */
  release(dir: Ino): Promise<unknown>;
}

export interface DirLeases {
  /** Taken before a request whose answer may carry a grant. */
  mark(): number;
  /**
   * proxyfsd says this mount holds the lease on `dir` (answer of a request sent at `mark`): the
   * lease's epoch when it may be used, else undefined.
   */
  adopt(dir: Ino, mark: number): number | undefined;
  /** The epoch of the lease held on dir (negative numbers: apart from file lease epochs), or undefined. */
  epoch(dir: Ino): number | undefined;
  /** Like adopt, for a directory this mount has just made (Mkdir's grant): it starts complete (empty). */
  adoptNew(dir: Ino, mark: number): number | undefined;
  /** The kernel is given `name` in `dir` to keep while the lease of `epoch` lasts: true when recorded (it may keep it). */
  keepName(dir: Ino, epoch: number, name: string): boolean;
  /** Known not to exist: `dir` is complete and has no such name. */
  absent(dir: Ino, name: string): boolean;
  /** proxyfsd says `name` exists in `dir` (a lookup found it): a complete directory that lacks it is not complete. */
  present(dir: Ino, name: string): void;
  /** A LeaseInterrupt for an inode that is not a file leased here: a directory's lease is broken. */
  interrupted(dir: Ino): void;
  /**
   * Runs a change of these directories by this mount (see above). Their cached attributes go
   * after it, except the first directory's when `outcome` gives them (it changed alone); on
   * success `outcome` also says which names it added and removed in which directory (complete
   * directories follow them); a failure makes the directories incomplete.
   */
  changing<T>(dirs: Ino[], work: () => Promise<T>, outcome?: (r: T) => ChangeOutcome): Promise<T>;
  /** The directory was removed by this mount: its lease went with it on proxyfsd (no release); its kept attributes go. */
  gone(dir: Ino): void;
  /** Every lease goes without a release (proxyfsd restarted, the mount was lost); resolves when the kernel was told. */
  dropAll(): Promise<void>;
  stats(): { dirLeases: number; names: number; breaks: number };
}

/** What a change did to names, and the first directory's attributes after it. */
export interface ChangeOutcome {
  added?: [Ino, string][];
  removed?: [Ino, string][];
  attr?: Attr;
}

export const MAX_DIRS = 20_000;
export const MAX_NAMES = 200_000;
export const ANSWER_WAIT_MS = 500;

interface Held {
  epoch: number;
  names: Set<string>;
  /** Every name the directory has, when this mount knows them all (it made the directory). */
  all?: Set<string>;
}

export function createDirLeases(hooks: DirLeaseHooks, log: Logger, answerWaitMs = ANSWER_WAIT_MS): DirLeases {
  const held = new Map<Ino, Held>();
  /** Answers owed, per directory: sends the answer now. */
  const owed = new Map<Ino, () => void>();
  const busy = new Map<Ino, number>();
  /** Per directory, changes started here (to tell a change that ran alone). */
  const started = new Map<Ino, number>();
  let lost = 0;
  let nextEpoch = -1;
  let names = 0;
  let breaks = 0;

  /** Drops the lease on dir here; resolves when the kernel has forgotten what it kept under it. */
  function lose(dir: Ino): Promise<unknown> {
    lost++;
    const h = held.get(dir);
    hooks.forget(dir);
    if (!h) return Promise.resolve();
    held.delete(dir);
    names -= h.names.size + (h.all?.size ?? 0);
    return Promise.all([hooks.invalidateAttrs(dir), ...[...h.names].map((n) => hooks.invalidateEntry(dir, n))]);
  }

  function adopt(dir: Ino, mark: number): number | undefined {
    const h = held.get(dir);
    if (lost !== mark) return undefined;
    if (h) return h.epoch;
    if (held.size >= MAX_DIRS) return undefined;
    const epoch = nextEpoch--;
    held.set(dir, { epoch, names: new Set() });
    return epoch;
  }

  function incomplete(h: Held | undefined): void {
    if (!h?.all) return;
    names -= h.all.size;
    h.all = undefined;
  }

  return {
    mark: () => lost,
    adopt,
    adoptNew(dir, mark) {
      const epoch = adopt(dir, mark);
      const h = held.get(dir);
      if (epoch !== undefined && h && h.names.size === 0 && !h.all) h.all = new Set();
      return epoch;
    },
    absent(dir, name) {
      const all = held.get(dir)?.all;
      return all !== undefined && !all.has(name);
    },
    present(dir, name) {
      const h = held.get(dir);
      if (h?.all && !h.all.has(name)) incomplete(h);
    },
    epoch: (dir) => held.get(dir)?.epoch,
    keepName(dir, epoch, name) {
      const h = held.get(dir);
      if (!h || h.epoch !== epoch) return false;
      if (h.names.has(name)) return true;
      if (names >= MAX_NAMES) return false;
      h.names.add(name);
      names++;
      return true;
    },
    interrupted(dir) {
      // proxyfsd re-sends an interrupt until it is answered: the answer owed goes when the kernel is done.
      if (owed.has(dir)) {
        lost++;
        return;
      }
      breaks++;
      let sent = false;
      const send = () => {
        if (sent) return;
        sent = true;
        clearTimeout(timer);
        if (owed.get(dir) === send) owed.delete(dir);
        hooks.release(dir).catch((err: unknown) => log.debug({ dir, err: (err as Error).message }, 'directory lease release failed (proxyfsd re-sends the interrupt)'));
      };
      const timer = setTimeout(() => {
        log.warn({ dir, waitedMs: answerWaitMs }, 'the kernel has not forgotten the names of a broken directory lease yet; answering the break anyway');
        send();
      }, answerWaitMs);
      timer.unref();
      owed.set(dir, send);
      void lose(dir).then(send);
      if ((busy.get(dir) ?? 0) > 0) send();
    },
    async changing(dirs, work, outcome) {
      const first = dirs[0];
      const epoch = first === undefined ? undefined : held.get(first)?.epoch;
      const token = first === undefined ? 0 : (started.get(first) ?? 0) + 1;
      if (first !== undefined) started.set(first, token);
      for (const d of dirs) {
        busy.set(d, (busy.get(d) ?? 0) + 1);
        owed.get(d)?.(); // an answer owed for d goes now: the kernel holds d's lock for this change
      }
      let out: ChangeOutcome | undefined;
      try {
        const r = await work();
        out = outcome?.(r);
        return r;
      } catch (err) {
        for (const d of dirs) incomplete(held.get(d));
        throw err;
      } finally {
        const alone = first !== undefined && busy.get(first) === 1 && started.get(first) === token;
        for (const d of dirs) {
          const n = busy.get(d)! - 1;
          if (n === 0) {
            busy.delete(d);
            started.delete(d);
          } else {
            busy.set(d, n);
          }
          hooks.forget(d);
        }
        if (out) {
          for (const [d, name] of out.removed ?? []) {
            const h = held.get(d);
            if (h?.all?.delete(name)) names--;
          }
          for (const [d, name] of out.added ?? []) {
            const h = held.get(d);
            if (!h?.all || h.all.has(name)) continue;
            if (names >= MAX_NAMES) incomplete(h);
            else {
              h.all.add(name);
              names++;
            }
          }
          if (out.attr && alone && epoch !== undefined && held.get(first!)?.epoch === epoch) hooks.keep(out.attr, epoch);
        }
      }
    },
    gone(dir) {
      void lose(dir);
    },
    async dropAll() {
      lost++;
      await Promise.all([...held.keys()].map((d) => lose(d)));
    },
    stats: () => ({ dirLeases: held.size, names, breaks }),
  };
}
