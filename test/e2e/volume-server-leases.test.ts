/**
 * Leases and locks over a real proxyfsd with two RPC clients standing in for two agents:
 * eviction and fencing of an agent that ignores interrupts, a prompt demote, lock contention
 * and the release of a vanished agent's locks after MountGracePeriod (2 s in the test config).
 * Reproduce: make build && node --test dist/test/e2e/volume-server-leases.test.js
 */
import { shortId } from '../../src/common/log/index.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_INO, O_RDWR, O_TRUNC, type Cred, type Params, type UpcallParams } from '../../src/common/protocol/index.js';
import { freePort } from '../support/proxyfsd.js';
import { call, interrupts, within, tenByteWrote, withTwoClients } from '../support/rpc-agent.js';

const root: Cred = { uid: 0, gid: 0, groups: [] };
/** Eviction after 50 ms + 5 × 100 ms without an answer. */
const LEASES = '\n[Leases]\nMinLeaseDuration: 50ms\nLeaseInterruptInterval: 100ms\nLeaseInterruptLimit: 5\n';

test('an agent that ignores interrupts is evicted after LeaseInterruptLimit; the waiter is granted; its Wrote is fenced, also after a restart', { timeout: 60000 }, async () => {
  await withTwoClients({ extraConf: LEASES, mountGracePeriod: '2s' }, async (srv, a, b) => {
    const toA = interrupts(a);
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const f = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'contended', mode: 0o644, umask: 0, flags: O_RDWR });
    const [obj] = (await call(a, 'ProvisionObject', { mountId: ma, count: 1 })).objects;
    assert.deepEqual(await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'exclusive' }), { granted: 'exclusive' });
    await assert.rejects(call(a, 'Lease', { mountId: ma, ino: ROOT_INO, request: 'shared' }), { code: 'EINVAL' }, 'directories are not leased');

    const started = Date.now();
    const granted = await call(b, 'Lease', { mountId: mb, ino: f.ino, request: 'shared' });
    const waitedMs = Date.now() - started;
    assert.deepEqual(granted, { granted: 'exclusive' }, 'A is gone: nobody else holds or waits');
    assert.ok(waitedMs >= 500 && waitedMs < 5000, `waited ${waitedMs} ms (expected about 50 + 5 × 100 + 100)`);
    assert.deepEqual(toA, Array.from({ length: 5 }, () => ({ ino: f.ino, action: 'demote' })), 'exactly LeaseInterruptLimit interrupts');

    const wrote = tenByteWrote(ma, f.ino, obj!.objectId);
    await assert.rejects(call(a, 'Wrote', wrote), { code: 'PFS_ERR_MOUNT_EVICTED' });
    await assert.rejects(call(a, 'GetAttr', { cred: root, mountId: ma, ino: f.ino }), { code: 'PFS_ERR_MOUNT_EVICTED' });
    await assert.rejects(call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'release' }), { code: 'PFS_ERR_MOUNT_EVICTED' });
    await assert.rejects(a.call('Wrote', { mountId: ma, garbage: true }), { code: 'PFS_ERR_MOUNT_EVICTED' }, 'the fence comes before validation');
    await assert.rejects(call(a, 'Unmount', { mountId: ma }), { code: 'PFS_ERR_MOUNT_EVICTED' });
    assert.equal((await call(b, 'GetAttr', { cred: root, mountId: mb, ino: f.ino })).size, 0, 'the fenced Wrote changed nothing');
    const lines = srv.stderr().split('\n').filter((l) => l.includes('mount evicted'));
    assert.equal(lines.length, 1, 'one log line per eviction');
    for (const want of [`"mountId":"${shortId(ma)}"`, `"volume":"${srv.volume}"`, `"ino":${f.ino}`]) assert.ok(lines[0]!.includes(want), `${want} in ${lines[0]}`);

    assert.equal(await srv.stop(), 0, srv.stderr());
    await srv.restart();
    await assert.rejects(call(a, 'Wrote', wrote), { code: 'PFS_ERR_MOUNT_EVICTED' }, 'the eviction is durable');
    assert.equal((await call(b, 'GetAttr', { cred: root, mountId: mb, ino: f.ino })).ino, f.ino, 'B keeps its mount');
    const again = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    assert.equal((await call(a, 'GetAttr', { cred: root, mountId: again, ino: f.ino })).ino, f.ino, 'a new mount works');
  });
});

test('an agent that answers the interrupt with a demote: the other gets Shared promptly; HTTP /leases shows both', { timeout: 60000 }, async () => {
  const httpPort = await freePort();
  await withTwoClients({ extraConf: `${LEASES}\n[HTTPServer]\nTCPPort: ${httpPort}\n` }, async (srv, a, b) => {
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const toA: UpcallParams<'LeaseInterrupt'>[] = [];
    a.onUpcall((method, params) => {
      const p = params as UpcallParams<'LeaseInterrupt'>;
      toA.push(p);
      void call(a, 'Lease', { mountId: ma, ino: p.ino, request: p.action });
    });
    const f = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'shared', mode: 0o644, umask: 0, flags: O_RDWR });
    assert.deepEqual(await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'shared' }), { granted: 'exclusive' }, 'alone: shared answered with exclusive');
    await new Promise((r) => setTimeout(r, 100)); // past MinLeaseDuration
    const started = Date.now();
    assert.deepEqual(await call(b, 'Lease', { mountId: mb, ino: f.ino, request: 'shared' }), { granted: 'shared' });
    const waitedMs = Date.now() - started;
    assert.ok(waitedMs < 400, `granted after ${waitedMs} ms: one interrupt and its answer`);
    assert.deepEqual(toA, [{ ino: f.ino, action: 'demote' }]);
    assert.deepEqual(await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'shared' }), { granted: 'shared' }, 'A kept Shared');

    const leases = await (await fetch(`http://127.0.0.1:${httpPort}/leases`)).json() as {
      enabled: boolean; volumes: Record<string, { leases: { leases: number; interruptsSent: number } }>;
      mounts: { mountId: string; shared: string[]; exclusive: string[] }[];
    };
    assert.equal(leases.enabled, true);
    assert.equal(leases.volumes[srv.volume]!.leases.leases, 2);
    assert.equal(leases.volumes[srv.volume]!.leases.interruptsSent, 1);
    const hex = f.ino.toString(16).toUpperCase().padStart(16, '0');
    // Mount IDs are shown cut short (docs/SECURITY.md §3).
    for (const m of [ma, mb]) assert.deepEqual(leases.mounts.find((x) => x.mountId === shortId(m))?.shared, [hex]);
  });
});

test('a regular file another mount holds a lease on changes only under the changer\'s Exclusive lease (PFS_ERR_LEASE_CONFLICT, nothing changed); Unlink and Rename give back the attributes after', { timeout: 60000 }, async () => {
  const httpPort = await freePort();
  await withTwoClients({ extraConf: `${LEASES}\n[HTTPServer]\nTCPPort: ${httpPort}\n` }, async (srv, a, b) => {
    const leasesHeld = async () => ((await (await fetch(`http://127.0.0.1:${httpPort}/leases`)).json()) as { volumes: Record<string, { leases: { leases: number } }> }).volumes[srv.volume]!.leases.leases;
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const toA: UpcallParams<'LeaseInterrupt'>[] = [];
    a.onUpcall((_method, params) => {
      const p = params as UpcallParams<'LeaseInterrupt'>;
      toA.push(p);
      void call(a, 'Lease', { mountId: ma, ino: p.ino, request: 'release' });
    });
    const mk = async (name: string) => {
      const f = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name, mode: 0o644, umask: 0, flags: O_RDWR });
      await call(a, 'Release', { mountId: ma, cred: root, ino: f.ino });
      return f;
    };
    const f = await mk('f');
    const other = await mk('other');
    await call(a, 'SetXattr', { mountId: ma, cred: root, ino: f.ino, name: 'user.k', value: Buffer.from('v').toString('base64'), flags: 0 });
    assert.deepEqual(await call(a, 'Lease', { mountId: ma, ino: f.ino, request: 'shared' }), { granted: 'exclusive' });
    const before = await call(b, 'GetAttr', { mountId: mb, cred: root, ino: f.ino });
    assert.deepEqual(await call(a, 'Unlink', { mountId: ma, cred: root, parent: ROOT_INO, name: 'other' }), { changed: [], gone: [other.ino] }, 'no other lease: allowed; destroyed');

    const conflict = { code: 'PFS_ERR_LEASE_CONFLICT' };
    const changes: [string, () => Promise<unknown>][] = [
      ['Link', () => call(b, 'Link', { mountId: mb, cred: root, ino: f.ino, newParent: ROOT_INO, newName: 'f2' })],
      ['Unlink', () => call(b, 'Unlink', { mountId: mb, cred: root, parent: ROOT_INO, name: 'f' })],
      ['Rename from', () => call(b, 'Rename', { mountId: mb, cred: root, parent: ROOT_INO, name: 'f', newParent: ROOT_INO, newName: 'g', flags: 0 })],
      ['SetAttr', () => call(b, 'SetAttr', { mountId: mb, cred: root, ino: f.ino, mode: 0o600 })],
      ['SetXattr', () => call(b, 'SetXattr', { mountId: mb, cred: root, ino: f.ino, name: 'user.k', value: Buffer.from('w').toString('base64'), flags: 0 })],
      ['RemoveXattr', () => call(b, 'RemoveXattr', { mountId: mb, cred: root, ino: f.ino, name: 'user.k' })],
      ['Open O_TRUNC', () => call(b, 'Open', { mountId: mb, cred: root, ino: f.ino, flags: O_RDWR | O_TRUNC })],
      ['Create O_TRUNC', () => call(b, 'Create', { mountId: mb, cred: root, parent: ROOT_INO, name: 'f', mode: 0o644, umask: 0, flags: O_RDWR | O_TRUNC })],
    ];
    for (const [what, change] of changes) await assert.rejects(change(), conflict, what);
    const g = await mk('g');
    await assert.rejects(call(b, 'Rename', { mountId: mb, cred: root, parent: ROOT_INO, name: 'g', newParent: ROOT_INO, newName: 'f', flags: 0 }), conflict, 'Rename over it');
    assert.deepEqual(await call(b, 'GetAttr', { mountId: mb, cred: root, ino: f.ino }), before, 'nothing changed');
    assert.deepEqual(await call(b, 'Lookup', { mountId: mb, cred: root, parent: ROOT_INO, name: 'f' }), before);
    await assert.rejects(call(b, 'Lookup', { mountId: mb, cred: root, parent: ROOT_INO, name: 'f2' }), { code: 'ENOENT' });
    assert.deepEqual(toA, [], 'a refused change interrupts nobody');
    // Directories and other mounts' files are not in the way.
    await call(b, 'Mkdir', { mountId: mb, cred: root, parent: ROOT_INO, name: 'd', mode: 0o755, umask: 0 });
    await call(b, 'Rename', { mountId: mb, cred: root, parent: ROOT_INO, name: 'd', newParent: ROOT_INO, newName: 'd2', flags: 0 });

    await new Promise((r) => setTimeout(r, 100)); // past MinLeaseDuration
    assert.deepEqual(await call(b, 'Lease', { mountId: mb, ino: f.ino, request: 'exclusive' }), { granted: 'exclusive' });
    assert.deepEqual(toA, [{ ino: f.ino, action: 'release' }], 'A was asked to release');
    const linked = await call(b, 'Link', { mountId: mb, cred: root, ino: f.ino, newParent: ROOT_INO, newName: 'f2' });
    assert.equal(linked.nlink, 2);
    const unlinked = await call(b, 'Unlink', { mountId: mb, cred: root, parent: ROOT_INO, name: 'f2' });
    assert.equal(unlinked.changed.length, 1);
    assert.equal(unlinked.changed[0]!.nlink, 1);
    const renamed = await call(b, 'Rename', { mountId: mb, cred: root, parent: ROOT_INO, name: 'g', newParent: ROOT_INO, newName: 'f', flags: 0 });
    assert.deepEqual(renamed.changed.map((x) => x.ino), [g.ino], 'the moved file; the replaced one was destroyed');
    assert.equal((await call(a, 'SetAttr', { mountId: ma, cred: root, ino: g.ino, mode: 0o600 })).mode & 0o777, 0o600, 'nobody holds g: A may change it without a lease');

    // Lookup with lease: granted at once when free (Exclusive when nobody else holds or waits), else none.
    const looked = await call(a, 'Lookup', { mountId: ma, cred: root, parent: ROOT_INO, name: 'f', lease: true });
    assert.equal(looked.leased, 'exclusive');
    assert.equal(looked.ino, g.ino);
    const seenByB = await call(b, 'Lookup', { mountId: mb, cred: root, parent: ROOT_INO, name: 'f', lease: true });
    assert.equal(seenByB.leased, undefined, 'A holds it Exclusive: B gets the attributes, no lease, and A is not interrupted');
    const dir = await call(a, 'Lookup', { mountId: ma, cred: root, parent: ROOT_INO, name: 'd2', lease: true });
    assert.deepEqual([dir.leased, dir.parentLeased], ['shared', true], 'a directory comes with a directory lease, the name with one on the parent');
    // The holder removes it: the inode is gone and its lease with it.
    const held = await leasesHeld();
    assert.deepEqual(await call(a, 'Unlink', { mountId: ma, cred: root, parent: ROOT_INO, name: 'f' }), { changed: [], gone: [g.ino] });
    assert.equal(await leasesHeld(), held - 1, 'the destroyed inode\'s lease went with it');
  });
});

test('directory leases: a change in a directory another mount holds is answered once the holder has released it; the holder itself does not wait; an unanswered holder is evicted', { timeout: 60000 }, async () => {
  await withTwoClients({ extraConf: LEASES, mountGracePeriod: '2s' }, async (srv, a, b) => {
    const toA = interrupts(a);
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const d = await call(a, 'Mkdir', { mountId: ma, cred: root, parent: ROOT_INO, name: 'd', mode: 0o755, umask: 0 });
    assert.equal((await call(a, 'GetAttr', { mountId: ma, cred: root, ino: d.ino, lease: true })).leased, 'shared');
    assert.equal((await call(a, 'GetAttr', { mountId: ma, cred: root, ino: d.ino })).leased, undefined, 'only when asked for');
    const f = await call(a, 'Create', { mountId: ma, cred: root, parent: d.ino, name: 'own', mode: 0o644, umask: 0, flags: O_RDWR });
    assert.ok(f.ino > 0, 'the holder\'s own change is answered at once');
    assert.equal(toA.length, 0);

    // B's change: applied at once, answered after A's release.
    const made = call(b, 'Create', { mountId: mb, cred: root, parent: d.ino, name: 'by-b', mode: 0o644, umask: 0, flags: O_RDWR });
    assert.equal(await within(made, 400), 'pending', 'B waits for A');
    assert.deepEqual(toA.map((x) => [x.ino, x.action]).slice(0, 1), [[d.ino, 'release']]);
    assert.equal((await call(a, 'Lookup', { mountId: ma, cred: root, parent: d.ino, name: 'by-b' })).ino > 0, true, 'the change is there already');
    await call(a, 'Lease', { mountId: ma, ino: d.ino, request: 'release' });
    assert.ok((await made).ino > 0);

    // A Lookup grants the parent's lease (the name may be kept) and, of a directory, its own.
    const looked = await call(a, 'Lookup', { mountId: ma, cred: root, parent: ROOT_INO, name: 'd', lease: true });
    assert.deepEqual([looked.parentLeased, looked.leased], [true, 'shared']);
    const renamed = call(b, 'Rename', { mountId: mb, cred: root, parent: d.ino, name: 'by-b', newParent: ROOT_INO, newName: 'moved', flags: 0 });
    assert.equal(await within(renamed, 300), 'pending', 'A holds both directories');
    for (const ino of [ROOT_INO, d.ino]) await call(a, 'Lease', { mountId: ma, ino, request: 'release' });
    assert.deepEqual((await renamed).dirs, []);

    // A holder that never answers is evicted; the change is answered then.
    assert.equal((await call(a, 'GetAttr', { mountId: ma, cred: root, ino: d.ino, lease: true })).leased, 'shared');
    const started = Date.now();
    await call(b, 'SetAttr', { mountId: mb, cred: root, ino: d.ino, mode: 0o700 });
    const waited = Date.now() - started;
    assert.ok(waited >= 400 && waited < 5000, `answered after the eviction (${waited} ms)`);
    await assert.rejects(call(a, 'GetAttr', { mountId: ma, cred: root, ino: d.ino }), { code: 'PFS_ERR_MOUNT_EVICTED' });
    const rm = await call(b, 'Rmdir', { mountId: mb, cred: root, parent: ROOT_INO, name: 'd' }).catch((e: { code: string }) => e.code);
    assert.equal(rm, 'ENOTEMPTY');
  });
});

test('lock contention: a blocking Lock waits without holding up other calls, is granted on unlock, and on the holder\'s drop after MountGracePeriod', { timeout: 60000 }, async () => {
  await withTwoClients({ extraConf: LEASES, mountGracePeriod: '2s' }, async (srv, a, b) => {
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const f = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'locked', mode: 0o644, umask: 0, flags: O_RDWR });
    const lock = (mountId: string, owner: string, type: 'read' | 'write' | 'unlock', wait: boolean, pid: number): Params<'Lock'> =>
      ({ mountId, ino: f.ino, owner, kind: 'posix', type, start: 0, end: -1, wait, pid });

    assert.deepEqual(await call(a, 'Lock', lock(ma, 'A1', 'write', false, 11)), { granted: true });
    assert.deepEqual(await call(b, 'Lock', lock(mb, 'B1', 'read', false, 22)), { granted: false, retryAfterMs: 0 });
    const bWaits = call(b, 'Lock', lock(mb, 'B1', 'write', true, 22));
    assert.equal(await within(bWaits, 300), 'pending');
    assert.equal((await call(b, 'GetAttr', { cred: root, mountId: mb, ino: f.ino })).ino, f.ino, 'the same client\'s next call is answered while its Lock waits');
    assert.deepEqual(await call(b, 'GetLock', { mountId: mb, ino: f.ino, owner: 'B1', kind: 'posix', type: 'read', start: 5, end: 6 }),
      { conflict: { type: 'write', start: 0, end: -1, pid: 11 } });
    assert.deepEqual(await call(a, 'Lock', lock(ma, 'A1', 'unlock', false, 11)), { granted: true });
    assert.deepEqual(await within(bWaits, 2000), { granted: true });
    assert.deepEqual(await call(b, 'Lock', lock(mb, 'B1', 'write', true, 22)), { granted: true }, 'asking again for a held lock: granted');

    // Now A waits for B, and B's agent vanishes: its lock goes with its mount after the grace period.
    const aWaits = call(a, 'Lock', lock(ma, 'A1', 'write', true, 11));
    assert.equal(await within(aWaits, 300), 'pending');
    const dropped = Date.now();
    await b.close(0);
    assert.deepEqual(await aWaits, { granted: true });
    const afterMs = Date.now() - dropped;
    assert.ok(afterMs >= 1500 && afterMs < 8000, `granted ${afterMs} ms after B's connection dropped (MountGracePeriod 2 s)`);
  });
});
