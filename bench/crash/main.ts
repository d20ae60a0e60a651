/**
 * bench/crash: the randomized crash test of test/support/crash.ts, as long as you like, with
 * figures: rounds, kills of each kind, operations checked, violations (each with its seed and
 * round; the same --seed replays them). Exit code 1 when any violation was found.
 *
 * Usage: make build && node dist/bench/crash/main.js [--rounds 200] [--seed N] [--backend local|swift|s3] [--ops 2000]
 */
import { parseArgs } from 'node:util';
import type { Backend } from '../../test/support/backends.js';
import { runCrashRounds } from '../../test/support/crash.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '200' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    backend: { type: 'string', default: 'local' },
    ops: { type: 'string', default: '2000' },
  },
});
const backend = values.backend as Backend;
if (!['local', 'swift', 's3'].includes(backend)) throw new Error(`--backend ${backend}: expected local, swift or s3`);
const started = Date.now();
const report = await runCrashRounds({
  rounds: Number(values.rounds), seed: Number(values.seed), backend, opsPerRound: Number(values.ops),
  log: (line) => console.log(line),
});
const s = ((Date.now() - started) / 1000).toFixed(0);
console.log(`\ncrash test, ${backend} store, seed ${report.seed}: ${report.rounds} rounds in ${s} s; kills: agent ${report.kills.agent}, proxyfsd ${report.kills.proxyfsd}, both ${report.kills.both}; ` +
  `${report.finishedBeforeKill} workloads finished before their kill; ${report.opsChecked} operations checked; ${report.violations.length} violation(s)`);
for (const v of report.violations) console.log(`  VIOLATION ${v}`);
process.exit(report.violations.length === 0 ? 0 : 1);
