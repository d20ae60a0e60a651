/**
 * proxyfsd as a process: RPCs over loopback, exactly-once across kill -9 and restart,
 * malformed parameters, mount grace. Reproduce: make build && node --test dist/test/e2e/volume-server.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createRpcClient, type RpcClient } from '../../src/common/rpc/index.js';
import { METHODS, ROOT_INO, S_IFDIR, S_IFREG, O_RDWR, type Method, type Params, type Result, type Cred } from '../../src/common/protocol/index.js';
import { startProxyfsd, quietLog } from '../support/proxyfsd.js';

const root: Cred = { uid: 0, gid: 0, groups: [] };

function client(port: number, deadlineMs = 20000): RpcClient {
  return createRpcClient({ host: '127.0.0.1', port, deadlineMs, keepAliveMs: 5000, reconnectDelayMs: 50, reconnectDelayCapMs: 500, maxFrameBytes: 16 << 20, log: quietLog });
}
function call<M extends Method>(c: RpcClient, m: M, p: Params<M>): Promise<Result<M>> {
  return c.call(m, p) as Promise<Result<M>>;
}

test('namespace RPCs over a real proxyfsd', { timeout: 60000 }, async () => {
  const srv = await startProxyfsd();
  const c = client(srv.port);
  try {
    const { mountId, rootIno } = await call(c, 'Mount', { volume: srv.volume });
    assert.equal(rootIno, ROOT_INO);
    const dir = await call(c, 'Mkdir', { mountId, cred: root, parent: ROOT_INO, name: 'd', mode: 0o755, umask: 0o022 });
    assert.equal(dir.mode & 0o170000, S_IFDIR);
    const f = await call(c, 'Create', { mountId, cred: root, parent: dir.ino, name: 'f', mode: 0o644, umask: 0o022, flags: O_RDWR });
    assert.equal(f.mode & 0o170000, S_IFREG);
    assert.deepEqual((await call(c, 'Lookup', { mountId, cred: root, parent: dir.ino, name: 'f' })).ino, f.ino);
    const list = await call(c, 'ReadDir', { mountId, cred: root, ino: dir.ino, cookie: 0, maxEntries: 100, plus: false });
    assert.deepEqual(list.entries.map((e) => e.name), ['.', '..', 'f']);
    await assert.rejects(call(c, 'Mkdir', { mountId, cred: root, parent: dir.ino, name: 'f', mode: 0o755, umask: 0 }), { code: 'EEXIST' });
    await assert.rejects(call(c, 'Mount', { volume: 'NoSuchVolume' }), { code: 'PFS_ERR_UNKNOWN_VOLUME' });
    await assert.rejects(call(c, 'GetAttr', { cred: root, mountId: 'bogus', ino: 1 }), { code: 'PFS_ERR_UNKNOWN_MOUNT' });
    await call(c, 'Release', { cred: root, mountId, ino: f.ino });
    await call(c, 'Unmount', { mountId });
  } finally {
    await c.close(0);
    assert.equal(await srv.stop(), 0, srv.stderr());
    await srv.cleanup();
  }
});

test('kill -9 during a stream of creates: every acknowledged change survives, nothing runs twice', { timeout: 120000 }, async () => {
  const srv = await startProxyfsd();
  const c = client(srv.port, 60000);
  try {
    const { mountId } = await call(c, 'Mount', { volume: srv.volume });
    const acked: string[] = [];
    const failures: unknown[] = [];
    let n = 0;
    const worker = async () => {
      while (n < 1500) {
        const name = `f${n++}`;
        try {
          await call(c, 'Mkdir', { mountId, cred: root, parent: ROOT_INO, name, mode: 0o755, umask: 0 });
          acked.push(name);
        } catch (err) { failures.push(err); }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    const ackedAtCrash: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Mid-stream: some creates acknowledged since the last crash (after a restart the first
      // ones wait for the reclaim period), never all of them.
      const from = acked.length;
      const until = Date.now() + 15_000;
      while (acked.length < from + 20 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      ackedAtCrash.push(acked.length);
      await srv.crash();
      await srv.restart();
    }
    await Promise.all(workers);
    assert.ok(ackedAtCrash.every((n) => n > 0 && n < 1500), `crashes must land mid-stream (acked at each crash: ${ackedAtCrash})`);
    assert.deepEqual(failures, [], 'no call may fail (a re-executed Mkdir would answer EEXIST)');
    assert.equal(acked.length, 1500);
    let cookie = 0;
    const names = new Set<string>();
    for (;;) {
      const r = await call(c, 'ReadDir', { mountId, cred: root, ino: ROOT_INO, cookie, maxEntries: 500, plus: false });
      for (const e of r.entries) { names.add(e.name); cookie = e.cookie; }
      if (r.eof) break;
    }
    for (const name of acked) assert.ok(names.has(name), `acknowledged ${name} is missing after kill -9`);
  } finally {
    await c.close(0);
    await srv.cleanup();
  }
});

test('random and malformed parameters for every RPC are answered with errors; the server keeps serving', { timeout: 120000 }, async () => {
  const srv = await startProxyfsd();
  const c = client(srv.port);
  const good = client(srv.port);
  try {
    const { mountId } = await call(good, 'Mount', { volume: srv.volume });
    const anyValue = fc.anything({ maxDepth: 3, withBigInt: false, withTypedArray: false, withDate: false, withMap: false, withSet: false });
    const nearParams = fc.record({
      mountId: fc.oneof(fc.constant(mountId), fc.string()),
      cred: fc.oneof(fc.constant(root), anyValue),
      ino: fc.oneof(fc.integer({ min: -5, max: 50 }), anyValue),
      parent: fc.oneof(fc.integer({ min: -5, max: 50 }), anyValue),
      name: fc.oneof(fc.string({ maxLength: 300 }), anyValue),
      mode: fc.oneof(fc.integer(), anyValue),
      size: fc.oneof(fc.integer(), fc.double(), anyValue),
      // Lease, Lock, GetLock (never wait: true, which would hold a call up to 10 s).
      request: fc.oneof(fc.constantFrom('shared', 'promote', 'exclusive', 'demote', 'release'), anyValue),
      owner: fc.oneof(fc.string({ maxLength: 200 }), anyValue),
      kind: fc.oneof(fc.constantFrom('posix', 'flock'), anyValue),
      type: fc.oneof(fc.constantFrom('read', 'write', 'unlock'), anyValue),
      start: fc.oneof(fc.integer({ min: -2, max: 100 }), anyValue),
      end: fc.oneof(fc.integer({ min: -2, max: 100 }), anyValue),
      wait: fc.constant(false),
      pid: fc.oneof(fc.nat(), anyValue),
    }, { requiredKeys: [] });
    await fc.assert(fc.asyncProperty(fc.constantFrom(...METHODS, 'NoSuchMethod', '__proto__'), fc.oneof(anyValue, nearParams), async (method, params) => {
      if (method === 'Unmount') return; // would end the well-behaved mount
      try {
        await c.call(method, params);
      } catch (err) {
        assert.match(String((err as { code?: string }).code), /^(E[A-Z]+|PFS_ERR_[A-Z_]+)$/);
        assert.notEqual((err as { code?: string }).code, 'PFS_ERR_INTERNAL', `internal error for ${method} ${JSON.stringify(params)}`);
      }
    }), { numRuns: 3000 });
    const st = await call(good, 'GetAttr', { cred: root, mountId, ino: ROOT_INO });
    assert.equal(st.ino, ROOT_INO);
  } finally {
    await c.close(0);
    await good.close(0);
    assert.equal(await srv.stop(), 0, srv.stderr());
    await srv.cleanup();
  }
});

test('a mount whose agent stays away past the grace period is dropped and its open files released', { timeout: 60000 }, async () => {
  const srv = await startProxyfsd({ mountGracePeriod: '2s' });
  const a = client(srv.port);
  const b = client(srv.port);
  try {
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const f = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'open-then-unlinked', mode: 0o644, umask: 0, flags: O_RDWR });
    await call(a, 'Unlink', { mountId: ma, cred: root, parent: ROOT_INO, name: 'open-then-unlinked' });
    assert.equal((await call(b, 'GetAttr', { cred: root, mountId: mb, ino: f.ino })).nlink, 0, 'open unlinked file still exists');
    await a.close(0);
    await new Promise((r) => setTimeout(r, 3500)); // MountGracePeriod is 2s in the test config
    await assert.rejects(call(b, 'GetAttr', { cred: root, mountId: mb, ino: f.ino }), { code: 'ENOENT' });
    const c2 = client(srv.port);
    await assert.rejects(c2.call('GetAttr', { mountId: ma, cred: root, ino: ROOT_INO }), { code: 'PFS_ERR_UNKNOWN_MOUNT' });
    await c2.close(0);
  } finally {
    await b.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});

test('object numbers provisioned for a live mount never expire; after it ends they expire ProvisionedObjectTTL later (issue 20)', { timeout: 60000 }, async () => {
  const srv = await startProxyfsd({ volumeKeys: 'ProvisionedObjectTTL: 1s\nGCInterval: 200ms' });
  const c = client(srv.port);
  try {
    const mounted = await call(c, 'Mount', { volume: srv.volume });
    assert.equal(mounted.provisionedObjectTtlMs, 1000, 'the Mount reply states the TTL');
    const { mountId } = mounted;
    const f = await call(c, 'Create', { mountId, cred: root, parent: ROOT_INO, name: 'late', mode: 0o644, umask: 0, flags: O_RDWR });
    const [kept, dropped] = (await call(c, 'ProvisionObject', { mountId, count: 2 })).objects as [{ objectId: number; key: string }, { objectId: number; key: string }];
    await new Promise((r) => setTimeout(r, 3000)); // three TTLs, about fifteen GC rounds, the mount live
    const report = (objectId: number) => ({ objectId, sizeBytes: 1, blockSizeBytes: 65536, crc32: [0xe8b7be43] }); // crc32('a')
    const extent = (objectId: number) => [{ fileOffset: 0, length: 1, objectId, objectOffset: 0 }];
    const mtime = { sec: 1, nsec: 0 };
    assert.equal((await call(c, 'Wrote', { cred: root, mountId, ino: f.ino, object: report(kept.objectId), extents: extent(kept.objectId), mtime })).size, 1);
    await call(c, 'Release', { cred: root, mountId, ino: f.ino });
    await call(c, 'Unmount', { mountId });
    await new Promise((r) => setTimeout(r, 2500));
    const again = (await call(c, 'Mount', { volume: srv.volume })).mountId;
    await call(c, 'Open', { cred: root, mountId: again, ino: f.ino, flags: O_RDWR });
    await assert.rejects(call(c, 'Wrote', { cred: root, mountId: again, ino: f.ino, object: report(dropped.objectId), extents: extent(dropped.objectId), mtime }), { code: 'PFS_ERR_STALE_OBJECT' });
    await call(c, 'Unmount', { mountId: again });
  } finally {
    await c.close(0);
    assert.equal(await srv.stop(), 0, srv.stderr());
    await srv.cleanup();
  }
});
