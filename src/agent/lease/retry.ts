/**
 * A Lease call asked again per the LeaseRetry* keys: after LeaseRetryDelay (growing by
 * LeaseRetryExpBackoff, ± LeaseRetryDelayVariance %) when the server could not answer within
 * the RPC deadline; at once when the mount was replaced meanwhile (the volume client swapped
 * it), or when an Exclusive request was denied because the server still counts a Shared lease
 * of ours (an earlier release got lost: it is released first). At most LeaseRetryLimit times.
 */
import { errorCode } from '../../common/errors/index.js';
import type { Ino, LeaseGrant, LeaseRequest } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { LeaseRetry, LeaseServer } from './types.js';

const RETRYABLE = new Set<string | undefined>(['PFS_ERR_RPC_DEADLINE', 'PFS_ERR_MOUNT_EVICTED', 'PFS_ERR_UNKNOWN_MOUNT']);

export interface RetryDeps {
  server: LeaseServer;
  retry: LeaseRetry;
  random: () => number;
  log: Logger;
  sleep(ms: number): Promise<void>;
  /** True when asking again makes no sense any more (the entry was detached, the manager closed). */
  stop(): boolean;
  onRetry(): void;
}

/** The delay before retry number n (1-based) per the LeaseRetry* keys. */
export function retryDelayMs(retry: LeaseRetry, n: number, random: () => number): number {
  const jitter = 1 + ((random() * 2 - 1) * retry.delayVariancePercent) / 100;
  return Math.max(0, retry.delayMs * retry.expBackoff ** (n - 1) * jitter);
}

export async function askWithRetry(d: RetryDeps, ino: Ino, request: LeaseRequest): Promise<LeaseGrant> {
  let deadlineRetries = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await d.server.lease(ino, request);
    } catch (err) {
      const code = errorCode(err);
      if (d.stop() || attempt >= d.retry.limit) throw err;
      if (code === 'PFS_ERR_LEASE_DENIED' && request === 'exclusive') {
        await d.server.lease(ino, 'release').catch(() => undefined);
      } else if (!RETRYABLE.has(code)) {
        throw err;
      }
      d.onRetry();
      d.log.warn({ ino, request, code, attempt: attempt + 1 }, 'lease request failed; asking again');
      if (code === 'PFS_ERR_RPC_DEADLINE') await d.sleep(retryDelayMs(d.retry, ++deadlineRetries, d.random));
      if (d.stop()) throw err;
    }
  }
}
