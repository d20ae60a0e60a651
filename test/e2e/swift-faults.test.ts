/**
 * Object-store faults with a real Swift (scripts/swift-aio.sh) under a real mount:
 * - tokens live 5 s: a 2 GiB copy spans many renewals and completes with identical bytes;
 * - the Swift proxy the volume uses is killed for 10 s in the middle of a copy: the copy
 *   completes, the bytes are identical;
 * - the container is over quota: ENOSPC reaches the application at fsync; reads, metadata and
 *   small writes that fit go on; after the quota is lifted writes work again;
 * - an object the extent map references is deleted behind pfs's back: EIO, and a log line
 *   names the volume, the inode and the object.
 *
 * Reproduce: make build && node --test dist/test/e2e/swift-faults.test.js
 * Needs: scripts/install-system-deps.sh fuse swift (the test starts Swift itself).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { localTempDir, q, sh, startMount } from '../support/agent.js';
import { remoteBackendKeys } from '../support/backends.js';
import { startProxyfsd } from '../support/proxyfsd.js';
import { startExtraProxy, swiftRequest, swiftSkip, useSwift, type SwiftAio } from '../support/swift.js';

const skip = swiftSkip();
let aio: SwiftAio;
let local: { dir: string; remove(): void };

before(async () => {
  if (skip) return;
  aio = await useSwift();
  local = localTempDir('pfs-swift-faults-');
});

after(() => local?.remove());

const containerOf = (url: string): string => new URL(url).host;

async function sha256(path: string): Promise<string> {
  return (await sh(`sha256sum < ${q(path)}`, { timeoutMs: 300_000 })).stdout.split(' ')[0]!;
}

test('tokens that live 5 s: a 2 GiB copy spans many renewals and completes with identical bytes', { skip, timeout: 600_000 }, async () => {
  const src = join(local.dir, 'two-gib');
  await sh(`head -c 2G /dev/urandom > ${q(src)}`, { timeoutMs: 300_000 });
  const want = await sha256(src);
  const m = await startMount({ proxyfsd: await startProxyfsd({ backend: 'swift' }) });
  try {
    const t0 = Date.now();
    await sh(`cp ${q(src)} ${q(join(m.mnt, 'copy'))} && sync ${q(join(m.mnt, 'copy'))}`, { timeoutMs: 600_000 });
    const seconds = (Date.now() - t0) / 1000;
    // A new agent reads the bytes back from Swift, not from any cache.
    await m.stop();
    await m.restartAgent();
    assert.equal(await sha256(join(m.mnt, 'copy')), want);
    const renewals = m.stderr().split('\n').filter((l) => l.includes('credentials renewed')).length;
    assert.ok(seconds < aio.tokenLifeSeconds * 2 || renewals >= 1, `a ${seconds.toFixed(0)} s copy with ${aio.tokenLifeSeconds} s tokens renewed ${renewals} times`);
    assert.ok(!/PFS_ERR_AUTH|EIO/.test(m.stderr()), 'no auth failure reached the application');
  } finally {
    await m.cleanup();
    await m.proxyfsd.cleanup();
  }
});

test('the Swift proxy killed for 10 s in the middle of a copy: the copy completes with identical bytes', { skip, timeout: 600_000 }, async () => {
  const proxy = await startExtraProxy();
  const src = join(local.dir, 'outage');
  await sh(`head -c 600M /dev/urandom > ${q(src)}`, { timeoutMs: 300_000 });
  const want = await sha256(src);
  // Retries (test defaults): 10, from 500 ms growing by 1.4: about 35 s in all, more than the outage.
  const store = await remoteBackendKeys('swift', { proxyPort: proxy.port });
  const m = await startMount({ proxyfsd: await startProxyfsd({ backend: 'swift', store }) });
  try {
    // Slow enough (pv-less: dd in 1 MiB blocks with a pause) that the outage lands mid-copy.
    const copy = sh(`for i in $(seq 0 59); do dd if=${q(src)} of=${q(join(m.mnt, 'copy'))} bs=1M skip=$((i*10)) seek=$((i*10)) count=10 conv=notrunc status=none || exit 1; sleep 0.1; done; sync ${q(join(m.mnt, 'copy'))}`, { timeoutMs: 600_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await proxy.stop();
    await new Promise((r) => setTimeout(r, 10_000));
    await proxy.start();
    await copy;
    await m.stop();
    await m.restartAgent();
    assert.equal(await sha256(join(m.mnt, 'copy')), want);
    assert.match(m.stderr(), /retrying/, 'the outage was seen (and retried)');
  } finally {
    await m.cleanup();
    await m.proxyfsd.cleanup();
    await proxy.stop();
  }
});

test('a container over quota: ENOSPC at fsync, everything else keeps working, and writes work again once it is lifted', { skip, timeout: 300_000 }, async () => {
  const m = await startMount({ proxyfsd: await startProxyfsd({ backend: 'swift' }) });
  const path = `/${containerOf(m.proxyfsd.objectStoreUrl)}`;
  try {
    await sh(`head -c 1M /dev/urandom > ${q(join(m.mnt, 'before'))} && sync ${q(join(m.mnt, 'before'))}`);
    const before = await sha256(join(m.mnt, 'before'));
    const used = Number((await swiftRequest(aio, 'HEAD', path)).headers.get('x-container-bytes-used'));
    assert.equal((await swiftRequest(aio, 'POST', path, { 'X-Container-Meta-Quota-Bytes': String(used + 64 * 1024) })).status, 204);

    const big = await sh(`dd if=/dev/urandom of=${q(join(m.mnt, 'big'))} bs=1M count=4 conv=fsync 2>&1`, { allowFail: true });
    assert.notEqual(big.code, 0);
    assert.match(big.stdout + big.stderr, /No space left on device/);

    // Reads, metadata and a write that fits go on.
    assert.equal(await sha256(join(m.mnt, 'before')), before);
    await sh(`mkdir ${q(join(m.mnt, 'dir'))} && mv ${q(join(m.mnt, 'before'))} ${q(join(m.mnt, 'dir/moved'))} && ls ${q(join(m.mnt, 'dir'))}`);
    await sh(`echo small > ${q(join(m.mnt, 'small'))} && sync ${q(join(m.mnt, 'small'))} && cat ${q(join(m.mnt, 'small'))}`);

    assert.equal((await swiftRequest(aio, 'POST', path, { 'X-Container-Meta-Quota-Bytes': '' })).status, 204);
    await sh(`dd if=/dev/urandom of=${q(join(m.mnt, 'big'))} bs=1M count=4 conv=fsync status=none`);
    assert.equal((await sh(`stat -c %s ${q(join(m.mnt, 'big'))}`)).stdout.trim(), String(4 << 20));
  } finally {
    await m.cleanup();
    await m.proxyfsd.cleanup();
  }
});

test('an object the extent map references is gone: EIO, and the log names volume, inode and object', { skip, timeout: 180_000 }, async () => {
  const m = await startMount({ proxyfsd: await startProxyfsd({ backend: 'swift' }) });
  const path = `/${containerOf(m.proxyfsd.objectStoreUrl)}`;
  try {
    await sh(`head -c 3M /dev/urandom > ${q(join(m.mnt, 'f'))} && sync ${q(join(m.mnt, 'f'))}`);
    const ino = (await sh(`stat -c %i ${q(join(m.mnt, 'f'))}`)).stdout.trim();
    await m.stop();
    const listing = (await swiftRequest(aio, 'GET', `${path}?format=json`)).body.toString();
    const keys = (JSON.parse(listing) as { name: string }[]).map((o) => o.name);
    assert.ok(keys.length > 0, 'the file has objects');
    for (const key of keys) await swiftRequest(aio, 'DELETE', `${path}/${encodeURIComponent(key)}`);
    await m.restartAgent();
    const r = await sh(`cat ${q(join(m.mnt, 'f'))} > /dev/null`, { allowFail: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Input\/output error/);
    const line = m.stderr().split('\n').find((l) => l.includes('read from the object store failed'));
    assert.ok(line, `a log line about the failed read:\n${m.stderr().slice(-3000)}`);
    const entry = JSON.parse(line) as { name?: string; ino?: number; err?: string };
    assert.equal(entry.name, `pfsagentd[${m.proxyfsd.volume}]`);
    assert.equal(String(entry.ino), ino);
    assert.ok(keys.some((k) => entry.err?.includes(k)), `the line names the object: ${line}`);
  } finally {
    await m.cleanup();
    await m.proxyfsd.cleanup();
  }
});
