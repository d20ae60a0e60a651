import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkServerStore, isLoopback, sameStore } from './check-server-store.js';
import { parseStoreUrl } from './url.js';

const same = (a: string, b: string) => sameStore(parseStoreUrl(a), parseStoreUrl(b));
const loopback = { configuredUrl: '', serverHost: '127.0.0.1' };

function refused(serverUrl: string, ctx: { configuredUrl: string; serverHost: string }, why: RegExp): void {
  assert.throws(() => checkServerStore(serverUrl, ctx), (err: { code?: string; message: string }) => {
    assert.equal(err.code, 'PFS_ERR_CONFIG');
    assert.match(err.message, why);
    return true;
  }, serverUrl);
}

test('sameStore: same kind, place, endpoint and region after normalisation', () => {
  assert.ok(same('file:///srv/pfs/objects', 'file:///srv/pfs/objects/'));
  assert.ok(same('file:///srv/pfs/objects', 'file://localhost/srv/pfs/./x/../objects'));
  assert.ok(!same('file:///srv/pfs/objects', 'file:///srv/pfs/other'));
  assert.ok(same('swift://vol', 'swift://vol/'));
  assert.ok(!same('swift://vol', 'swift://vol2'));
  assert.ok(!same('swift://vol', 's3://vol'));
  assert.ok(same('s3://bkt', 's3://bkt?region=us-east-1'), 'no region is us-east-1, as s3.ts');
  assert.ok(same('s3://bkt?endpoint=https://S3.Example.com:443/&region=eu-west-1', 's3://bkt?region=eu-west-1&endpoint=https://s3.example.com'));
  assert.ok(!same('s3://bkt?endpoint=https://s3.example.com', 's3://bkt?endpoint=https://evil.example.com'));
  assert.ok(!same('s3://bkt?endpoint=https://s3.example.com', 's3://bkt'));
  assert.ok(!same('s3://bkt?endpoint=http://s3.example.com', 's3://bkt?endpoint=https://s3.example.com'));
  assert.ok(!same('s3://bkt?region=eu-west-1', 's3://bkt?region=us-west-2'));
  assert.ok(!same('s3://bkt', 's3://other-bkt'));
});

test('with ObjectStoreURL set: the same store is accepted (the agent\'s own URL is used), another refused naming both', () => {
  const own = 's3://bkt?endpoint=https://s3.example.com&region=eu-west-1';
  assert.equal(checkServerStore('s3://bkt?region=eu-west-1&endpoint=https://s3.example.com/', { configuredUrl: own, serverHost: '10.0.0.5' }), own);
  refused('s3://bkt?endpoint=https://evil.example.com&region=eu-west-1', { configuredUrl: own, serverHost: '10.0.0.5' },
    /the volume server names object store s3:\/\/bkt\?endpoint=https:\/\/evil\.example\.com&region=eu-west-1, but \[Agent\] ObjectStoreURL is s3:\/\/bkt\?endpoint=https:\/\/s3\.example\.com&region=eu-west-1: refusing to mount/);
  refused('file:///etc/somewhere', { configuredUrl: 'swift://vol', serverHost: '127.0.0.1' }, /names object store file:\/\/\/etc\/somewhere, but \[Agent\] ObjectStoreURL is swift:\/\/vol/);
  // An endpoint's user part is never shown.
  refused('s3://bkt?endpoint=https://user:pw@evil.example.com', { configuredUrl: own, serverHost: 'h' }, /endpoint=https:\/\/evil\.example\.com/);
  assert.throws(() => checkServerStore('s3://bkt?endpoint=https://user:pw@evil.example.com', { configuredUrl: own, serverHost: 'h' }), (e: Error) => !e.message.includes('pw'));
  refused('ftp://x', { configuredUrl: own, serverHost: 'h' }, /named an object store the agent cannot use: .*unsupported scheme/);
});

test('default: swift containers and endpoint-less S3 buckets are accepted; a named S3 endpoint is not', () => {
  for (const host of ['127.0.0.1', 'proxyfsd.example.com']) {
    assert.equal(checkServerStore('swift://vol', { configuredUrl: '', serverHost: host }), 'swift://vol');
    assert.equal(checkServerStore('s3://bkt?region=eu-west-1', { configuredUrl: '', serverHost: host }), 's3://bkt?region=eu-west-1');
    refused('s3://bkt?endpoint=https://evil.example.com', { configuredUrl: '', serverHost: host }, /an S3 endpoint named by the volume server is used only when the agent's ObjectStoreURL names the same one/);
  }
  refused('s3://bkt?region=evil.com%2F', loopback, /not a region name/);
});

test('default: file:// only from a loopback server, into an existing, private, non-system directory', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pfs-store-check-'));
  try {
    const objects = path.join(dir, 'objects');
    mkdirSync(objects, { mode: 0o700 });
    assert.equal(checkServerStore(`file://${objects}`, loopback), `file://${objects}`);
    assert.equal(checkServerStore(`file://${objects}`, { configuredUrl: '', serverHost: '::1' }), `file://${objects}`);
    refused(`file://${objects}`, { configuredUrl: '', serverHost: '192.0.2.7' }, /only from a volume server on this machine \(RetryRPCPublicIPAddr 192\.0\.2\.7 is not a loopback address\)/);
    refused(`file://${path.join(dir, 'missing')}`, loopback, /missing does not exist/);
    for (const sys of ['/etc', '/etc/pfs', '/usr/lib', '/', '/tmp', '/root', '/dev/shm', '/var/lib']) refused(`file://${sys}`, loopback, /is a system directory|does not exist/);
    const link = path.join(dir, 'link');
    symlinkSync('/etc', link);
    refused(`file://${link}`, loopback, /\/etc is a system directory/);
    chmodSync(objects, 0o770);
    refused(`file://${objects}`, loopback, /objects is writable by its group or by everyone \(mode 770\)/);
    chmodSync(objects, 0o700);
    chmodSync(dir, 0o1777);
    assert.equal(checkServerStore(`file://${objects}`, loopback), `file://${objects}`, 'a sticky directory above it is fine');
    chmodSync(dir, 0o777);
    refused(`file://${objects}`, loopback, /pfs-store-check-\w+ is writable by its group or by everyone \(mode 777\)/);
    chmodSync(dir, 0o700);
    if (process.geteuid?.() === 0) {
      chownSync(objects, 65534, 65534);
      refused(`file://${objects}`, loopback, /objects belongs to uid 65534, not to root or to this agent's user/);
    }
    // With ObjectStoreURL naming it, none of the default's conditions apply: the operator said so.
    assert.equal(checkServerStore(`file://${objects}`, { configuredUrl: `file://${objects}/`, serverHost: '192.0.2.7' }), `file://${objects}/`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('isLoopback', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
  for (const h of ['10.0.0.1', '0.0.0.0', '::', 'example.com', '128.0.0.1', 'localhost.evil.com']) assert.ok(!isLoopback(h), h);
});
