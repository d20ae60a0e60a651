/**
 * bench/leases, single-agent workloads with and without a second agent: the workloads of
 * bench/fs (sequential write and cold read in 1 MiB blocks; small files create+write 4 KiB+close,
 * stat, unlink) run on agent A in three set-ups:
 *   alone  only A mounts the volume;
 *   idle   B mounts the same volume too and does nothing;
 *   warm   as idle, but B stats the sequential file after it was written and every small file
 *          after they were created, so it holds Shared leases on them when A reads, stats and
 *          unlinks them (A's Exclusive leases are demoted for it).
 * Each set-up gets a new agent A (test defaults, as bench/fs) and a new B, on one proxyfsd with
 * the default lease settings. Cold reads as in bench/fs: A is stopped and mounted again and the
 * page cache dropped before the read. Set-ups run `reps` times, in a rotated order each time
 * (alone-idle-warm, idle-warm-alone, ...), so a slow drift of the shared machine spreads over all
 * of them; the report takes the median.
 */
import { join } from 'node:path';
import { REPO, q, sh, startMount, type MountHandle } from '../../test/support/agent.js';
import type { ProxyfsdHandle } from '../../test/support/proxyfsd.js';
import { timedMs } from './stats.js';

const OPS = join(REPO, 'bench/leases/ops.py');
const MiB = 1 << 20;

export type SetUp = 'alone' | 'idle' | 'warm';
export const SET_UPS: readonly SetUp[] = ['alone', 'idle', 'warm'];

export interface WorkloadRow {
  workload: string;
  unit: 'MB/s' | 'ops/s';
  values: Record<SetUp, number[]>;
}

export interface WorkloadOptions {
  sizeMib: number;
  files: number;
  reps: number;
  setUps: readonly SetUp[];
  /** Makes the next read cold for the page cache (needs root); called with A unmounted. */
  dropCaches(): Promise<void>;
}

export async function runWorkloads(srv: ProxyfsdHandle, opts: WorkloadOptions): Promise<WorkloadRow[]> {
  const rows = new Map<string, WorkloadRow>();
  const record = (workload: string, unit: WorkloadRow['unit'], setUp: SetUp, value: number) => {
    const row = rows.get(workload) ?? { workload, unit, values: { alone: [], idle: [], warm: [] } };
    row.values[setUp].push(value);
    rows.set(workload, row);
    console.error(`    ${setUp.padEnd(5)} ${workload}: ${value.toFixed(1)} ${unit}`);
  };
  for (let rep = 0; rep < opts.reps; rep++) {
    const order = opts.setUps.map((_, i) => opts.setUps[(i + rep) % opts.setUps.length]!);
    for (const setUp of order) {
      console.error(`  workloads: rep ${rep + 1}/${opts.reps}, ${setUp}`);
      await runOnce(srv, opts, setUp, `w${rep}-${setUp}`, (w, u, v) => record(w, u, setUp, v));
    }
  }
  return [...rows.values()];
}

async function runOnce(srv: ProxyfsdHandle, opts: WorkloadOptions, setUp: SetUp, name: string,
  record: (workload: string, unit: WorkloadRow['unit'], value: number) => void): Promise<void> {
  let a: MountHandle | undefined;
  let b: MountHandle | undefined;
  try {
    a = await startMount({ proxyfsd: srv });
    if (setUp !== 'alone') b = await startMount({ proxyfsd: srv });
    const dirA = join(a.mnt, name);
    const dirB = b ? join(b.mnt, name) : undefined;
    const o = { cwd: dirA, timeoutMs: 3_600_000 };
    await sh(`mkdir ${q(dirA)}`);

    const bytes = opts.sizeMib * MiB;
    let ms = await timedMs(() => sh(`dd if=/dev/zero of=seq bs=1M count=${opts.sizeMib} conv=fsync status=none`, o));
    record(`seq write ${opts.sizeMib} MiB, 1 MiB blocks`, 'MB/s', bytes / 1e6 / (ms / 1000));
    if (setUp === 'warm') await sh(`stat -c %s ${q(join(dirB!, 'seq'))}`);
    await a.stop();
    await opts.dropCaches();
    await a.restartAgent();
    ms = await timedMs(() => sh('dd if=seq of=/dev/null bs=1M status=none', o));
    record(`seq read ${opts.sizeMib} MiB, 1 MiB blocks, cold`, 'MB/s', bytes / 1e6 / (ms / 1000));
    await sh('rm -f seq', o);

    const small = join(dirA, 'small');
    const run = async (args: string) => JSON.parse((await sh(`python3 ${q(OPS)} ${args}`, { timeoutMs: 3_600_000 })).stdout) as { n: number; seconds: number };
    let r = await run(`create ${q(small)} ${opts.files}`);
    record(`${opts.files} files: create+write 4 KiB+close`, 'ops/s', r.n / r.seconds);
    if (setUp === 'warm') await run(`statall ${q(join(dirB!, 'small'))} ${opts.files}`);
    r = await run(`statall ${q(small)} ${opts.files}`);
    record(`${opts.files} files: stat`, 'ops/s', r.n / r.seconds);
    r = await run(`unlink ${q(small)} ${opts.files}`);
    record(`${opts.files} files: unlink`, 'ops/s', r.n / r.seconds);
    await sh(`rmdir ${q(small)} ${q(dirA)}`);
    if (b) await b.stop();
    await a.stop();
  } finally {
    for (const m of [b, a]) if (m) await m.cleanup().catch((err: unknown) => console.error(String(err)));
  }
}
