/**
 * What the agent does when proxyfsd restarted (docs/LEASES.md §8): the RPC client reconnected
 * to a new server instance, which has granted nothing, while this agent still caches, buffers
 * and holds locks under the leases and locks the old instance granted. Before any request
 * resent after the reconnect, it claims them all with Reclaim (split into calls of at most
 * RECLAIM_BATCH_MAX of each, `done` on the last), so the new server knows them before it
 * grants anything to anyone else.
 *
 * A refused claim evicts the mount: the volume client then runs the eviction recovery (its
 * buffered writes fail with EIO, caches go, it mounts again). A claim that gets no answer
 * (RPC deadline) is made again, with what is held by then, per the LeaseRetry* keys.
 */
import { errorCode } from '../../common/errors/index.js';
import { RECLAIM_BATCH_MAX, type ReclaimedLock, type ReclaimParams } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import { retryDelayMs } from './retry.js';
import type { LeaseManager, LeaseRetry, Timers } from './types.js';

export interface ReclaimerOptions {
  log: Logger;
  timers: Timers;
  retry: LeaseRetry;
  leases: Pick<LeaseManager, 'claims'>;
  locks(): ReclaimedLock[];
  /** One Reclaim call of the current mount; must send synchronously (before it returns). */
  send(params: Omit<ReclaimParams, 'mountId'>): Promise<unknown>;
  random?: () => number;
}

export interface Reclaimer {
  /** Claims everything held now (call from the RPC client's onServerChange). */
  reclaim(): void;
}

const GONE: ReadonlySet<string | undefined> = new Set(['PFS_ERR_MOUNT_EVICTED', 'PFS_ERR_UNKNOWN_MOUNT', 'PFS_ERR_RPC_CLOSED']);

export function createReclaimer(opts: ReclaimerOptions): Reclaimer {
  let round = 0;

  function attempt(n: number, myRound: number): void {
    if (myRound !== round) return; // a newer restart started its own claim
    const leases = opts.leases.claims();
    const locks = opts.locks();
    const calls = Math.max(1, Math.ceil(Math.max(leases.length, locks.length) / RECLAIM_BATCH_MAX));
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < calls; i++) {
      const slice = <T>(a: T[]): T[] => a.slice(i * RECLAIM_BATCH_MAX, (i + 1) * RECLAIM_BATCH_MAX);
      sent.push(opts.send({ leases: slice(leases), locks: slice(locks), done: i === calls - 1 }));
    }
    const fields = { leases: leases.length, locks: locks.length, attempt: n };
    opts.log.info(fields, 'proxyfsd restarted: claiming the leases and locks this mount holds');
    Promise.all(sent).then(
      () => opts.log.info(fields, 'leases and locks claimed'),
      (err: unknown) => {
        const code = errorCode(err);
        if (GONE.has(code)) {
          opts.log.warn({ ...fields, code }, 'the claim after a proxyfsd restart was refused: the mount is replaced (see the eviction line)');
          return;
        }
        if (n > opts.retry.limit) {
          opts.log.error({ ...fields, code, err: (err as Error).message }, 'the claim after a proxyfsd restart got no answer; giving up (the server evicts this mount if another agent needs what it holds)');
          return;
        }
        const ms = retryDelayMs(opts.retry, n, opts.random ?? Math.random);
        opts.log.warn({ ...fields, code, retryInMs: ms }, 'the claim after a proxyfsd restart got no answer; claiming again');
        opts.timers.after(ms, () => attempt(n + 1, myRound));
      },
    );
  }

  return {
    reclaim: () => attempt(1, ++round),
  };
}
