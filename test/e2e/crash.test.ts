/**
 * Randomized crash test (test/support/crash.ts): rounds of a seeded workload on a real mount,
 * each ended by SIGKILL of the agent, proxyfsd or both at a random moment; every returned
 * operation must have left what docs/SEMANTICS.md promises, and `pfs fsck` must be clean.
 * `make test` runs a short setting on the local store (PFS_CRASH_ROUNDS, default 12) and on
 * the test Swift (PFS_CRASH_SWIFT_ROUNDS, default 2); bench/crash runs long ones and prints
 * the figures. PFS_CRASH_SEED replays a seed.
 *
 * Reproduce: make build && PFS_CRASH_SEED=7 node --test dist/test/e2e/crash.test.js
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, localTempDir, q, sh } from '../support/agent.js';
import { runCrashRounds } from '../support/crash.js';
import { swiftSkip } from '../support/swift.js';

const LOAD = join(REPO, 'test/support/crashload.py');
const seed = Number(process.env.PFS_CRASH_SEED ?? Date.now() % 100_000);

for (const [backend, rounds] of [['local', Number(process.env.PFS_CRASH_ROUNDS ?? 12)], ['swift', Number(process.env.PFS_CRASH_SWIFT_ROUNDS ?? 2)]] as const) {
  const skip = backend === 'swift' ? swiftSkip() : false;
  test(`crash rounds on the ${backend} store: every fsync'd byte and returned namespace change survives SIGKILL of the agent, proxyfsd or both (seed ${seed})`, { skip: skip || rounds === 0, timeout: 60_000 + rounds * 30_000 }, async () => {
    const report = await runCrashRounds({ rounds, seed, backend, log: (line) => console.log(`[crash ${backend}] ${line}`) });
    console.log(`[crash ${backend}] ${JSON.stringify({ ...report, violations: report.violations.length })}`);
    assert.deepEqual(report.violations, [], `replay with PFS_CRASH_SEED=${seed}`);
    assert.equal(report.rounds, rounds);
    assert.ok(report.opsChecked > rounds * 5, `the workloads did something before the kills: ${report.opsChecked} operations`);
  });
}

test('the crash checker itself: a clean run passes; a changed byte, a lost file, a stray file and a half-done rename are violations', async () => {
  const t = localTempDir('pfs-crash-check-');
  try {
    const dir = join(t.dir, 'd');
    const log = join(t.dir, 'log');
    await sh(`mkdir ${q(dir)} ${q(join(t.dir, 'e'))}`);
    await sh(`python3 ${q(LOAD)} run ${q(dir)} ${q(log)} 11 300`);
    const check = async () => JSON.parse((await sh(`python3 ${q(LOAD)} check ${q(dir)} ${q(log)}`)).stdout) as { ops: number; violations: string[] };
    assert.deepEqual((await check()).violations, []);
    const files = (await sh(`cd ${q(dir)} && find . -type f -links 1 | sort`)).stdout.trim().split('\n');
    assert.ok(files.length >= 3, files.join(' '));
    await sh(`cd ${q(dir)} && printf X | dd of=${q(files[0]!)} bs=1 seek=3 conv=notrunc status=none && rm ${q(files[1]!)} && touch stray`);
    const v = (await check()).violations;
    assert.equal(v.length, 3, v.join('\n'));
    // A rename in flight at the crash that left both names: neither done nor undone.
    await sh(`python3 ${q(LOAD)} run ${q(join(t.dir, 'e'))} ${q(join(t.dir, 'elog'))} 12 300`);
    const [src] = (await sh(`cd ${q(join(t.dir, 'e'))} && find . -type f -links 1 | sort | head -1`)).stdout.trim().split('\n');
    const rel = src!.replace(/^\.\//, '');
    const fid = Number(/id(\d+)/.exec((await sh(`head -c 16 ${q(join(t.dir, 'e', rel))}`)).stdout)![1]);
    await sh(`cp ${q(join(t.dir, 'e', rel))} ${q(join(t.dir, 'e', 'zz'))}`);
    await writeFile(join(t.dir, 'elog'), `${JSON.stringify({ t: 'begin', op: 'rename', from: rel, to: 'zz', fid, replaced: null })}\n`, { flag: 'a' });
    const w = JSON.parse((await sh(`python3 ${q(LOAD)} check ${q(join(t.dir, 'e'))} ${q(join(t.dir, 'elog'))}`)).stdout) as { violations: string[] };
    assert.ok(w.violations.some((x) => /neither done nor undone/.test(x)), w.violations.join('\n'));
  } finally {
    t.remove();
  }
});
