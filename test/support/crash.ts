/**
 * Randomized crash testing (CrashMonkey/ALICE style) of a real mount: each round runs the
 * seeded workload of test/support/crashload.py in a fresh directory of the volume, SIGKILLs the
 * agent, proxyfsd or both at a random moment, restarts what was killed, then checks that every
 * operation that returned left what docs/SEMANTICS.md promises (crashload.py check) and that
 * `pfs fsck` is clean. A round that kills only proxyfsd must also let the workload finish
 * without a single error (the agent rides the restart out).
 *
 * Everything random comes from one seed: the round's workload seed is seed * 1000 + round, and
 * the moment and kind of each kill from a generator seeded with seed. The seed and round of a
 * violation are printed with it; run the same seed to see it again.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN, REPO, localTempDir, q, sh, startMount } from './agent.js';
import type { Backend } from './backends.js';
import { prng } from './prng.js';
import { startProxyfsd } from './proxyfsd.js';

const LOAD = join(REPO, 'test/support/crashload.py');
const LEASES = '\n[Leases]\nMinLeaseDuration: 20ms\nLeaseInterruptInterval: 100ms\nLeaseInterruptLimit: 10\n';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A deadline for a race: its timer does not keep the process alive once the race is decided. */
const deadline = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());

export type KillKind = 'agent' | 'proxyfsd' | 'both';

export interface CrashOptions {
  rounds: number;
  seed: number;
  backend?: Backend;
  /** Operations each round's workload runs at most (the kill usually comes first). */
  opsPerRound?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface CrashReport {
  seed: number;
  rounds: number;
  kills: Record<KillKind, number>;
  /** Rounds whose workload finished before the kill came. */
  finishedBeforeKill: number;
  opsChecked: number;
  violations: string[];
}


export async function runCrashRounds(opts: CrashOptions): Promise<CrashReport> {
  const log = opts.log ?? (() => undefined);
  const rnd = prng(opts.seed);
  const report: CrashReport = { seed: opts.seed, rounds: 0, kills: { agent: 0, proxyfsd: 0, both: 0 }, finishedBeforeKill: 0, opsChecked: 0, violations: [] };
  const local = localTempDir('pfs-crash-');
  // Short bounds: a killed agent's mount (and its opens) go 5 s after, and the leases it held
  // stop the next agent for about a second (its interrupts go unanswered), as in leases.test.ts.
  const p = await startProxyfsd({ backend: opts.backend, mountGracePeriod: '5s', extraConf: LEASES });
  const m = await startMount({ proxyfsd: p });
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const seed = opts.seed * 1000 + round;
      const where = `seed ${opts.seed} round ${round} (workload seed ${seed})`;
      const dir = `r${round}`;
      const logPath = join(local.dir, `r${round}.log`);
      const kind: KillKind = (['agent', 'proxyfsd', 'both'] as const)[Math.floor(rnd() * 3)]!;
      const killAfterMs = 100 + Math.floor(rnd() * 1400);
      const downMs = Math.floor(rnd() * 1000);
      await sh(`mkdir ${q(join(m.mnt, dir))}`);
      const load = spawn('python3', [LOAD, 'run', join(m.mnt, dir), logPath, String(seed), String(opts.opsPerRound ?? 2000)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let loadErr = '';
      load.stderr!.on('data', (d: Buffer) => { loadErr = (loadErr + d.toString()).slice(-4000); });
      const loadExit = new Promise<number | null>((r) => load.once('exit', (code) => r(code)));
      const early = await Promise.race([loadExit.then(() => true), deadline(killAfterMs).then(() => false)]);
      if (early) report.finishedBeforeKill++;
      report.kills[kind]++;
      if (kind === 'proxyfsd') {
        await p.crash();
        await sleep(downMs);
        await p.restart();
        // The agent rides it out: the workload goes on and ends without an error.
        const code = await Promise.race([loadExit, deadline(120_000)]);
        if (code !== 0) {
          report.violations.push(`${where}: proxyfsd was killed and restarted; the workload failed (exit ${code}): ${loadErr.trim().split('\n').slice(-3).join(' | ')}`);
          load.kill('SIGKILL');
          await loadExit;
        }
      } else {
        if (kind === 'both') await p.crash();
        await m.crash();
        // The workload's calls fail now (the mount is gone); it must not hang.
        const code = await Promise.race([loadExit, deadline(20_000)]);
        if (code === 'timeout') {
          report.violations.push(`${where}: the workload did not fail within 20 s of the agent's death`);
          load.kill('SIGKILL');
          await loadExit;
        }
        if (kind === 'both') {
          await sleep(downMs);
          await p.restart();
        }
        await m.restartAgent();
      }
      const checked = JSON.parse((await sh(`python3 ${q(LOAD)} check ${q(join(m.mnt, dir))} ${q(logPath)}`, { timeoutMs: 120_000 })).stdout) as { ops: number; violations: string[] };
      report.opsChecked += checked.ops;
      for (const v of checked.violations) report.violations.push(`${where}, ${kind} killed after ${killAfterMs} ms: ${v}`);
      const fsck = await sh(`${q(join(BIN, 'pfs'))} fsck ${q(p.conf)} ${p.volume}`, { allowFail: true, timeoutMs: 120_000 });
      if (fsck.code !== 0) report.violations.push(`${where}: pfs fsck: ${(fsck.stdout + fsck.stderr).trim().split('\n').slice(0, 5).join(' | ')}`);
      report.rounds++;
      log(`round ${round}/${opts.rounds}: ${kind} killed after ${killAfterMs} ms${early ? ' (the workload had finished)' : ''}; ${checked.ops} operations checked; ${checked.violations.length + (fsck.code !== 0 ? 1 : 0)} violation(s)`);
    }
  } finally {
    await m.cleanup();
    await p.cleanup();
    local.remove();
  }
  return report;
}
