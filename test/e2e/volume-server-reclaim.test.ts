/**
 * The reclaim period after a proxyfsd restart (docs/LEASES.md §8), over a real proxyfsd killed
 * with SIGKILL and started again, with RPC clients standing in for agents: claimed leases and
 * locks are held again (other mounts wait and are refused as before the restart), the period
 * ends as soon as every mount has claimed, and a mount that claims too late keeps only what
 * nobody was granted meanwhile (otherwise it is evicted and its Wrote is fenced).
 * Reproduce: make build && node --test dist/test/e2e/volume-server-reclaim.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RpcClient } from '../../src/common/rpc/index.js';
import { ROOT_INO, O_RDWR, type Cred } from '../../src/common/protocol/index.js';
import { call, interrupts, tenByteWrote, withTwoClients } from '../support/rpc-agent.js';

const root: Cred = { uid: 0, gid: 0, groups: [] };
const leases = (reclaimPeriod: string) => `\n[Leases]\nMinLeaseDuration: 50ms\nLeaseInterruptInterval: 100ms\nLeaseInterruptLimit: 5\nReclaimPeriod: ${reclaimPeriod}\n`;

function serverChanged(c: RpcClient): Promise<void> {
  return new Promise((resolve) => c.onServerChange(() => resolve()));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('after a kill -9 and restart, claimed leases and locks hold again: B waits for the period, then for A\'s demote; A\'s lock still excludes B', { timeout: 60000 }, async () => {
  await withTwoClients({ extraConf: leases('3s') }, async (srv, a, b) => {
    const toA = interrupts(a);
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const f = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'f', mode: 0o644, umask: 0, flags: O_RDWR });
    assert.deepEqual(await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'exclusive' }), { granted: 'exclusive' });
    const lock = { ino: f.ino, owner: 'p1', kind: 'posix' as const, type: 'write' as const, start: 0, end: 100, pid: 42 };
    assert.deepEqual(await call(a, 'Lock', { mountId: ma, ...lock, wait: false }), { granted: true });

    const aChanged = serverChanged(a);
    await srv.crash();
    await srv.restart();
    // A claims at once (as the agent does on a new serverId); B does not claim: the period runs its length.
    await aChanged;
    await call(a, 'Reclaim', { mountId: ma, leases: [{ ino: f.ino, mode: 'exclusive' }], locks: [lock], done: true });

    const started = Date.now();
    const bLease = call(b, 'Lease', { mountId: mb, ino: f.ino, request: 'shared' });
    const bLock = call(b, 'Lock', { mountId: mb, ino: f.ino, owner: 'q', kind: 'posix', type: 'read', start: 50, end: 60, wait: false, pid: 7 });
    assert.deepEqual(await bLock, { granted: false, retryAfterMs: 0 }, 'A\'s claimed lock excludes B');
    assert.ok(Date.now() - started >= 2000, 'B\'s lock request waited for the end of the reclaim period');
    for (let i = 0; i < 50 && toA.length === 0; i++) await sleep(100);
    assert.deepEqual(toA[0], { ino: f.ino, action: 'demote' }, 'the new instance knows A holds f exclusively and asks it to demote');
    await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'demote' });
    assert.deepEqual(await bLease, { granted: 'shared' });
    assert.deepEqual(await call(b, 'GetLock', { mountId: mb, ino: f.ino, owner: 'q', kind: 'posix', type: 'write', start: 0, end: -1 }),
      { conflict: { type: 'write', start: 0, end: 100, pid: 42 } });
    assert.match(srv.stderr(), /reclaim period ended before every mount claimed/);
    // The same claim again after the period (an agent resends an unanswered Reclaim after one
    // more restart, beside its new one): what A holds is granted again, A is not evicted.
    await call(a, 'Reclaim', { mountId: ma, leases: [{ ino: f.ino, mode: 'shared' }], locks: [lock], done: true });
    assert.deepEqual(await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'shared' }), { granted: 'shared' });
  });
});

test('the reclaim period ends as soon as every mount has claimed', { timeout: 60000 }, async () => {
  await withTwoClients({ extraConf: leases('20s') }, async (srv, a, b) => {
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const f = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'f', mode: 0o644, umask: 0, flags: O_RDWR });
    const changed = Promise.all([serverChanged(a), serverChanged(b)]);
    await srv.crash();
    await srv.restart();
    await changed;
    const started = Date.now();
    const waiting = call(b, 'Lease', { mountId: mb, ino: f.ino, request: 'exclusive' });
    // A change in a directory is made at once but answered after the period (docs/LEASES.md §5).
    let madeAt = 0;
    const made = call(b, 'Mkdir', { mountId: mb, cred: root, parent: ROOT_INO, name: 'during', mode: 0o755, umask: 0 }).then((r) => { madeAt = Date.now(); return r; });
    await call(a, 'Reclaim', { mountId: ma, leases: [], locks: [], done: true });
    await sleep(300);
    assert.ok((await call(a, 'Lookup', { mountId: ma, cred: root, parent: ROOT_INO, name: 'during' })).ino > 0, 'the directory was made already');
    assert.equal(madeAt, 0, 'its Mkdir is not answered yet');
    await call(b, 'Reclaim', { mountId: mb, leases: [], locks: [], done: true });
    assert.deepEqual(await waiting, { granted: 'exclusive' });
    assert.ok((await made).ino > 0);
    assert.ok(madeAt - started >= 250, 'answered once both mounts had claimed');
    const ms = Date.now() - started;
    assert.ok(ms >= 250 && ms < 5000, `granted ${ms} ms after the restart: once both mounts had claimed, long before the 20 s period`);
    // The log is written asynchronously: the line may come a little after the grant.
    for (let i = 0; i < 100 && !/every mount has claimed its leases and locks/.test(srv.stderr()); i++) await sleep(50);
    assert.match(srv.stderr(), /every mount has claimed its leases and locks/);
  });
});

test('a late claim keeps what nobody took meanwhile; a claim of what another mount was granted evicts, and fences its Wrote', { timeout: 60000 }, async () => {
  await withTwoClients({ extraConf: leases('1s') }, async (srv, a, b) => {
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const f1 = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'f1', mode: 0o644, umask: 0, flags: O_RDWR });
    const f2 = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'f2', mode: 0o644, umask: 0, flags: O_RDWR });
    for (const f of [f1, f2]) assert.deepEqual(await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'exclusive' }), { granted: 'exclusive' });
    const [obj] = (await call(a, 'ProvisionObject', { mountId: ma, count: 1 })).objects;
    await srv.crash();
    await srv.restart();
    await call(b, 'Reclaim', { mountId: mb, leases: [], locks: [], done: true });
    // A is late: after the period B is granted f1, which A held before the restart.
    assert.deepEqual(await call(b, 'Lease', { mountId: mb, ino: f1.ino, request: 'exclusive' }), { granted: 'exclusive' });
    await call(a, 'Reclaim', { mountId: ma, leases: [{ ino: f2.ino, mode: 'exclusive' }], locks: [], done: false });
    await assert.rejects(call(a, 'Reclaim', { mountId: ma, leases: [{ ino: f1.ino, mode: 'exclusive' }], locks: [], done: true }), { code: 'PFS_ERR_MOUNT_EVICTED' });
    const wrote = tenByteWrote(ma, f1.ino, obj!.objectId);
    await assert.rejects(call(a, 'Wrote', wrote), { code: 'PFS_ERR_MOUNT_EVICTED' }, 'the late mount\'s stale data is fenced');
    assert.equal((await call(b, 'GetAttr', { cred: root, mountId: mb, ino: f1.ino })).size, 0);
    assert.deepEqual(await call(b, 'Lease', { mountId: mb, ino: f2.ino, request: 'exclusive' }), { granted: 'exclusive' }, 'the evicted mount\'s claims are gone');
    const evictions = srv.stderr().split('\n').filter((l) => l.includes('mount evicted'));
    assert.equal(evictions.length, 1);
    assert.match(evictions[0]!, /could not be granted/);
  });
});
