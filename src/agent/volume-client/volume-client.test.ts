/** The volume client's mount swap after an eviction: single-flight, resend rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PfsError } from '../../common/errors/index.js';
import type { RpcClient } from '../../common/rpc/index.js';
import { createVolumeClient } from './index.js';
import type { Cred } from '../../common/protocol/index.js';

const ROOT_CRED: Cred = { uid: 0, gid: 0, groups: [] };

function fakeRpc(evicted: Set<string>) {
  const sent: { method: string; mountId: string }[] = [];
  const rpc: RpcClient = {
    clientId: 'c',
    async call(method, params) {
      const mountId = (params as { mountId: string }).mountId;
      sent.push({ method, mountId });
      await new Promise((r) => setImmediate(r));
      if (evicted.has(mountId)) throw new PfsError('PFS_ERR_MOUNT_EVICTED', `mount ${mountId} was evicted`);
      return { ok: method };
    },
    onUpcall() {},
    onServerChange() {},
    connected: async () => {},
    close: async () => {},
  };
  return { rpc, sent };
}

test('calls refused for an evicted mount wait for one re-mount and are resent, except those tied to the old mount', async () => {
  const evicted = new Set(['m1']);
  const { rpc, sent } = fakeRpc(evicted);
  let lost = 0;
  const client = createVolumeClient(rpc, 'm1', {
    onMountLost: async (id) => {
      lost++;
      assert.equal(id, 'm1');
      await new Promise((r) => setTimeout(r, 10));
      return 'm2';
    },
  });
  const results = await Promise.allSettled([
    client.call('GetAttr', { cred: ROOT_CRED, ino: 1 }),
    client.call('Lookup', { cred: ROOT_CRED, parent: 1, name: 'x' }),
    client.call('Wrote', { cred: ROOT_CRED, ino: 1, object: { objectId: 1, sizeBytes: 1, blockSizeBytes: 1, crc32: [0] }, extents: [], mtime: { sec: 0, nsec: 0 } }),
    client.call('Lease', { ino: 1, request: 'shared' }),
  ]);
  assert.equal(lost, 1, 'one re-mount for every refused call');
  assert.equal(client.mountId, 'm2');
  assert.equal(client.generation, 1);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected']);
  for (const r of results.slice(2)) assert.equal((r as PromiseRejectedResult).reason.code, 'PFS_ERR_MOUNT_EVICTED');
  assert.deepEqual(sent.filter((s) => s.mountId === 'm2').map((s) => s.method).sort(), ['GetAttr', 'Lookup']);
  // A call refused for a mount already replaced does not re-mount again.
  evicted.add('m2');
  await assert.rejects(client.call('Unmount', {}), { code: 'PFS_ERR_MOUNT_EVICTED' }, 'Unmount never re-mounts');
  await assert.rejects(client.call('GetAttr', { cred: ROOT_CRED, ino: 1 }), { code: 'PFS_ERR_MOUNT_EVICTED' }, 'nor does anything after it (shutdown)');
  assert.equal(lost, 1);
});

test('without onMountLost the refusal is passed on', async () => {
  const { rpc } = fakeRpc(new Set(['m1']));
  const client = createVolumeClient(rpc, 'm1');
  await assert.rejects(client.call('GetAttr', { cred: ROOT_CRED, ino: 1 }), { code: 'PFS_ERR_MOUNT_EVICTED' });
});

test('calls refused for the mount\'s object-store token wait for one renewal and are resent; a refused renewal fails them', async () => {
  let tokenOk = false;
  const rpc: RpcClient = {
    clientId: 'c',
    async call(method) {
      await new Promise((r) => setImmediate(r));
      if (!tokenOk) throw new PfsError('PFS_ERR_AUTH_TOKEN_REJECTED', 'the store refused the mount\'s token');
      return { ok: method };
    },
    onUpcall() {},
    onServerChange() {},
    connected: async () => {},
    close: async () => {},
  };
  let renewals = 0;
  const client = createVolumeClient(rpc, 'm1', {
    renewToken: async (id) => {
      assert.equal(id, 'm1');
      renewals++;
      await new Promise((r) => setTimeout(r, 10));
      tokenOk = true;
    },
  });
  const results = await Promise.all([
    client.call('GetAttr', { cred: ROOT_CRED, ino: 1 }),
    client.call('Wrote', { cred: ROOT_CRED, ino: 1, object: { objectId: 1, sizeBytes: 1, blockSizeBytes: 1, crc32: [0] }, extents: [], mtime: { sec: 0, nsec: 0 } }),
    client.call('Lease', { ino: 1, request: 'shared' }),
  ]);
  assert.equal(renewals, 1, 'one renewal for every refused call');
  assert.deepEqual(results.map((r) => (r as unknown as { ok: string }).ok), ['GetAttr', 'Wrote', 'Lease'], 'all resent: none of them ran');
  assert.equal(client.mountId, 'm1', 'the same mount');

  tokenOk = false;
  const failing = createVolumeClient(rpc, 'm1', {
    renewToken: async () => { renewals++; throw new PfsError('PFS_ERR_AUTH_TOKEN_REJECTED', 'refused after a renewal too'); },
  });
  await assert.rejects(failing.call('GetAttr', { cred: ROOT_CRED, ino: 1 }), /refused after a renewal too/);
});

test('a mount lost while its token is renewed is replaced, and the call resent under the new one', async () => {
  const rpc: RpcClient = {
    clientId: 'c',
    async call(method, params) {
      const mountId = (params as { mountId: string }).mountId;
      await new Promise((r) => setImmediate(r));
      if (mountId === 'm1') throw new PfsError('PFS_ERR_AUTH_TOKEN_REJECTED', 'no token held');
      return { ok: `${method}@${mountId}` };
    },
    onUpcall() {},
    onServerChange() {},
    connected: async () => {},
    close: async () => {},
  };
  const client = createVolumeClient(rpc, 'm1', {
    renewToken: async () => { throw new PfsError('PFS_ERR_MOUNT_EVICTED', 'evicted meanwhile'); },
    onMountLost: async () => 'm2',
  });
  assert.deepEqual(await client.call('GetAttr', { cred: ROOT_CRED, ino: 1 }), { ok: 'GetAttr@m2' });
  assert.equal(client.mountId, 'm2');
});
