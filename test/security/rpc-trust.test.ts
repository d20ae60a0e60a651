/**
 * Issue 17, the RPC session layer, attacked as docs/SECURITY.md says: a local user who is not
 * allowed (uid 65534, a raw client of a few dozen lines), a stolen mount ID, a stolen client ID
 * (also across a proxyfsd restart), and what proxyfsd and the agent leave on disk. Each attack
 * must fail with a clear error while a legitimate client keeps working.
 *
 * Reproduce: make build && node --test dist/test/security/rpc-trust.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_INO, O_RDWR, type Cred } from '../../src/common/protocol/index.js';
import { call, rpcClient } from '../support/rpc-agent.js';
import { rawRpc } from '../support/raw-rpc.js';
import { startProxyfsd } from '../support/proxyfsd.js';
import { q, sh, startMount } from '../support/agent.js';

const NOBODY = 65534;
const root: Cred = { uid: 0, gid: 0, groups: [] };
const mode = (path: string) => statSync(path).mode & 0o777;

test('a local user who is not allowed is refused before anything is served, whatever it claims; the agent keeps working', { timeout: 60_000 }, async () => {
  const srv = await startProxyfsd();
  const a = rpcClient(srv.port);
  try {
    const { mountId } = await call(a, 'Mount', { volume: srv.volume });
    const f = await call(a, 'Create', { mountId, cred: root, parent: ROOT_INO, name: 'secret', mode: 0o600, umask: 0, flags: O_RDWR });
    const attacks = [
      await rawRpc(srv.port, { uid: NOBODY, clientId: 'attacker', calls: [{ method: 'Mount', params: { volume: srv.volume } }] }),
      await rawRpc(srv.port, { uid: NOBODY, clientId: a.clientId, calls: [{ method: 'SetAttr', params: { mountId, cred: root, ino: f.ino, mode: 0o666 } }] }),
    ];
    for (const r of attacks) {
      assert.equal(r.refused?.code, 'PFS_ERR_RPC_REFUSED', JSON.stringify(r));
      assert.match(r.refused!.message, /uid 65534 is not allowed/);
      assert.deepEqual(r.replies, []);
    }
    assert.match(srv.stderr(), /rpc connection refused/);
    assert.equal((await call(a, 'GetAttr', { cred: root, mountId, ino: f.ino })).mode & 0o777, 0o600, 'the attack changed nothing');
  } finally {
    await a.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});

test('a mount ID is usable only by the client that made it', { timeout: 60_000 }, async () => {
  const srv = await startProxyfsd();
  const a = rpcClient(srv.port);
  try {
    const { mountId } = await call(a, 'Mount', { volume: srv.volume });
    const r = await rawRpc(srv.port, {
      clientId: 'another-client-of-root',
      calls: [
        { method: 'GetAttr', params: { mountId, cred: root, ino: ROOT_INO } },
        { method: 'Mkdir', params: { mountId, cred: root, parent: ROOT_INO, name: 'x', mode: 0o755, umask: 0 } },
        { method: 'Unmount', params: { mountId } },
      ],
    });
    assert.deepEqual(r.replies.map((x) => ('error' in x ? x.error.code : 'ok')), ['PFS_ERR_UNKNOWN_MOUNT', 'PFS_ERR_UNKNOWN_MOUNT', 'PFS_ERR_UNKNOWN_MOUNT']);
    await call(a, 'Mkdir', { mountId, cred: root, parent: ROOT_INO, name: 'still-mine', mode: 0o755, umask: 0 });
    assert.match(srv.stderr(), /"clientId":"[0-9a-f]{8}…"/, 'client IDs are logged cut short');
    assert.ok(!srv.stderr().includes(a.clientId), 'the full client ID never reaches the log');
    assert.ok(!srv.stderr().includes(mountId), 'the full mount ID never reaches the log');
  } finally {
    await a.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});

test('a client ID belongs to the peer that made its mount, also after a proxyfsd restart', { timeout: 90_000 }, async () => {
  const srv = await startProxyfsd({ extraConf: `[RPCServer]\nAllowedUIDs: ${NOBODY}\n` });
  const a = rpcClient(srv.port);
  try {
    const { mountId } = await call(a, 'Mount', { volume: srv.volume });
    const own = await rawRpc(srv.port, { uid: NOBODY, clientId: 'nobodys-own-client', calls: [{ method: 'Mount', params: { volume: srv.volume } }] });
    assert.ok(own.replies[0] && 'result' in own.replies[0], `an allowed uid mounts: ${JSON.stringify(own)}`);
    const takeover = () => rawRpc(srv.port, { uid: NOBODY, clientId: a.clientId, calls: [{ method: 'Unmount', params: { mountId } }] });
    const before = await takeover();
    assert.equal(before.refused?.code, 'PFS_ERR_RPC_REFUSED', JSON.stringify(before));
    assert.match(before.refused!.message, /belongs to another peer/);
    await srv.crash();
    await srv.restart();
    const after = await takeover();
    assert.equal(after.refused?.code, 'PFS_ERR_RPC_REFUSED', JSON.stringify(after));
    assert.match(after.refused!.message, /belongs to another peer/);
    await call(a, 'Mkdir', { mountId, cred: root, parent: ROOT_INO, name: 'still-mine', mode: 0o755, umask: 0 });
  } finally {
    await a.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});

test('what proxyfsd and the agent write is private: database, WAL, object directory and objects, logs', { timeout: 120_000 }, async () => {
  const logs = mkdtempSync(join(tmpdir(), 'pfs-logs-'));
  const srv = await startProxyfsd({ extraConf: `LogFilePath: ${join(logs, 'proxyfsd.log')}\n` });
  const m = await startMount({ proxyfsd: srv, agentConf: { LogFilePath: join(logs, 'agent.log') } });
  try {
    const w = await sh(`umask 022; head -c 100000 /dev/urandom > ${q(join(m.mnt, 'f'))} && sync`);
    assert.equal(w.code, 0, w.stderr);
    for (const f of ['meta.db', 'meta.db-wal', 'meta.db-shm']) assert.equal(mode(join(srv.dir, f)), 0o600, f);
    for (const f of ['proxyfsd.log', 'agent.log']) assert.equal(mode(join(logs, f)), 0o600, f);
    const objects = join(srv.dir, 'objects');
    assert.equal(mode(objects), 0o700);
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const files = walk(objects);
    assert.ok(files.length > 0, 'the write made an object');
    for (const f of files) assert.equal(mode(f) & 0o077, 0, `${f} is private`);
  } finally {
    await m.cleanup();
    await srv.stop();
    await srv.cleanup();
    rmSync(logs, { recursive: true, force: true });
  }
});

test('Wrote takes only objects provisioned to the same mount and not yet reported; ProvisionObject is bounded', { timeout: 60_000 }, async () => {
  const srv = await startProxyfsd();
  const a = rpcClient(srv.port);
  const b = rpcClient(srv.port);
  try {
    const ma = (await call(a, 'Mount', { volume: srv.volume })).mountId;
    const mb = (await call(b, 'Mount', { volume: srv.volume })).mountId;
    const fa = await call(a, 'Create', { mountId: ma, cred: root, parent: ROOT_INO, name: 'a', mode: 0o600, umask: 0, flags: O_RDWR });
    const fb = await call(b, 'Create', { mountId: mb, cred: root, parent: ROOT_INO, name: 'b', mode: 0o644, umask: 0, flags: O_RDWR });
    const [objA] = (await call(a, 'ProvisionObject', { mountId: ma, count: 1 })).objects;
    const wrote = (mountId: string, ino: number, objectId: number) => call(mountId === ma ? a : b, 'Wrote', { cred: root,
      mountId, ino, mtime: { sec: 1, nsec: 0 },
      object: { objectId, sizeBytes: 10, blockSizeBytes: 65536, crc32: [0] },
      extents: [{ fileOffset: 0, length: 10, objectId, objectOffset: 0 }],
    });
    await assert.rejects(wrote(mb, fb.ino, objA!.objectId), { code: 'PFS_ERR_STALE_OBJECT' }, "B cannot attach A's object");
    assert.equal((await wrote(ma, fa.ino, objA!.objectId)).size, 10);
    await assert.rejects(wrote(ma, fb.ino, objA!.objectId), { code: 'EBADF' }, 'a file the mount does not hold open takes no Wrote');
    await call(a, 'Open', { mountId: ma, cred: root, ino: fb.ino, flags: O_RDWR });
    await assert.rejects(wrote(ma, fb.ino, objA!.objectId), { code: 'PFS_ERR_STALE_OBJECT' }, 'an object already in a file cannot be attached to another');
    assert.equal((await call(b, 'GetAttr', { cred: root, mountId: mb, ino: fb.ino })).size, 0);
    await assert.rejects(call(a, 'ProvisionObject', { mountId: ma, count: 1024 }), { code: 'EINVAL' });
  } finally {
    await a.close(0);
    await b.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});

test('an agent of an allowed non-root uid acts only as that user; extent-map calls need a file the mount holds open', { timeout: 60_000 }, async () => {
  const srv = await startProxyfsd({ extraConf: `[RPCServer]\nAllowedUIDs: ${NOBODY}\n` });
  const a = rpcClient(srv.port);
  try {
    const { mountId } = await call(a, 'Mount', { volume: srv.volume });
    const secret = await call(a, 'Create', { mountId, cred: root, parent: ROOT_INO, name: 'secret', mode: 0o600, umask: 0, flags: O_RDWR });
    const shared = await call(a, 'Mkdir', { mountId, cred: root, parent: ROOT_INO, name: 'shared', mode: 0o777, umask: 0 });
    const nobody: Cred = { uid: NOBODY, gid: NOBODY, groups: [] };
    const fetch = (cred: Cred, ino: number) => ({ method: 'FetchExtentMapChunk', params: { mountId: '$MOUNT', cred, ino, fileOffset: 0, maxEntriesFrom: 8, maxEntriesBefore: 0 } });
    const r = await rawRpc(srv.port, {
      uid: NOBODY, clientId: 'nobodys-agent',
      calls: [
        { method: 'Mount', params: { volume: srv.volume } },
        { method: 'SetAttr', params: { mountId: '$MOUNT', cred: root, ino: secret.ino, mode: 0o666 } },
        { method: 'GetAttr', params: { mountId: '$MOUNT', cred: root, ino: secret.ino } },
        { method: 'Open', params: { mountId: '$MOUNT', cred: { uid: NOBODY, gid: 0, groups: [] }, ino: secret.ino, flags: 0 } },
        { method: 'Create', params: { mountId: '$MOUNT', cred: { ...nobody, groups: [0] }, parent: shared.ino, name: 'x', mode: 0o644, umask: 0, flags: O_RDWR } },
        { method: 'GetAttr', params: { mountId: '$MOUNT', cred: nobody, ino: secret.ino } },
        { method: 'Open', params: { mountId: '$MOUNT', cred: nobody, ino: secret.ino, flags: 0 } },
        fetch(nobody, secret.ino),
        { method: 'Create', params: { mountId: '$MOUNT', cred: nobody, parent: shared.ino, name: 'mine', mode: 0o644, umask: 0, flags: O_RDWR } },
        fetch(nobody, secret.ino + 2),
      ],
    });
    const codes = r.replies.map((x) => ('error' in x ? x.error.code : 'ok'));
    assert.deepEqual(codes, ['ok', 'EACCES', 'EACCES', 'EACCES', 'EACCES', 'ok', 'EACCES', 'EBADF', 'ok', 'ok'], JSON.stringify(r.replies));
    const claimed = r.replies[1] as { error: { message: string } };
    assert.match(claimed.error.message, /may act only as that user, not as uid 0/);
    assert.equal((await call(a, 'GetAttr', { mountId, cred: root, ino: secret.ino })).mode & 0o777, 0o600, 'the claim of uid 0 changed nothing');
    assert.equal((await call(a, 'Lookup', { mountId, cred: root, parent: shared.ino, name: 'mine' })).uid, NOBODY, 'its own calls work, as itself');
    // The same rule for a root agent: no extent map, and no Wrote, for a file its mount has not open.
    await assert.rejects(call(a, 'FetchExtentMapChunk', { mountId, cred: root, ino: shared.ino + 1, fileOffset: 0, maxEntriesFrom: 8, maxEntriesBefore: 0 }), { code: 'EBADF' });
    await call(a, 'Release', { mountId, cred: root, ino: secret.ino });
    await assert.rejects(call(a, 'FetchExtentMapChunk', { mountId, cred: root, ino: secret.ino, fileOffset: 0, maxEntriesFrom: 8, maxEntriesBefore: 0 }), { code: 'EBADF' });
  } finally {
    await a.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});
