/**
 * Test support: RPC clients standing in for agents against a real proxyfsd (typed calls, the
 * LeaseInterrupt upcalls they receive), for the volume-server lease, lock and reclaim tests.
 */
import { createRpcClient, type RpcClient } from '../../src/common/rpc/index.js';
import type { Method, Params, Result, UpcallParams } from '../../src/common/protocol/index.js';
import { quietLog, startProxyfsd, type ProxyfsdHandle } from './proxyfsd.js';

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

/**
 * Runs fn with a proxyfsd started with `opts` and two RPC clients of it (not yet mounted);
 * afterwards, whatever happened, closes both clients and stops and removes the proxyfsd.
 */
export async function withTwoClients(
  opts: Parameters<typeof startProxyfsd>[0],
  fn: (srv: ProxyfsdHandle, a: RpcClient, b: RpcClient) => Promise<void>,
): Promise<void> {
  const srv = await startProxyfsd(opts);
  const a = rpcClient(srv.port);
  const b = rpcClient(srv.port);
  try {
    await fn(srv, a, b);
  } finally {
    await a.close(0);
    await b.close(0);
    await srv.stop();
    await srv.cleanup();
  }
}

/** A Wrote of 10 bytes at offset 0 of ino from objectId (its content never read): the call a fenced mount must not get through. */
export function tenByteWrote(mountId: string, ino: number, objectId: number): Params<'Wrote'> {
  return {
    mountId, cred: { uid: 0, gid: 0, groups: [] }, ino, mtime: { sec: 1, nsec: 0 },
    object: { objectId, sizeBytes: 10, blockSizeBytes: 65536, crc32: [0] },
    extents: [{ fileOffset: 0, length: 10, objectId, objectOffset: 0 }],
  };
}
