/**
 * Background data work of a volume server, and the data half of fsck.
 *
 * Parts: deleter.ts (dead objects out of the store after a delay; expired provisioned objects),
 * compactor.ts (copy the live pieces of mostly-dead objects into a new object, then repoint),
 * fsck.ts (extent maps and object rows against the store).
 *
 * Scheduling: one job at a time, in a promise chain, so the deleter and the compactor never
 * race each other. The deleter runs every gcIntervalMs, and after a kick (an object died):
 * a kicked round runs deadObjectDeleteDelayMs later, when that object is old enough.
 * Compaction runs every compactionIntervalMs (0 = never). Timer-driven rounds log their
 * errors and go on; nothing here crashes the server. Timers are unref'd.
 * close() stops the timers, lets the job in flight finish and drops queued ones. It does not
 * close the store (main owns it).
 */
import { PfsError } from '../../common/errors/index.js';
import { runCompaction } from './compactor.js';
import { runDeleter } from './deleter.js';
import { newStats, type GcOptions, type GcStats } from './types.js';

export { fsckData, type FsckDataReport } from './fsck.js';
export type { GcOptions, GcSettings, GcStats } from './types.js';

export interface Gc {
  /** Something died: run a deleter round once it may be deleted. Cheap; safe inside a transaction. */
  kick(): void;
  /** One deleter round and (when enabled) one compaction run, now. Errors propagate. */
  runOnce(): Promise<{ deleted: number; compacted: number; expired: number }>;
  stats(): GcStats;
  close(): Promise<void>;
}

export function startGc(o: GcOptions): Gc {
  if (!(o.gcIntervalMs > 0)) throw new PfsError('PFS_ERR_CONFIG', `gc interval must be positive, got ${o.gcIntervalMs} ms`);
  const stats = newStats();
  let closed = false;
  let chain: Promise<unknown> = Promise.resolve();
  let deleteQueued = false;
  let kickTimer: NodeJS.Timeout | undefined;
  let kickedAgain = false;
  const stopping = (): boolean => closed;

  function enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      stats.running = true;
      try {
        return await job();
      } finally {
        stats.running = false;
      }
    };
    const p = chain.then(run);
    chain = p.catch(() => {});
    return p;
  }

  function background(name: string, job: () => Promise<unknown>): void {
    void enqueue(async () => {
      if (closed) return;
      try {
        stats.rounds++;
        await job();
      } catch (err) {
        stats.lastError = (err as Error).message;
        o.log.error({ err }, `gc: ${name} failed; will retry`);
      }
    });
  }

  function deleteRound(): void {
    if (closed || deleteQueued) return;
    deleteQueued = true;
    background('deleter', async () => {
      deleteQueued = false;
      await runDeleter(o, stats, stopping);
    });
  }

  function armKick(): void {
    kickTimer = setTimeout(() => {
      kickTimer = undefined;
      deleteRound();
      if (kickedAgain) {
        kickedAgain = false;
        armKick();
      }
    }, Math.max(0, o.deadObjectDeleteDelayMs) + 1);
    kickTimer.unref();
  }

  const gcTimer = setInterval(deleteRound, o.gcIntervalMs).unref();
  const compactionTimer = o.compactionIntervalMs > 0
    ? setInterval(() => { if (!closed) background('compaction', () => runCompaction(o, stats, stopping)); }, o.compactionIntervalMs).unref()
    : undefined;

  return {
    kick() {
      if (closed) return;
      if (kickTimer) kickedAgain = true;
      else armKick();
    },
    runOnce() {
      if (closed) return Promise.reject(new PfsError('PFS_ERR_INTERNAL', 'gc is closed'));
      return enqueue(async () => {
        stats.rounds++;
        const { deleted, expired } = await runDeleter(o, stats, stopping);
        const compacted = o.compactionIntervalMs > 0 ? await runCompaction(o, stats, stopping) : 0;
        return { deleted, compacted, expired };
      });
    },
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      clearInterval(gcTimer);
      if (compactionTimer) clearInterval(compactionTimer);
      if (kickTimer) clearTimeout(kickTimer);
      await chain;
    },
  };
}
