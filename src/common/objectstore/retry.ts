/**
 * Retries around any store, with p-retry, per the reference's Swift retry keys:
 * at most `limit` retries; the n-th waits delayMs * expBackoff^(n-1), less a random share of
 * up to variancePercent (so many clients do not retry in step).
 *
 * What is retried: PFS_ERR_OBJECT_STORE (5xx, timeouts, transport errors: unlike the reference,
 * which gave up on transport errors), PFS_ERR_AUTH (the backend already renewed once; the
 * plug-in may be restarting) and PFS_ERR_PLUGIN. Never retried: a missing object, a full store,
 * a refused request, the caller's abort. When the retries run out the last error is thrown as
 * is; the agent turns it into EIO.
 *
 * Backends are written so that every operation is safe to repeat: put replaces the whole
 * object, delete of a missing key succeeds, get and list read.
 */
import pRetry from 'p-retry';
import { errorCode } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';

export interface RetryPolicy {
  limit: number;
  delayMs: number;
  variancePercent: number;
  expBackoff: number;
}

export type RetriedOp = 'get' | 'put' | 'head' | 'delete' | 'list';

export interface RetryHooks {
  /** Called before each retry (metrics). */
  onRetry?: (op: RetriedOp, err: unknown) => void;
}

const RETRYABLE = new Set(['PFS_ERR_OBJECT_STORE', 'PFS_ERR_AUTH', 'PFS_ERR_PLUGIN']);

export function isRetryable(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && RETRYABLE.has(code);
}

/** The delay before retry number `n` (1-based), with `random` in [0, 1). */
export function retryDelayMs(policy: RetryPolicy, n: number, random = Math.random()): number {
  const base = policy.delayMs * policy.expBackoff ** (n - 1);
  return Math.round(base * (1 - (policy.variancePercent / 100) * random));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function withRetry(store: ObjectStore, policy: RetryPolicy, log: Logger, hooks: RetryHooks = {}): ObjectStore {
  function run<T>(op: RetriedOp, key: string, fn: () => Promise<T>, opts?: CallOpts): Promise<T> {
    return pRetry(fn, {
      retries: policy.limit,
      // p-retry counts and stops; the wait is ours, for the variance rule above.
      minTimeout: 0,
      factor: 1,
      signal: opts?.signal,
      shouldRetry: ({ error }) => isRetryable(error) && !opts?.signal?.aborted,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (!isRetryable(error) || retriesLeft === 0 || opts?.signal?.aborted) return;
        hooks.onRetry?.(op, error);
        const wait = retryDelayMs(policy, attemptNumber);
        log.warn({ op, key, attempt: attemptNumber, retriesLeft, waitMs: wait, code: errorCode(error), err: error.message }, 'object store request failed; retrying');
        await sleep(wait, opts?.signal);
      },
    });
  }

  return {
    get: (key: string, range?: ByteRange, opts?: CallOpts) => run('get', key, () => store.get(key, range, opts), opts),
    put: (key: string, body: Buffer | readonly Buffer[], opts?: CallOpts) => run('put', key, () => store.put(key, body, opts), opts),
    head: (key: string, opts?: CallOpts) => run('head', key, () => store.head(key, opts), opts),
    delete: (key: string, opts?: CallOpts) => run('delete', key, () => store.delete(key, opts), opts),
    // A failed listing is listed again, skipping the keys already yielded (keys come in
    // ascending order), so a caller never sees a key twice and nothing is held in memory.
    async *list(prefix: string, opts?: CallOpts): AsyncIterable<ObjectInfo> {
      let last: string | undefined;
      let failures = 0;
      for (;;) {
        try {
          for await (const info of store.list(prefix, opts)) {
            if (last !== undefined && info.key <= last) continue;
            last = info.key;
            yield info;
          }
          return;
        } catch (err) {
          failures++;
          if (!isRetryable(err) || failures > policy.limit || opts?.signal?.aborted) throw err;
          hooks.onRetry?.('list', err);
          const wait = retryDelayMs(policy, failures);
          log.warn({ op: 'list', prefix, after: last, attempt: failures, waitMs: wait, code: errorCode(err), err: (err as Error).message }, 'object store listing failed; retrying');
          await sleep(wait, opts?.signal);
        }
      }
    },
    close: () => store.close(),
  };
}
