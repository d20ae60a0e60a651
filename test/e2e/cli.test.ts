/**
 * The commands as a user runs them: pfs format (refusal, --force, --if-needed), pfs fsck finding a
 * missing and a leaked object, proxyfsd rejecting a bad config with exit code 2.
 * Reproduce: make build && node --test dist/test/e2e/cli.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, writeVolumeConf, startProxyfsd, quietLog } from '../support/proxyfsd.js';
import { createRpcClient } from '../../src/common/rpc/index.js';
import { O_RDWR, ROOT_INO } from '../../src/common/protocol/index.js';

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(BIN, cmd), args, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
}

test('pfs format refuses a formatted volume unless --force; --if-needed keeps it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfs-cli-'));
  try {
    const conf = writeVolumeConf(dir, 0);
    assert.equal((await run('pfs', ['format', conf, 'TestVolume'])).code, 0);
    const again = await run('pfs', ['format', conf, 'TestVolume']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already formatted.*--force/);
    const ifNeeded = await run('pfs', ['format', conf, 'TestVolume', '--if-needed']);
    assert.equal(ifNeeded.code, 0);
    assert.match(ifNeeded.stdout, /already formatted; left as it is/);
    assert.equal((await run('pfs', ['format', conf, 'TestVolume', '--force'])).code, 0);
    assert.equal((await run('pfs', ['format', conf, 'NoSuchVolume'])).code, 1);
    assert.equal((await run('pfs', ['frobnicate', conf])).code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('proxyfsd and pfs reject a bad config with exit code 2, naming file, line, section and key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfs-cli-'));
  try {
    const conf = join(dir, 'bad.conf');
    writeFileSync(conf, `[Volume:V]\nMetadataPath: ${dir}/m.db\nObjectStoreURL: file://${dir}/o\n\n[RPCServer]\nTCPPort: seventy\n`);
    const r = await run('proxyfsd', [conf]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.conf:6: \[RPCServer\] TCPPort: /);
    const unknown = await run('proxyfsd', [conf, 'RPCServer.TCPPort=1', 'RPCServer.Bogus=1']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Bogus/);
    const fmt = await run('pfs', ['format', conf, 'V']);
    assert.equal(fmt.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pfs fsck reports a missing and a leaked object', { timeout: 60000 }, async () => {
  const srv = await startProxyfsd();
  const c = createRpcClient({ host: '127.0.0.1', port: srv.port, deadlineMs: 10000, keepAliveMs: 5000, reconnectDelayMs: 50, reconnectDelayCapMs: 500, maxFrameBytes: 16 << 20, log: quietLog });
  try {
    const { mountId } = await c.call('Mount', { volume: srv.volume }) as { mountId: string };
    const cred = { uid: 0, gid: 0, groups: [] };
    const f = await c.call('Create', { mountId, cred, parent: ROOT_INO, name: 'f', mode: 0o644, umask: 0, flags: O_RDWR }) as { ino: number };
    const [obj] = (await c.call('ProvisionObject', { mountId, count: 1 }) as { objects: { objectId: number; key: string }[] }).objects;
    const { openObjectStore } = await import('../../src/common/objectstore/index.js');
    const { blockCrc32s } = await import('../../src/volume/extents/index.js');
    const store = openObjectStore(`file://${join(srv.dir, 'objects')}`);
    const bytes = Buffer.alloc(100_000, 7);
    await store.put(obj!.key, bytes);
    await c.call('Wrote', { mountId, cred, ino: f.ino, object: { objectId: obj!.objectId, sizeBytes: bytes.length, blockSizeBytes: 65536, crc32: blockCrc32s(bytes, 65536) }, extents: [{ fileOffset: 0, length: bytes.length, objectId: obj!.objectId, objectOffset: 0 }], mtime: { sec: 1, nsec: 0 } });
    assert.equal((await run('pfs', ['fsck', srv.conf, srv.volume, '--verify-checksums'])).code, 0);
    await store.put('FFFFFFFFFFFFFFF0', Buffer.from('stray'));
    unlinkSync(join(srv.dir, 'objects', obj!.key));
    await store.close();
    const r = await run('pfs', ['fsck', srv.conf, srv.volume]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /1 missing object\(s\), 1 leaked object\(s\)/);
    assert.ok(readdirSync(join(srv.dir, 'objects')).length >= 1);
  } finally {
    await c.close(0);
    await srv.stop();
    await srv.cleanup();
  }
});
