/**
 * Test support: RPC clients standing in for agents against a real proxyfsd (typed calls, the
 * LeaseInterrupt upcalls they receive), for the volume-server lease, lock and reclaim tests.
 */
import { createRpcClient, type RpcClient } from '../../src/common/rpc/index.js';
import type { Method, Params, Result, UpcallParams } from '../../src/common/protocol/index.js';
import { quietLog } from './proxyfsd.js';

export function rpcClient(port: number): RpcClient {
  return createRpcClient({ host: '127.0.0.1', port, deadlineMs: 20000, keepAliveMs: 5000, reconnectDelayMs: 50, reconnectDelayCapMs: 200, maxFrameBytes: 16 << 20, log: quietLog });
}

export function call<M extends Method>(c: RpcClient, m: M, p: Params<M>): Promise<Result<M>> {
  return c.call(m, p) as Promise<Result<M>>;
}

/** The LeaseInterrupt upcalls c receives from now on, in order (the array fills as they come). */
export function interrupts(c: RpcClient): UpcallParams<'LeaseInterrupt'>[] {
  const got: UpcallParams<'LeaseInterrupt'>[] = [];
  c.onUpcall((method, params) => { if (method === 'LeaseInterrupt') got.push(params as UpcallParams<'LeaseInterrupt'>); });
  return got;
}

/** Resolves to 'pending' when p has not settled within ms. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const out = await Promise.race([p, new Promise<'pending'>((r) => { timer = setTimeout(() => r('pending'), ms); })]);
  clearTimeout(timer);
  return out;
}
