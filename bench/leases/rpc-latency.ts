/**
 * bench/leases, lease latency over RPC: two RPC clients (each with its own mount of the volume)
 * stand in for two agents, talking to a real proxyfsd over loopback as pfsagentd does. Each
 * answers a LeaseInterrupt upcall at once with the Lease demote/release it asks for (an agent
 * with nothing to flush). Measured, per call, from Node:
 *   - Ping (the RPC floor), and a Lease granted at once: 'shared' (answered 'exclusive': nobody
 *     else holds the inode), 'exclusive', and the 'release' that follows;
 *   - contended: B asks for a lease A holds Exclusive, granted longer than MinLeaseDuration ago,
 *     so the grant costs one interrupt round trip (B 'shared' -> A demotes; B 'exclusive' -> A
 *     releases);
 *   - contended, fresh: B asks right after A was granted, so the server first waits out A's
 *     MinLeaseDuration (no interrupt of a grant younger than that), then interrupts.
 */
import { createRpcClient, type RpcClient } from '../../src/common/rpc/index.js';
import {
  O_RDWR, ROOT_INO, type Cred, type Ino, type LeaseGrant, type LeaseRequest, type Method, type Params, type Result, type UpcallParams,
} from '../../src/common/protocol/index.js';
import { quietLog, type ProxyfsdHandle } from '../../test/support/proxyfsd.js';
import { latency, sleep, type Latency } from './stats.js';

const root: Cred = { uid: 0, gid: 0, groups: [] };

export interface RpcFigures {
  ping: Latency;
  grantShared: Latency;
  grantExclusive: Latency;
  release: Latency;
  /** B 'shared' while A holds Exclusive (older than MinLeaseDuration): A is asked to demote. */
  contendedShared: Latency;
  /** B 'exclusive' while A holds Exclusive (older than MinLeaseDuration): A is asked to release. */
  contendedExclusive: Latency;
  /** B 'exclusive' right after A's grant. */
  fresh: Latency;
  /** Interrupts A received and answered (expected: files + files + rounds). */
  interruptsToA: number;
}

interface Party {
  mountId: string;
  lease(ino: Ino, request: LeaseRequest): Promise<LeaseGrant>;
  interrupts(): number;
  rpc: RpcClient;
  close(): Promise<void>;
}

function call<M extends Method>(c: RpcClient, m: M, p: Params<M>): Promise<Result<M>> {
  return c.call(m, p) as Promise<Result<M>>;
}

async function party(srv: ProxyfsdHandle): Promise<Party> {
  const rpc = createRpcClient({
    host: '127.0.0.1', port: srv.port, deadlineMs: 60_000, keepAliveMs: 30_000,
    reconnectDelayMs: 50, reconnectDelayCapMs: 1000, maxFrameBytes: 16 << 20, log: quietLog,
  });
  const { mountId } = await call(rpc, 'Mount', { volume: srv.volume });
  let interrupts = 0;
  rpc.onUpcall((method, params) => {
    if (method !== 'LeaseInterrupt') return;
    const p = params as UpcallParams<'LeaseInterrupt'>;
    interrupts++;
    call(rpc, 'Lease', { mountId, ino: p.ino, request: p.action }).catch((err: unknown) => {
      console.error(`bench/leases: answering ${p.action} of inode ${p.ino} failed: ${String(err)}`);
    });
  });
  return {
    mountId, rpc,
    lease: async (ino, request) => (await call(rpc, 'Lease', { mountId, ino, request })).granted,
    interrupts: () => interrupts,
    async close() {
      await call(rpc, 'Unmount', { mountId }).catch(() => undefined);
      await rpc.close(1000);
    },
  };
}

/** Times fn(ino) for each ino; throws if its grant is not `want`. */
async function each(inos: Ino[], want: LeaseGrant | undefined, fn: (ino: Ino) => Promise<LeaseGrant>): Promise<number[]> {
  const ms: number[] = [];
  for (const ino of inos) {
    const t0 = performance.now();
    const got = await fn(ino);
    ms.push(performance.now() - t0);
    if (want !== undefined && got !== want) throw new Error(`bench/leases: inode ${ino}: granted '${got}', expected '${want}'`);
  }
  return ms;
}

export async function measureRpc(srv: ProxyfsdHandle, opts: { files: number; rounds: number; minLeaseMs: number }): Promise<RpcFigures> {
  const a = await party(srv);
  const b = await party(srv);
  try {
    const dir = await call(a.rpc, 'Mkdir', { mountId: a.mountId, cred: root, parent: ROOT_INO, name: 'rpc-latency', mode: 0o755, umask: 0 });
    const inos: Ino[] = [];
    for (let i = 0; i < opts.files; i++) {
      const f = await call(a.rpc, 'Create', { mountId: a.mountId, cred: root, parent: dir.ino, name: `f${i}`, mode: 0o644, umask: 0, flags: O_RDWR });
      await call(a.rpc, 'Release', { cred: root, mountId: a.mountId, ino: f.ino });
      inos.push(f.ino);
    }
    const pingMs: number[] = [];
    for (let i = 0; i < opts.files; i++) {
      const t0 = performance.now();
      await call(a.rpc, 'Ping', {});
      pingMs.push(performance.now() - t0);
    }

    // Uncontended: granted at once.
    const sharedMs: number[] = [];
    const releaseMs: number[] = [];
    for (const ino of inos) {
      sharedMs.push(...await each([ino], 'exclusive', (x) => a.lease(x, 'shared')));
      releaseMs.push(...await each([ino], 'none', (x) => a.lease(x, 'release')));
    }
    const exclusiveMs: number[] = [];
    for (const ino of inos) {
      exclusiveMs.push(...await each([ino], 'exclusive', (x) => a.lease(x, 'exclusive')));
      releaseMs.push(...await each([ino], 'none', (x) => a.lease(x, 'release')));
    }

    // Contended, A's grants older than MinLeaseDuration: one interrupt round trip each.
    await each(inos, 'exclusive', (x) => a.lease(x, 'exclusive'));
    await sleep(opts.minLeaseMs + 50);
    const contendedSharedMs = await each(inos, 'shared', (x) => b.lease(x, 'shared'));
    await each(inos, 'none', (x) => b.lease(x, 'release'));
    await each(inos, 'exclusive', (x) => a.lease(x, 'exclusive')); // A kept Shared: alone again, promoted at once
    await sleep(opts.minLeaseMs + 50);
    const contendedExclusiveMs = await each(inos, 'exclusive', (x) => b.lease(x, 'exclusive'));
    await each(inos, 'none', (x) => b.lease(x, 'release'));

    // Contended, fresh: B asks as soon as A has its grant.
    const freshMs: number[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const ino = inos[r % inos.length]!;
      await each([ino], 'exclusive', (x) => a.lease(x, 'exclusive'));
      freshMs.push(...await each([ino], 'exclusive', (x) => b.lease(x, 'exclusive')));
      await b.lease(ino, 'release');
    }
    return {
      ping: latency(pingMs),
      grantShared: latency(sharedMs),
      grantExclusive: latency(exclusiveMs),
      release: latency(releaseMs),
      contendedShared: latency(contendedSharedMs),
      contendedExclusive: latency(contendedExclusiveMs),
      fresh: latency(freshMs),
      interruptsToA: a.interrupts(),
    };
  } finally {
    await a.close();
    await b.close();
  }
}
