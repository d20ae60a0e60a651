/**
 * Metrics around any store, as a wrapper (like faults.ts and retry.ts): every call reports its
 * op, latency, bytes moved and, when it failed, the error code, to an observer. Nothing here
 * knows prom-client; common/metrics provides the observer.
 *
 * Outside the retry wrapper (as pfsagentd wraps) it counts and times operations as callers see
 * them, and the retry hook counts retries apart:
 *   withMetrics(withRetry(backend, policy, log, { onRetry: (op) => m.onRetry(op, 'swift') }), 'swift', m.objectStore)
 * Inside it, it would count and time every attempt instead.
 */
import { performance } from 'node:perf_hooks';
import { errorCode } from '../errors/index.js';
import type { StoreOp } from './faults.js';
import type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';

export interface StoreObserver {
  /**
   * One call finished after `seconds`; `bytes` received (get) or sent (put), else 0; `code` is
   * the error's code (PFS_ERR_INTERNAL when it has none) when the call failed.
   */
  onCall(backend: string, op: StoreOp, seconds: number, bytes: number, code?: string): void;
}

const bodyBytes = (body: Buffer | readonly Buffer[]): number =>
  Buffer.isBuffer(body) ? body.length : (body as readonly Buffer[]).reduce((n, b) => n + b.length, 0);

export function withMetrics(store: ObjectStore, backend: string, observer: StoreObserver): ObjectStore {
  async function timed<T>(op: StoreOp, bytes: (value: T) => number, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const value = await call();
      observer.onCall(backend, op, (performance.now() - started) / 1000, bytes(value));
      return value;
    } catch (err) {
      observer.onCall(backend, op, (performance.now() - started) / 1000, 0, errorCode(err) ?? 'PFS_ERR_INTERNAL');
      throw err;
    }
  }
  const none = (): number => 0;

  return {
    get: (key: string, range?: ByteRange, opts?: CallOpts) => timed('get', (b: Buffer) => b.length, () => store.get(key, range, opts)),
    put: (key: string, body: Buffer | readonly Buffer[], opts?: CallOpts) => timed('put', () => bodyBytes(body), () => store.put(key, body, opts)),
    head: (key: string, opts?: CallOpts) => timed('head', none, () => store.head(key, opts)),
    delete: (key: string, opts?: CallOpts) => timed('delete', none, () => store.delete(key, opts)),
    // One list request, timed until its last entry (or until the caller stops early).
    async *list(prefix: string, opts?: CallOpts): AsyncIterable<ObjectInfo> {
      const started = performance.now();
      let code: string | undefined;
      try {
        yield* store.list(prefix, opts);
      } catch (err) {
        code = errorCode(err) ?? 'PFS_ERR_INTERNAL';
        throw err;
      } finally {
        observer.onCall(backend, 'list', (performance.now() - started) / 1000, 0, code);
      }
    },
    close: () => store.close(),
  };
}
