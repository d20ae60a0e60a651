/**
 * A full store and a full volume, on real mounts (docs/SEMANTICS.md "Out of space"):
 * - the volume's local store lives on its own 64 MiB tmpfs; a program writes 128 MiB to one
 *   file: ENOSPC from write, fsync or close (never EIO, never success), and every MiB of the
 *   file reads back either as the bytes written or as EIO, never as other bytes; `df` on the
 *   mount shows the tmpfs's size and no room;
 * - an overwrite of a stored file that cannot be stored reads back as EIO (not the older bytes),
 *   also after the agent restarts; once space is back (rm, GC) it can be rewritten;
 * - a volume with Capacity and InodeLimit: `df` shows both, writes past Capacity get ENOSPC
 *   (the bytes read back as written or EIO), creates past InodeLimit get ENOSPC.
 *
 * Reproduce: make build && node --test dist/test/e2e/full-store.test.js (as root: it mounts a tmpfs)
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, REPO, localTempDir, q, sh, startMount, type MountHandle } from '../support/agent.js';
import { startProxyfsd } from '../support/proxyfsd.js';

const TOOL = join(REPO, 'test/support/patterned.py');
const MIB = 1 << 20;
const skip = process.getuid?.() !== 0 ? 'mounting a tmpfs needs root' : false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface WriteResult { written: number; write: string | null; fsync: string | null; close: string | null }
interface CheckResult { size: number; good: number[]; eio: number[]; other: number[] }

async function writePattern(path: string, seed: number, offsetMib: number, countMib: number, create = true): Promise<WriteResult> {
  return JSON.parse((await sh(`python3 ${TOOL} write ${q(path)} ${seed} ${offsetMib} ${countMib}${create ? ' --create' : ''}`, { timeoutMs: 300_000 })).stdout);
}

async function checkPattern(path: string, seed: number): Promise<CheckResult> {
  return JSON.parse((await sh(`python3 ${TOOL} check ${q(path)} ${seed}`, { timeoutMs: 300_000 })).stdout);
}

async function df(path: string): Promise<{ size: number; avail: number; inodes: number; ifree: number }> {
  const out = (await sh(`df -B1 --output=size,avail,itotal,iavail ${q(path)} | tail -1`)).stdout.trim().split(/\s+/).map(Number);
  return { size: out[0]!, avail: out[1]!, inodes: out[2]!, ifree: out[3]! };
}

/** Every MiB below the size is either the pattern or EIO; none is other bytes. */
function assertNoWrongBytes(r: CheckResult, what: string): void {
  assert.deepEqual(r.other, [], `${what}: MiB that read back as bytes never written there: ${JSON.stringify(r)}`);
  assert.equal(r.good.length + r.eio.length, Math.ceil(r.size / MIB), `${what}: ${JSON.stringify(r)}`);
}

test('a full local store: ENOSPC (not EIO, not success), no wrong byte ever read, df true, space back after rm', { skip, timeout: 300_000 }, async () => {
  const small = localTempDir('pfs-full-store-');
  const storeDir = join(small.dir, 'store');
  mkdirSync(storeDir);
  await sh(`mount -t tmpfs -o size=64m,mode=0700 tmpfs ${q(storeDir)}`);
  let m: MountHandle | undefined;
  try {
    const url = `file://${join(storeDir, 'objects')}`;
    const p = await startProxyfsd({ backend: 'local', localStoreUrl: url });
    m = await startMount({ proxyfsd: p, agentConf: { ObjectStoreURL: url } });
    const a = join(m.mnt, 'a');
    const big = join(m.mnt, 'big');
    assert.deepEqual(await writePattern(a, 2, 0, 4), { written: 4, write: null, fsync: null, close: null });
    const empty = await df(m.mnt);
    assert.ok(Math.abs(empty.size - 64 * MIB) < 2 * MIB, `df shows the store's filesystem: ${JSON.stringify(empty)}`);

    const w = await writePattern(big, 1, 0, 128);
    assert.ok(w.written < 128, JSON.stringify(w));
    assert.ok([w.write, w.fsync, w.close].includes('ENOSPC'), `ENOSPC reached the program: ${JSON.stringify(w)}`);
    for (const call of [w.write, w.fsync, w.close]) assert.ok(call === null || call === 'ENOSPC', `never another error: ${JSON.stringify(w)}`);
    const bigRead = await checkPattern(big, 1);
    assertNoWrongBytes(bigRead, 'big');
    assert.ok(bigRead.size <= 64 * MIB, `the size claims no more than the store could hold: ${JSON.stringify(bigRead)}`);
    // Take what room the last failed segment left, so the next write cannot fit.
    await sh(`dd if=/dev/zero of=${q(join(storeDir, '.pad'))} bs=64k status=none 2>/dev/null || true`);
    assert.ok((await df(m.mnt)).avail < MIB, 'df shows no room');

    // An overwrite that cannot be stored reads as EIO, not as the bytes it replaced.
    const over = await writePattern(a, 3, 0, 2, false);
    assert.ok([over.write, over.fsync, over.close].includes('ENOSPC'), JSON.stringify(over));
    const afterNew = await checkPattern(a, 3);
    const afterOld = await checkPattern(a, 2);
    assert.deepEqual(afterNew.eio, [0, 1], JSON.stringify(afterNew));
    assert.deepEqual(afterOld.good, [2, 3], `the MiB not overwritten keep their bytes: ${JSON.stringify(afterOld)}`);
    await m.stop();
    await m.restartAgent();
    assert.deepEqual((await checkPattern(a, 3)).eio, [0, 1], 'still EIO from a new agent');

    // Space comes back after rm and GC; the ranges can be written again.
    await sh(`rm ${q(big)} ${q(join(storeDir, '.pad'))}`);
    const until = Date.now() + 30_000;
    while ((await df(m.mnt)).avail < 32 * MIB && Date.now() < until) await sleep(200);
    assert.ok((await df(m.mnt)).avail >= 32 * MIB, 'GC gave the space back');
    assert.deepEqual(await writePattern(a, 3, 0, 2, false), { written: 2, write: null, fsync: null, close: null });
    const fixed = await checkPattern(a, 3);
    assert.deepEqual(fixed.good, [0, 1], JSON.stringify(fixed));
    assert.deepEqual((await checkPattern(a, 2)).good, [2, 3]);
    await m.stop();
    const fsck = await sh(`${q(join(BIN, 'pfs'))} fsck ${q(p.conf)} ${p.volume}`, { allowFail: true });
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  } finally {
    await m?.cleanup();
    await m?.proxyfsd.cleanup();
    await sh(`umount ${q(storeDir)}`, { allowFail: true });
    small.remove();
  }
});

test('Capacity and InodeLimit: df shows them, writes past Capacity and creates past InodeLimit get ENOSPC', { timeout: 180_000 }, async () => {
  const p = await startProxyfsd({ volumeKeys: 'Capacity: 8MiB\nInodeLimit: 12' });
  const m = await startMount({ proxyfsd: p });
  try {
    const before = await df(m.mnt);
    assert.equal(before.size, 8 * MIB);
    assert.equal(before.inodes, 12);
    assert.equal(before.ifree, 11); // the root
    const big = join(m.mnt, 'big');
    const w = await writePattern(big, 5, 0, 16);
    assert.ok([w.write, w.fsync, w.close].includes('ENOSPC'), JSON.stringify(w));
    const r = await checkPattern(big, 5);
    assertNoWrongBytes(r, 'big');
    assert.ok(r.good.length <= 8, JSON.stringify(r));
    assert.equal((await df(m.mnt)).avail, 8 * MIB - r.good.length * MIB, 'df counts the bytes stored');

    const made = await sh(`e=$(mktemp); cd ${q(m.mnt)} && n=0; for i in $(seq 1 20); do touch f$i 2>$e || break; n=$((n+1)); done; echo $n; cat $e; rm $e`);
    const [count, ...err] = made.stdout.trim().split('\n');
    assert.equal(Number(count), 10, made.stdout); // 12 - root - big
    assert.match(err.join('\n'), /No space left on device/);
    assert.equal((await df(m.mnt)).ifree, 0);

    await sh(`rm ${q(big)} ${q(join(m.mnt, 'f1'))}`);
    assert.deepEqual(await writePattern(join(m.mnt, 'small'), 6, 0, 4), { written: 4, write: null, fsync: null, close: null });
    assert.deepEqual((await checkPattern(join(m.mnt, 'small'), 6)).good, [0, 1, 2, 3]);
  } finally {
    await m.cleanup();
    await p.cleanup();
  }
});
