// dropPageCache and the local store's use of it, checked with fincore(1) (util-linux-extra,
// installed by scripts/install-system-deps.sh tools): the pages of a synced object are gone.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { openObjectStore } from '../objectstore/index.js';
import { packageRoot } from './package-root.js';
import { nativeAddon } from './addon.js';
import { dropPageCache } from './page-cache.js';

const fincore = ['/usr/bin/fincore', '/bin/fincore'].find((p) => existsSync(p));
const reason = process.platform !== 'linux' ? 'not Linux' : !fincore ? 'no fincore (apt-get install util-linux-extra)' : undefined;

/** Bytes of path resident in the page cache. */
function resident(path: string): number {
  const out = execFileSync(fincore!, ['--bytes', '--noheadings', '--raw', '--output', 'RES', path], { encoding: 'utf8' });
  return Number(out.trim());
}

test('the addon is built (make build) and drops a synced file\'s pages', { skip: reason }, async () => {
  execFileSync(process.execPath, [join(packageRoot()!, 'src', 'common', 'native', 'build.mjs'), '--if-missing'], { stdio: 'inherit' });
  assert.notEqual(nativeAddon(), null, 'the addon is built');
  const dir = await mkdtemp(join(tmpdir(), 'pfs-pagecache-'));
  try {
    const path = join(dir, 'f');
    const fh = await open(path, 'w');
    try {
      await fh.write(Buffer.alloc(4 << 20, 7));
      await fh.sync();
      assert.ok(resident(path) >= 1 << 20, `written pages are cached: ${resident(path)}`);
      // A range (the kernel drops only whole folios inside it, and large folios may span more).
      assert.equal(await dropPageCache(fh.fd, 1 << 20, 1 << 20), true);
      assert.equal(await dropPageCache(fh.fd), true);
      assert.equal(resident(path), 0);
    } finally {
      await fh.close();
    }
    await assert.rejects(dropPageCache(999_999), /errno 9/, 'EBADF is reported');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the local store leaves no page cache behind a put or a get', { skip: reason }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfs-pagecache-'));
  const store = openObjectStore(pathToFileURL(dir).href);
  try {
    const body = Buffer.alloc(3 << 20, 1);
    await store.put('0000000000000001', [body.subarray(0, 1 << 20), body.subarray(1 << 20)]);
    const [name] = await readdir(dir);
    assert.equal(resident(join(dir, name!)), 0, 'put: synced object dropped');
    const got = await store.get('0000000000000001', { offset: 1 << 20, length: 1 << 20 });
    assert.equal(got.length, 1 << 20);
    assert.ok(got.equals(body.subarray(1 << 20, 2 << 20)));
    // The range read is dropped; read-ahead beyond it may stay.
    const res = resident(join(dir, name!));
    assert.ok(res <= 1 << 20, `get: at most read-ahead remains: ${res}`);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
