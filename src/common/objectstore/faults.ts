/**
 * Fault injection for tests, as a wrapper around any store (Mountpoint's failure client is the
 * model). The plan is a plain mutable object: tests change it between steps.
 * - failNext[op] = n: the next n calls of op reject (with errorFor(op, key), default
 *   PFS_ERR_OBJECT_STORE 'injected fault') without reaching the store;
 * - corruptNextGets = n: the next n non-empty get results have one bit flipped (at
 *   corruptByteAt, default the middle byte of the result).
 * `calls` counts every call per op, failed ones included.
 */
import { PfsError } from '../errors/index.js';
import type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';

export type StoreOp = 'get' | 'put' | 'head' | 'delete' | 'list';

export interface FaultPlan {
  failNext?: Partial<Record<StoreOp, number>>;
  errorFor?: (op: StoreOp, key: string) => Error;
  corruptNextGets?: number;
  corruptByteAt?: number;
}

export interface FaultyStore extends ObjectStore {
  readonly plan: FaultPlan;
  readonly calls: Record<StoreOp, number>;
}

export function withFaults(store: ObjectStore, plan: FaultPlan = {}): FaultyStore {
  const calls: Record<StoreOp, number> = { get: 0, put: 0, head: 0, delete: 0, list: 0 };

  function maybeFail(op: StoreOp, key: string): void {
    calls[op]++;
    const left = plan.failNext?.[op] ?? 0;
    if (left <= 0) return;
    plan.failNext![op] = left - 1;
    throw plan.errorFor?.(op, key) ?? new PfsError('PFS_ERR_OBJECT_STORE', `injected fault: ${op} ${key}`);
  }

  return {
    plan,
    calls,
    async get(key: string, range?: ByteRange, opts?: CallOpts) {
      maybeFail('get', key);
      const buf = await store.get(key, range, opts);
      if ((plan.corruptNextGets ?? 0) > 0 && buf.length > 0) {
        plan.corruptNextGets!--;
        const bad = Buffer.from(buf);
        const at = Math.min(plan.corruptByteAt ?? bad.length >> 1, bad.length - 1);
        bad[at] ^= 0x01;
        return bad;
      }
      return buf;
    },
    async put(key: string, body: Buffer | readonly Buffer[], opts?: CallOpts) {
      maybeFail('put', key);
      return store.put(key, body, opts);
    },
    async head(key: string, opts?: CallOpts) {
      maybeFail('head', key);
      return store.head(key, opts);
    },
    async delete(key: string, opts?: CallOpts) {
      maybeFail('delete', key);
      return store.delete(key, opts);
    },
    async *list(prefix: string, opts?: CallOpts): AsyncIterable<ObjectInfo> {
      maybeFail('list', prefix);
      yield* store.list(prefix, opts);
    },
    close: () => store.close(),
  };
}
