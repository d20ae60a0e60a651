import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { runConformance } from './conformance.js';
import { openObjectStore, withFaults } from './index.js';
import { isRetryable } from './retry.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pfs-objectstore-'));
}

runConformance('local', async () => {
  const dir = await tempDir();
  return { store: openObjectStore(pathToFileURL(dir).href), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

describe('local object store', () => {
  it('a full filesystem is PFS_ERR_OBJECT_STORE_FULL (not retried) and leaves no temp file', { skip: process.getuid?.() !== 0 && 'mounting a small tmpfs needs root' }, async () => {
    const dir = await tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir]);
    const store = openObjectStore(pathToFileURL(dir).href);
    try {
      await store.put('small', Buffer.alloc(64 * 1024, 1));
      await assert.rejects(store.put('big', Buffer.alloc(2 << 20, 2)), code('PFS_ERR_OBJECT_STORE_FULL'));
      assert.equal(isRetryable(await store.put('big', Buffer.alloc(2 << 20)).catch((e: unknown) => e)), false);
      assert.deepEqual(await readdir(dir), ['small']);
      await store.delete('small');
      await store.put('fits', Buffer.alloc(512 * 1024, 3));
      assert.equal((await store.get('fits')).length, 512 * 1024);
    } finally {
      await store.close();
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses keys that are not flat names', async () => {
    const dir = await tempDir();
    const store = openObjectStore(pathToFileURL(dir).href);
    try {
      for (const key of ['', '.', '..', '../x', 'a/b', '.hidden', 'nul\0', 'x'.repeat(256)]) {
        await assert.rejects(store.put(key, Buffer.from('x')), code('PFS_ERR_OBJECT_STORE'), key);
        await assert.rejects(store.get(key), code('PFS_ERR_OBJECT_STORE'), key);
      }
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('puts a body of more buffers than one writev takes (IOV_MAX), in order', async () => {
    const dir = await tempDir();
    const store = openObjectStore(pathToFileURL(dir).href);
    try {
      const parts = Array.from({ length: 2500 }, (_, i) => Buffer.from(`${i},`));
      await store.put('many', parts);
      assert.equal((await store.get('many')).toString(), parts.map((p) => p.toString()).join(''));
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not list temp files or subdirectories', async () => {
    const dir = await tempDir();
    const store = openObjectStore(pathToFileURL(dir).href);
    try {
      await writeFile(join(dir, '.pfs-tmp-0123'), 'partial');
      await store.put('k', Buffer.from('v'));
      const keys: string[] = [];
      for await (const info of store.list('')) keys.push(info.key);
      assert.deepEqual(keys, ['k']);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('openObjectStore: missing directory, create, and unsupported schemes', async () => {
    const dir = join(await tempDir(), 'sub', 'dir');
    assert.throws(() => openObjectStore(pathToFileURL(dir).href), code('PFS_ERR_CONFIG'));
    const store = openObjectStore(pathToFileURL(dir).href, { create: true });
    await store.close();
    assert.throws(() => openObjectStore('swift://user:secret@host/v1/AUTH_x'), (err: Error) => code('PFS_ERR_CONFIG')(err) && !err.message.includes('secret'));
    assert.throws(() => openObjectStore('s3://bucket/prefix'), code('PFS_ERR_CONFIG'));
    assert.throws(() => openObjectStore('http://x/'), code('PFS_ERR_CONFIG'));
    assert.throws(() => openObjectStore('not a url'), code('PFS_ERR_CONFIG'));
    await rm(join(dir, '..', '..'), { recursive: true, force: true });
  });

  it('operations after close fail; close waits for in-flight puts', async () => {
    const dir = await tempDir();
    const store = openObjectStore(pathToFileURL(dir).href);
    const pending = store.put('k', Buffer.alloc(1 << 20));
    await store.close();
    assert.deepEqual(await readdir(dir), ['k']);
    await pending;
    await assert.rejects(store.get('k'), code('PFS_ERR_OBJECT_STORE'));
    await rm(dir, { recursive: true, force: true });
  });

  it('withFaults fails the next N calls of an op and corrupts gets', async () => {
    const dir = await tempDir();
    const store = withFaults(openObjectStore(pathToFileURL(dir).href), { failNext: { put: 2 } });
    try {
      await assert.rejects(store.put('k', Buffer.from('abc')), code('PFS_ERR_OBJECT_STORE'));
      await assert.rejects(store.put('k', Buffer.from('abc')), code('PFS_ERR_OBJECT_STORE'));
      await store.put('k', Buffer.from('abc'));
      assert.equal(store.calls.put, 3);
      store.plan.corruptNextGets = 1;
      assert.notDeepEqual(await store.get('k'), Buffer.from('abc'));
      assert.deepEqual(await store.get('k'), Buffer.from('abc'));
      store.plan.failNext = { delete: 1 };
      store.plan.errorFor = (op, key) => Object.assign(new Error(`boom ${op} ${key}`), { code: 'PFS_ERR_OBJECT_MISSING' });
      await assert.rejects(store.delete('k'), code('PFS_ERR_OBJECT_MISSING'));
      await store.delete('k');
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
