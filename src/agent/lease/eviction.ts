/**
 * What the agent does when the volume server refuses its mount (docs/LEASES.md §3): it was
 * evicted (a lease interrupt went unanswered, e.g. the agent was stopped) or dropped after
 * MountGracePeriod. Once per lost mount: log it, let the agent fail its buffered writes and
 * drop its caches and leases (onLost, synchronous, before anything else runs), then Mount again
 * until the server answers. The volume client calls recover() and swaps the mount ID.
 */
import { errorCode } from '../../common/errors/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { Timers } from './types.js';

export interface MountRecoveryOptions {
  log: Logger;
  timers: Timers;
  /** Mounts the volume again; resolves with the new mount ID. */
  mount(): Promise<string>;
  /** The mount is gone: mark buffered data failed, drop caches (agent and kernel), reset leases. */
  onLost(lostMountId: string): void;
  /** Delay between Mount attempts; attempts stop after `attempts` (the caller sees the error). */
  retryDelayMs: number;
  attempts: number;
}

export interface MountRecovery {
  /** Resolves with the new mount ID. Call once per lost mount (the volume client makes it single-flight). */
  recover(lostMountId: string, err: unknown): Promise<string>;
  readonly recoveries: number;
}

export function createMountRecovery(opts: MountRecoveryOptions): MountRecovery {
  let recoveries = 0;
  const sleep = (ms: number) => new Promise<void>((resolve) => { opts.timers.after(ms, resolve); });
  return {
    get recoveries() { return recoveries; },
    async recover(lostMountId, err) {
      recoveries++;
      const code = errorCode(err);
      opts.log.error({ mountId: lostMountId, code }, code === 'PFS_ERR_MOUNT_EVICTED'
        ? 'mount evicted by the volume server (a lease interrupt went unanswered, or its claim after a proxyfsd restart was refused): buffered writes fail (EIO at fsync/close), caches and leases dropped; mounting again'
        : 'mount unknown to the volume server (dropped after MountGracePeriod): buffered writes fail (EIO at fsync/close), caches and leases dropped; mounting again');
      opts.onLost(lostMountId);
      for (let attempt = 1; ; attempt++) {
        try {
          const mountId = await opts.mount();
          opts.log.info({ mountId, lostMountId }, 'mounted again');
          return mountId;
        } catch (e) {
          if (attempt >= opts.attempts) throw e;
          opts.log.warn({ code: errorCode(e), attempt, err: (e as Error).message }, 'Mount after an eviction failed; trying again');
          await sleep(opts.retryDelayMs);
        }
      }
    },
  };
}
