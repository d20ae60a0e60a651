/**
 * The S3 backend against the real Swift s3api of scripts/swift-aio.sh (test/support/swift.ts),
 * plus the transport failures that need no server: a refused port and a port that never answers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import type { CredentialSource, Credentials, S3Credentials } from '../auth/types.js';
import { deleteContainer, swiftRequest, swiftSkip, useSwift, type SwiftAio } from '../../../test/support/swift.js';
import { runConformance } from './conformance.js';
import { openS3Store, type S3StoreOptions } from './s3.js';

const MiB = 1024 * 1024;
const skip = { skip: swiftSkip() };
const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A CredentialSource handing out fixed credentials; renew() counts calls and moves to `next`. */
function testSource(first: Credentials, next?: Credentials): CredentialSource & { current: Credentials } {
  const stats = { renewals: 0, pluginStarts: 0, pluginFailures: 0 };
  return {
    stats,
    current: first,
    async get() { return this.current; },
    async renew() {
      stats.renewals++;
      if (next) this.current = next;
      return this.current;
    },
    async close() {},
  };
}

function keys(aio: SwiftAio, over: Partial<S3Credentials> = {}): S3Credentials {
  return { kind: 's3', accessKeyId: aio.s3AccessKey, secretAccessKey: aio.s3SecretKey, ...over };
}

function newBucket(): string {
  return `pfs-s3t-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

async function dropBucket(aio: SwiftAio, bucket: string): Promise<void> {
  await deleteContainer(aio, bucket);
  await deleteContainer(aio, `${bucket}+segments`); // multipart segments live beside the bucket
}

function storeOpts(aio: SwiftAio, bucket: string, credentials: CredentialSource, over: Partial<S3StoreOptions> = {}): S3StoreOptions {
  return { bucket, credentials, endpoint: aio.s3Endpoint, region: aio.region, poolSize: 8, timeoutMs: 10_000, create: true, ...over };
}

/** A bucket for one test, always dropped afterwards. */
async function withBucket(fn: (aio: SwiftAio, bucket: string) => Promise<void>): Promise<void> {
  const aio = await useSwift();
  const bucket = newBucket();
  try {
    await fn(aio, bucket);
  } finally {
    await dropBucket(aio, bucket);
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every test needs the server; with PFS_TEST_SWIFT=0 the conformance suite shows as skipped. */
if (swiftSkip()) {
  it('object store conformance: s3 (Swift s3api)', skip, () => {});
} else {
  runConformance('s3 (Swift s3api)', async () => {
    const aio = await useSwift();
    const bucket = newBucket();
    const store = await openS3Store(storeOpts(aio, bucket, testSource(keys(aio))));
    return { store, cleanup: () => dropBucket(aio, bucket) };
  });
}

describe('s3 object store', () => {
  it('puts a list of buffers over the threshold as a multipart upload; bytes match whole and across a part boundary', skip, () => withBucket(async (aio, bucket) => {
    const store = await openS3Store(storeOpts(aio, bucket, testSource(keys(aio)), { multipartThresholdBytes: 16 * MiB, partSizeBytes: 5 * MiB }));
    try {
      // Uneven pieces, so parts both lie inside one piece and span several.
      const sizes = [7 * MiB + 3, 3 * MiB, 1, 12 * MiB - 4, 9 * MiB, 9 * MiB];
      const pieces = sizes.map((n) => randomBytes(n));
      const whole = Buffer.concat(pieces);
      assert.equal(whole.length, 40 * MiB);
      await store.put('mp', pieces);
      assert.equal((await store.head('mp')).sizeBytes, whole.length);
      assert.equal(sha256(await store.get('mp')), sha256(whole));
      const at = 5 * MiB - 1000;
      assert.deepEqual(await store.get('mp', { offset: at, length: 2000 }), whole.subarray(at, at + 2000));
      const last = 35 * MiB - 10;
      assert.deepEqual(await store.get('mp', { offset: last, length: 10 * MiB }), whole.subarray(last));
      // 8 parts of 5 MiB became 8 Swift segments.
      const seg = await swiftRequest(aio, 'GET', `/${bucket}+segments?format=json`);
      assert.equal((JSON.parse(seg.body.toString()) as unknown[]).length, 8);
      await store.delete('mp');
      await assert.rejects(store.get('mp'), code('PFS_ERR_OBJECT_MISSING'));
    } finally {
      await store.close();
    }
  }));

  it('a multipart put aborted by the caller aborts the upload and leaves no parts', skip, () => withBucket(async (aio, bucket) => {
    const store = await openS3Store(storeOpts(aio, bucket, testSource(keys(aio)), { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB }));
    try {
      const ac = new AbortController();
      const put = store.put('mp', [randomBytes(30 * MiB), randomBytes(30 * MiB)], { signal: ac.signal });
      setTimeout(() => ac.abort(), 150);
      await assert.rejects(put, (err: Error) => err.name === 'AbortError');
      const seg = await swiftRequest(aio, 'GET', `/${bucket}+segments?format=json`);
      assert.ok(seg.status === 404 || seg.status === 204 || (JSON.parse(seg.body.toString()) as unknown[]).length === 0, `segments left: ${seg.body.toString().slice(0, 200)}`);
      assert.deepEqual(await keysOf(store), []);
    } finally {
      await store.close();
    }
  }));

  it('deleteMany removes keys in batches; missing keys are fine (needs Content-MD5 on s3api)', skip, () => withBucket(async (aio, bucket) => {
    const store = await openS3Store(storeOpts(aio, bucket, testSource(keys(aio))));
    try {
      for (const k of ['a', 'b', 'c']) await store.put(k, Buffer.from(k));
      await store.deleteMany(['a', 'c', 'never-was']);
      assert.deepEqual(await keysOf(store), ['b']);
      await store.deleteMany([]);
    } finally {
      await store.close();
    }
  }));

  it('list pages with continuation tokens (listPageKeys 2)', skip, () => withBucket(async (aio, bucket) => {
    const store = await openS3Store(storeOpts(aio, bucket, testSource(keys(aio)), { listPageKeys: 2 }));
    try {
      const names = ['a0', 'a1', 'a2', 'a3', 'a4', 'b0'];
      await Promise.all(names.map((k) => store.put(k, Buffer.from(k))));
      assert.deepEqual(await keysOf(store), names);
      const a: string[] = [];
      for await (const info of store.list('a')) a.push(info.key);
      assert.deepEqual(a, names.slice(0, 5));
    } finally {
      await store.close();
    }
  }));

  it('a bad secret fails with PFS_ERR_AUTH after exactly one renewal', skip, async () => {
    const aio = await useSwift();
    const bad = testSource(keys(aio, { secretAccessKey: 'not-the-secret' }));
    await assert.rejects(openS3Store(storeOpts(aio, newBucket(), bad)), (err: Error) => code('PFS_ERR_AUTH')(err) && !err.message.includes('not-the-secret'));
    assert.equal(bad.stats.renewals, 1);
    // The same on an operation (and on a HEAD, whose 403 carries no error code).
    await withBucket(async (_, bucket) => {
      const src = testSource(keys(aio));
      const store = await openS3Store(storeOpts(aio, bucket, src));
      try {
        await store.put('k', Buffer.from('v'));
        src.current = keys(aio, { secretAccessKey: 'not-the-secret' });
        await assert.rejects(store.get('k'), code('PFS_ERR_AUTH'));
        assert.equal(src.stats.renewals, 1);
        await assert.rejects(store.head('k'), code('PFS_ERR_AUTH'));
        assert.equal(src.stats.renewals, 2);
      } finally {
        await store.close();
      }
    });
  });

  it('a renewal that hands out a good key after a bad one succeeds', skip, () => withBucket(async (aio, bucket) => {
    const src = testSource(keys(aio, { secretAccessKey: 'rotated-away' }), keys(aio));
    const store = await openS3Store(storeOpts(aio, bucket, src));
    try {
      assert.equal(src.stats.renewals, 1);
      await store.put('k', Buffer.from('v'));
      assert.equal((await store.get('k')).toString(), 'v');
      assert.equal(src.stats.renewals, 1);
    } finally {
      await store.close();
    }
  }));

  it('a missing bucket without create is PFS_ERR_CONFIG naming the bucket and endpoint', skip, async () => {
    const aio = await useSwift();
    const bucket = newBucket();
    await assert.rejects(openS3Store(storeOpts(aio, bucket, testSource(keys(aio)), { create: false })),
      (err: Error) => code('PFS_ERR_CONFIG')(err) && err.message.includes(bucket) && err.message.includes(aio.s3Endpoint));
  });

  it('a container over its quota is PFS_ERR_OBJECT_STORE_FULL (s3api: 400 EntityTooLarge "Upload exceeds quota.")', skip, () => withBucket(async (aio, bucket) => {
    const store = await openS3Store(storeOpts(aio, bucket, testSource(keys(aio))));
    try {
      const set = await swiftRequest(aio, 'POST', `/${bucket}`, { 'X-Container-Meta-Quota-Bytes': '1000' });
      assert.equal(set.status, 204);
      await store.put('small', Buffer.alloc(600));
      // Over the quota on its own: the proxy checks against cached container usage, which may
      // not count 'small' yet.
      await assert.rejects(store.put('big', Buffer.alloc(2000)), (err: Error) => code('PFS_ERR_OBJECT_STORE_FULL')(err) && /quota/.test(err.message));
    } finally {
      await store.close();
    }
  }));

  it('the endpoint in the credentials wins over opts.endpoint', skip, () => withBucket(async (aio, bucket) => {
    const src = testSource(keys(aio, { endpoint: aio.s3Endpoint }));
    const store = await openS3Store(storeOpts(aio, bucket, src, { endpoint: `http://127.0.0.1:${await closedPort()}` }));
    try {
      await store.put('k', Buffer.from('v'));
      assert.equal((await store.get('k')).toString(), 'v');
      // New credentials pointing elsewhere get a new client.
      src.current = keys(aio, { endpoint: `http://127.0.0.1:${await closedPort()}` });
      await assert.rejects(store.get('k'), code('PFS_ERR_OBJECT_STORE'));
    } finally {
      await store.close();
    }
  }));

  it('Swift credentials for an S3 store are PFS_ERR_CONFIG', async () => {
    const src = testSource({ kind: 'swift', authToken: 'AUTH_tk-secret', storageUrl: 'http://127.0.0.1:1/v1/AUTH_x' });
    await assert.rejects(openS3Store({ bucket: 'b', credentials: src, endpoint: 'http://127.0.0.1:1', poolSize: 1, timeoutMs: 1000 }),
      (err: Error) => code('PFS_ERR_CONFIG')(err) && /swift credentials/i.test(err.message) && !err.message.includes('tk-secret'));
  });

  it('an unreachable endpoint is PFS_ERR_OBJECT_STORE', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const src = testSource({ kind: 's3', accessKeyId: 'AKIDTEST', secretAccessKey: 'sekrit' });
    await assert.rejects(openS3Store({ bucket: 'b', credentials: src, endpoint, poolSize: 1, timeoutMs: 2000 }),
      (err: Error) => code('PFS_ERR_OBJECT_STORE')(err) && err.message.includes('ECONNREFUSED') && !err.message.includes('sekrit'));
    assert.equal(src.stats.renewals, 0);
  });

  it('a server that accepts and never answers is PFS_ERR_OBJECT_STORE within about timeoutMs', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    const port = await listen(server);
    try {
      const src = testSource({ kind: 's3', accessKeyId: 'AKIDTEST', secretAccessKey: 'sekrit' });
      const t0 = Date.now();
      await assert.rejects(openS3Store({ bucket: 'b', credentials: src, endpoint: `http://127.0.0.1:${port}`, poolSize: 1, timeoutMs: 400 }),
        code('PFS_ERR_OBJECT_STORE'));
      const ms = Date.now() - t0;
      assert.ok(ms >= 350 && ms < 2000, `took ${ms} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('bad options are PFS_ERR_CONFIG', async () => {
    const src = testSource({ kind: 's3', accessKeyId: 'a', secretAccessKey: 'b' });
    const base = { bucket: 'b', credentials: src, endpoint: 'http://127.0.0.1:1', poolSize: 1, timeoutMs: 1000 };
    await assert.rejects(openS3Store({ ...base, partSizeBytes: 4 * MiB }), code('PFS_ERR_CONFIG'));
    await assert.rejects(openS3Store({ ...base, poolSize: 0 }), code('PFS_ERR_CONFIG'));
    await assert.rejects(openS3Store({ ...base, bucket: '' }), code('PFS_ERR_CONFIG'));
  });

  it('the SDK NodeVersionSupportWarning is silenced, and only while a client is made', async () => {
    const url = new URL('./s3.js', import.meta.url).href;
    const script = `
      const { openS3Store } = await import(${JSON.stringify(url)});
      const src = { stats: {}, get: async () => ({ kind: 's3', accessKeyId: 'a', secretAccessKey: 'b' }), renew: async (c) => c, close: async () => {} };
      await openS3Store({ bucket: 'b', credentials: src, endpoint: 'http://127.0.0.1:1', poolSize: 1, timeoutMs: 1000 }).catch(() => {});
      console.log(JSON.stringify(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? null));
      process.emitWarning('another warning');`;
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    assert.equal(stdout.trim(), 'null');
    assert.doesNotMatch(stderr, /NodeVersionSupportWarning/);
    assert.match(stderr, /another warning/);
  });
});

async function keysOf(store: { list(prefix: string): AsyncIterable<{ key: string }> }): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list('')) out.push(info.key);
  return out;
}
