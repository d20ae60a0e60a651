/**
 * Persistence across the agent's and the volume server's lifecycles, with real programs:
 * (a) fsynced files, closed files and metadata survive SIGTERM, SIGINT and SIGKILL of the
 *     agent and a remount by a new agent;
 * (b) proxyfsd is killed with -9 and restarted three times under a writer that writes, fsyncs
 *     and renames files: the writer sees no error and every file whose fsync returned is intact;
 * (c) the agent gets SIGTERM in the middle of a stream of write+fsync: it exits 0 and unmounts,
 *     and after a remount every fsynced byte is there and the file is a prefix of the stream.
 * Every fsync the workloads rely on is logged to a file OUTSIDE the mount, after it returned.
 *
 * Reproduce: make build && node --test dist/test/e2e/persistence.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, localTempDir, q, sh, startMount, type ShResult } from '../support/agent.js';

const FSOPS = join(REPO, 'test/support/fsops.py');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tree(root: string): Promise<unknown> {
  return JSON.parse((await sh(`python3 ${FSOPS} tree ${q(root)}`, { timeoutMs: 120_000 })).stdout);
}

async function lines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

test('unmount and remount: fsynced and closed files, directories, links and xattrs are all there', { timeout: 240_000 }, async () => {
  const m = await startMount();
  const local = localTempDir('pfs-persist-a-');
  try {
    const d = join(m.mnt, 'p');
    const log = join(local.dir, 'fsynced');
    await sh(`python3 ${FSOPS} writer ${q(d)} ${q(log)} 40 11`);
    // Closed but never fsynced: SIGTERM must flush them.
    await sh(`cp -a /usr/include/linux/netfilter ${q(d)}/tree && head -c 5000000 /dev/urandom > ${q(d)}/unsynced`);
    await sh(`cd ${q(d)} && mkdir -p x/y/z && ln f00001 x/hard && ln -s ../f00002 x/soft && chmod 600 f00003 && ` +
      `python3 -c "import os; os.setxattr('f00004', 'user.note', b'kept')" && cp f00005 t1 && truncate -s 100000 t1 && truncate -s 9999999 unsynced`);
    const before = await tree(d);

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      await m.stop({ signal });
      await m.restartAgent();
      assert.deepEqual(await tree(d), before, `the tree differs after ${signal} and remount`);
      await sh(`cd ${q(d)} && sha256sum -c --quiet ${q(log)}`);
    }

    // SIGKILL: nothing is flushed on the way out, but every fsync that returned holds.
    const log2 = join(local.dir, 'fsynced-2');
    await sh(`python3 ${FSOPS} writer ${q(d)}/more ${q(log2)} 20 12`);
    await m.crash();
    await m.restartAgent();
    await sh(`cd ${q(d)}/more && sha256sum -c --quiet ${q(log2)}`);
    await sh(`cd ${q(d)} && sha256sum -c --quiet ${q(log)}`);
    await m.stop();
  } finally {
    await m.cleanup();
    local.remove();
  }
});

test('proxyfsd killed with -9 and restarted three times under a write+fsync+rename workload: no error, every fsynced file intact', { timeout: 300_000 }, async (t) => {
  const m = await startMount();
  const local = localTempDir('pfs-persist-b-');
  try {
    const d = join(m.mnt, 'w');
    const log = join(local.dir, 'fsynced');
    const N = 100_000; // at most; the writer stops at the first file after `stop` appears
    const stop = join(local.dir, 'stop');
    const writer = sh(`python3 ${FSOPS} writer ${q(d)} ${q(log)} ${N} 21 ${q(stop)}`, { timeoutMs: 240_000, allowFail: true });
    let finished: ShResult | undefined;
    void writer.then((r) => { finished = r; });
    const doneAtCrash: number[] = [];
    // The first crash comes once the writer is under way (python starts slowly on a loaded machine).
    for (let waited = 0; (await lines(log)).length === 0 && waited < 30_000 && finished === undefined; waited += 100) await sleep(100);
    for (let i = 0; i < 3; i++) {
      await sleep(1500);
      doneAtCrash.push((await lines(log)).length);
      await m.proxyfsd.crash();
      await sleep(300);
      await m.proxyfsd.restart();
    }
    await sleep(1500);
    doneAtCrash.push((await lines(log)).length);
    const endedEarly = finished !== undefined;
    await writeFile(stop, '');
    const r = await writer;
    assert.equal(r.code, 0, `the workload saw an error across proxyfsd restarts:\n${r.stderr}\nagent stderr: ${m.stderr().slice(-4000)}`);
    assert.ok(!endedEarly, 'the writer ended before it was told to');
    const done = (await lines(log)).length;
    t.diagnostic(`files fsynced at each crash: ${doneAtCrash.slice(0, 3).join(', ')}; in all: ${done}`);
    assert.ok(doneAtCrash[0]! > 0 && doneAtCrash[2]! > doneAtCrash[0]! && done > doneAtCrash[2]!, `no progress between the crashes: ${doneAtCrash}, ${done}`);
    await sh(`cd ${q(d)} && sha256sum -c --quiet ${q(log)}`);
    assert.equal((await sh(`ls -A ${q(d)} | wc -l`)).stdout.trim(), String(done), 'temp files left or files missing');
    // And from a new agent (nothing from the old agent's caches).
    await m.stop();
    await m.restartAgent();
    await sh(`cd ${q(d)} && sha256sum -c --quiet ${q(log)}`);
    await m.stop();
  } finally {
    await m.cleanup();
    local.remove();
  }
});

test('agent SIGTERM in the middle of write+fsync: exit 0, and after a remount every fsynced byte is there, the file a prefix of the stream', { timeout: 240_000 }, async (t) => {
  // Fewer unmount retries: the writer keeps the file open, so the agent ends with a lazy unmount.
  const m = await startMount({ agentConf: { FUSEUnMountRetryCap: '20' } });
  const local = localTempDir('pfs-persist-c-');
  try {
    await sh(`mkdir ${q(m.mnt)}/s`);
    const file = join(m.mnt, 's', 'stream');
    const log = join(local.dir, 'fsynced');
    const CHUNK = 256 * 1024;
    const SEED = 31;
    const writer = sh(`python3 ${FSOPS} stream ${q(file)} ${q(log)} ${SEED} ${CHUNK} ${4 * 1024 ** 3}`, { timeoutMs: 200_000, allowFail: true });
    const until = Date.now() + 60_000;
    while ((await lines(log)).length < 40) {
      if (Date.now() > until) assert.fail(`the writer fsynced only ${(await lines(log)).length} chunks in 60 s`);
      await sleep(100);
    }
    const atSignal = (await lines(log)).length;
    const t0 = Date.now();
    await m.stop();
    const stopMs = Date.now() - t0;
    const w = await writer;
    const fsynced = Number((await lines(log)).at(-1));
    assert.ok(fsynced >= 40 * CHUNK);
    // The writer either finished or got an error once the mount went away; both are fine.
    assert.ok(w.code === 0 || w.code === 3, `writer: exit ${w.code}\n${w.stderr}`);
    await m.restartAgent();
    const v = await sh(`python3 ${FSOPS} verify-stream ${q(file)} ${SEED} ${CHUNK} ${fsynced}`, { allowFail: true, timeoutMs: 120_000 });
    assert.equal(v.code, 0, v.stderr);
    t.diagnostic(`chunks fsynced at SIGTERM: ${atSignal}, in all: ${fsynced / CHUNK}; agent exit after ${stopMs} ms; ` +
      `writer: exit ${w.code} ${w.stderr.trim()}; after remount: ${v.stdout.trim()}`);
    await m.stop();
  } finally {
    await m.cleanup();
    local.remove();
  }
});
