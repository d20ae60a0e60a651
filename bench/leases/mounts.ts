/**
 * bench/leases, through real mounts: two pfsagentd processes (A and B) mount one volume at two
 * mount points. Every file operation runs in a python3 child (bench/leases/ops.py), which times
 * each operation itself; this process never does I/O on a mount.
 *   - uncontended: A, restarted so it holds no lease, stats / reads files A wrote earlier (each
 *     first touch asks Lookup, Lease and GetAttr), then does it again with the leases held;
 *   - contended: A overwrites the files (Exclusive, data buffered: MaxFlushTime 60 s), then B
 *     reads each one, checking its content: B's Lease waits for A to write its data back and
 *     demote (interrupt round trip + flush);
 *   - ping-pong: one child appends records to one file alternately through A and through B
 *     (open O_APPEND, write, fsync, close); each step must take the lease from the other agent.
 *     The file is then read back through both mounts and must hold every record in order.
 * Interrupts are counted by proxyfsd (HTTP /leases), evictions too (there must be none).
 */
import { join } from 'node:path';
import { REPO, q, sh, startMount, type MountHandle } from '../../test/support/agent.js';
import type { ProxyfsdHandle } from '../../test/support/proxyfsd.js';
import { latency, sleep, type Latency } from './stats.js';

const OPS = join(REPO, 'bench/leases/ops.py');
const FILE_BYTES = 4096;
const RECORD_BYTES = 64;

export interface MountFigures {
  statNoLease: Latency;
  statHeld: Latency;
  readNoLease: Latency;
  readHeld: Latency;
  readContended: Latency;
  contendedInterrupts: number;
  pingPong: { rounds: number; seconds: number; roundTripsPerS: number; step: Latency; interrupts: number; verified: string };
  evictions: number;
}

export interface LeaseCounters { interruptsSent: number; evictions: number }

/** proxyfsd's lease counters for the volume (HTTP /leases). */
export async function leaseCounters(httpPort: number, volume: string): Promise<LeaseCounters> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/leases`);
  const body = await res.json() as { volumes: Record<string, { leases: LeaseCounters }> };
  const l = body.volumes[volume]?.leases;
  if (!l) throw new Error(`bench/leases: proxyfsd /leases has no volume ${volume}`);
  return { interruptsSent: l.interruptsSent, evictions: l.evictions };
}

async function ops(args: string, timeoutMs = 600_000): Promise<{ n: number; seconds: number; ms: number[] }> {
  return JSON.parse((await sh(`python3 ${q(OPS)} ${args}`, { timeoutMs })).stdout) as { n: number; seconds: number; ms: number[] };
}

/** Agent settings of this phase: data stays buffered and every lease of the loop stays held. */
export function latencyAgentConf(files: number): Record<string, string> {
  return {
    MaxFlushTime: '60s',
    DirtyFileLimit: String(Math.max(50, files + 10)),
    ExclusiveLeaseLimit: String(Math.max(100, files + 10)),
    SharedLeaseLimit: String(Math.max(1000, files + 10)),
  };
}

export async function measureMounts(srv: ProxyfsdHandle, httpPort: number, opts: { files: number; rounds: number; minLeaseMs: number }): Promise<MountFigures> {
  const agentConf = latencyAgentConf(opts.files);
  const n = opts.files;
  let a: MountHandle | undefined;
  let b: MountHandle | undefined;
  try {
    a = await startMount({ proxyfsd: srv, agentConf });
    const dirA = join(a.mnt, 'lat');
    await ops(`write ${q(dirA)} ${n} ${FILE_BYTES} v1`);
    const restart = async (m: MountHandle) => { await m.stop(); await m.restartAgent(); };

    console.error(`  mounts: stat and read of ${n} files on A without, then with, leases`);
    await restart(a);
    const statNoLease = latency((await ops(`stat ${q(dirA)} ${n} ${FILE_BYTES}`)).ms);
    const statHeld = latency((await ops(`stat ${q(dirA)} ${n} ${FILE_BYTES}`)).ms);
    await restart(a);
    const readNoLease = latency((await ops(`read ${q(dirA)} ${n} ${FILE_BYTES} v1`)).ms);
    const readHeld = latency((await ops(`read ${q(dirA)} ${n} ${FILE_BYTES} v1`)).ms);

    console.error(`  mounts: B reads ${n} files A holds Exclusive with buffered writes`);
    b = await startMount({ proxyfsd: srv, agentConf });
    await ops(`write ${q(dirA)} ${n} ${FILE_BYTES} v2`);
    await sleep(opts.minLeaseMs + 100);
    const before = await leaseCounters(httpPort, srv.volume);
    const readContended = latency((await ops(`read ${q(join(b.mnt, 'lat'))} ${n} ${FILE_BYTES} v2`)).ms);
    const mid = await leaseCounters(httpPort, srv.volume);

    console.error(`  mounts: ping-pong, ${opts.rounds} round trips`);
    const fileA = join(a.mnt, 'pingpong');
    const fileB = join(b.mnt, 'pingpong');
    await sh(`: > ${q(fileA)}`);
    const pp = await ops(`pingpong ${q(fileA)} ${q(fileB)} ${opts.rounds} ${RECORD_BYTES}`);
    const after = await leaseCounters(httpPort, srv.volume);
    const verified: string[] = [];
    for (const [who, f] of [['A', fileA], ['B', fileB]] as const) {
      const r = await sh(`python3 ${q(OPS)} verify ${q(f)} ${opts.rounds} ${RECORD_BYTES}`, { allowFail: true });
      if (r.code !== 0) throw new Error(`bench/leases: PING-PONG FILE WRONG read through ${who}: ${r.stderr.trim()}`);
      const v = JSON.parse(r.stdout) as { bytes: number; records: number };
      verified.push(`${who}: ${v.records} records, ${v.bytes} bytes`);
    }
    await b.stop();
    await a.stop();
    return {
      statNoLease, statHeld, readNoLease, readHeld, readContended,
      contendedInterrupts: mid.interruptsSent - before.interruptsSent,
      pingPong: {
        rounds: opts.rounds, seconds: pp.seconds, roundTripsPerS: opts.rounds / pp.seconds,
        step: latency(pp.ms), interrupts: after.interruptsSent - mid.interruptsSent,
        verified: `content verified through both mounts (${verified.join('; ')})`,
      },
      evictions: after.evictions,
    };
  } finally {
    for (const m of [b, a]) if (m) await m.cleanup().catch((err: unknown) => console.error(String(err)));
  }
}
