/**
 * The Swift backend against the real one-node Swift of scripts/swift-aio.sh (tempauth, short
 * tokens so that renewals happen), plus tests against local fake servers for what a healthy
 * Swift never does (hangs, refused connections, odd statuses); those need no Swift.
 * PFS_TEST_SWIFT=0 skips the real-Swift tests explicitly.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { deleteContainer, swiftRequest, swiftSkip, tempauthCredentials, useSwift } from '../../../test/support/swift.js';
import type { CredentialSource, Credentials } from '../auth/types.js';
import { runConformance } from './conformance.js';
import { openSwiftStore, type SwiftStoreOptions } from './swift.js';

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;
let serial = 0;
const freshName = (): string => `pfs-t-${process.pid}-${Date.now().toString(36)}-${serial++}`;

async function freshStore(extra: Partial<SwiftStoreOptions> = {}) {
  const aio = await useSwift();
  const credentials = tempauthCredentials(aio);
  const container = freshName();
  const store = await openSwiftStore({ container, credentials, poolSize: 8, timeoutMs: 30_000, create: true, ...extra });
  const cleanup = async (): Promise<void> => {
    await credentials.close();
    await deleteContainer(aio, container);
  };
  return { aio, credentials, container, store, cleanup };
}

/** Always the same credentials; renew() hands them back (so a refused token stays refused). */
function staticCredentials(storageUrl: string, authToken = 'AUTH_tk-static'): CredentialSource & { renewCalls: number } {
  const creds: Credentials = { kind: 'swift', authToken, storageUrl };
  const src = {
    renewCalls: 0,
    stats: { renewals: 0, pluginStarts: 0, pluginFailures: 0 },
    get: async () => creds,
    renew: async () => {
      src.renewCalls++;
      return creds;
    },
    close: async () => {},
  };
  return src;
}

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return (server.address() as { port: number }).port;
}

/** A TCP server that accepts and never answers, except as `answer` says. */
async function hangingServer(answer: (request: string, socket: Socket) => void = () => {}) {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => answer(d.toString('latin1'), s));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/v1/AUTH_fake`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((res) => server.close(() => res()));
    },
  };
}

const answerHead = (request: string, socket: Socket): void => {
  if (request.startsWith('HEAD ')) socket.write('HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n');
};

async function timed<T>(p: Promise<T>): Promise<{ ms: number; err: unknown }> {
  const t0 = performance.now();
  try {
    await p;
    return { ms: performance.now() - t0, err: undefined };
  } catch (err) {
    return { ms: performance.now() - t0, err };
  }
}

if (swiftSkip()) {
  it('object store conformance: swift', { skip: swiftSkip() }, () => {});
} else {
  runConformance('swift', async () => {
    const { store, cleanup } = await freshStore();
    return { store, cleanup };
  });
}

describe('swift object store against the real Swift', { skip: swiftSkip(), timeout: 120_000 }, () => {
  it('renews expired tokens on 401 and nothing fails', async (t) => {
    const { aio, credentials, store, cleanup } = await freshStore();
    try {
      const runMs = Math.max(12_000, aio.tokenLifeSeconds * 2400);
      const t0 = Date.now();
      let ops = 0;
      for (let round = 0; Date.now() - t0 < runMs; round++) {
        const bodies = Array.from({ length: 4 }, () => randomBytes(4096));
        await Promise.all(bodies.map((b, i) => store.put(`t${round}-${i}`, b)));
        const got = await Promise.all(bodies.map((_, i) => store.get(`t${round}-${i}`)));
        got.forEach((g, i) => assert.deepEqual(g, bodies[i]));
        ops += 8;
        await new Promise((r) => setTimeout(r, 150));
      }
      const expected = Math.floor(runMs / 1000 / aio.tokenLifeSeconds) - 1;
      t.diagnostic(`${credentials.stats.renewals} renewals, ${ops} operations in ${Date.now() - t0} ms, token_life ${aio.tokenLifeSeconds} s`);
      assert.ok(credentials.stats.renewals >= expected, `${credentials.stats.renewals} renewals in ${runMs} ms with token_life ${aio.tokenLifeSeconds}s (${ops} ops)`);
      assert.equal(credentials.stats.pluginFailures, 0);
    } finally {
      await store.close();
      await cleanup();
    }
  });

  it('a token Swift refuses even after renewal is PFS_ERR_AUTH, and the message hides it', async () => {
    const aio = await useSwift();
    const token = 'AUTH_tk0123456789abcdef0123456789abcdef';
    const credentials = staticCredentials(aio.storageUrl, token);
    await assert.rejects(openSwiftStore({ container: freshName(), credentials, poolSize: 2, timeoutMs: 10_000, create: true }), (err: Error) => {
      assert.equal((err as { code?: string }).code, 'PFS_ERR_AUTH');
      assert.ok(!err.message.includes(token), err.message);
      return true;
    });
    assert.equal(credentials.renewCalls, 1);
  });

  it('a container over its quota makes put fail with PFS_ERR_OBJECT_STORE_FULL', async () => {
    const { aio, container, store, cleanup } = await freshStore();
    try {
      const post = await swiftRequest(aio, 'POST', `/${container}`, { 'X-Container-Meta-Quota-Bytes': '1000' });
      assert.equal(post.status, 204);
      await assert.rejects(store.put('big', randomBytes(2000)), code('PFS_ERR_OBJECT_STORE_FULL'));
      await store.put('small', randomBytes(500));
      assert.equal((await store.head('small')).sizeBytes, 500);
    } finally {
      await store.close();
      await cleanup();
    }
  });

  it('a missing container without create is PFS_ERR_CONFIG naming the storage URL', async () => {
    const aio = await useSwift();
    const credentials = tempauthCredentials(aio);
    const container = freshName();
    await assert.rejects(openSwiftStore({ container, credentials, poolSize: 2, timeoutMs: 10_000 }), (err: Error) => {
      assert.equal((err as { code?: string }).code, 'PFS_ERR_CONFIG');
      assert.ok(err.message.includes(container) && err.message.includes(aio.storageUrl) && err.message.includes('format the volume'), err.message);
      return true;
    });
    await credentials.close();
  });

  it('50 concurrent puts then gets through a pool of 4 sockets keep every byte', async () => {
    const { store, cleanup } = await freshStore({ poolSize: 4 });
    try {
      const bodies = Array.from({ length: 50 }, (_, i) => [randomBytes(16 * 1024 + i), randomBytes(100)]);
      await Promise.all(bodies.map((pieces, i) => store.put(`c${String(i).padStart(2, '0')}`, pieces)));
      const got = await Promise.all(bodies.map((_, i) => store.get(`c${String(i).padStart(2, '0')}`)));
      got.forEach((g, i) => assert.deepEqual(g, Buffer.concat(bodies[i]!)));
      let n = 0;
      for await (const info of store.list('c')) n += info.sizeBytes > 16 * 1024 ? 1 : 0;
      assert.equal(n, 50);
    } finally {
      await store.close();
      await cleanup();
    }
  });

  it('keys with spaces, unicode, + and ? round-trip and list as they are', async () => {
    const { store, cleanup } = await freshStore();
    try {
      const keys = ['a b', 'ä€😀', 'x+y', 'q?r=1&s', '100%'];
      for (const k of keys) await store.put(k, Buffer.from(k));
      for (const k of keys) assert.equal((await store.get(k)).toString(), k);
      const listed: string[] = [];
      for await (const info of store.list('')) listed.push(info.key);
      assert.deepEqual(listed, [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    } finally {
      await store.close();
      await cleanup();
    }
  });
});

describe('swift object store against fake servers', { timeout: 60_000 }, () => {
  it('a server that never answers: PFS_ERR_OBJECT_STORE after about timeoutMs, body included', async () => {
    const timeoutMs = 400;
    const silent = await hangingServer();
    const headOnly = await hangingServer(answerHead);
    const halfBody = await hangingServer((req, s) => {
      if (req.startsWith('HEAD ')) answerHead(req, s);
      else if (req.startsWith('GET ')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
    });
    try {
      const open = (url: string) => openSwiftStore({ container: 'c', credentials: staticCredentials(url), poolSize: 2, timeoutMs });
      const attempts = [timed(open(silent.url))];
      const store = await open(headOnly.url);
      const partial = await open(halfBody.url);
      attempts.push(timed(store.get('k')), timed(store.put('k', [randomBytes(1 << 20), randomBytes(10)])), timed(partial.get('k')));
      for (const { ms, err } of await Promise.all(attempts)) {
        assert.ok(code('PFS_ERR_OBJECT_STORE')(err), String(err));
        assert.ok(ms >= timeoutMs - 50 && ms < timeoutMs + 1500, `${ms} ms`);
      }
      const aborted = await timed(store.get('k', undefined, { signal: AbortSignal.timeout(50) }));
      assert.equal((aborted.err as Error).name, 'TimeoutError');
      assert.ok(aborted.ms < timeoutMs, `${aborted.ms} ms`);
      await store.close();
      await partial.close();
    } finally {
      await Promise.all([silent.close(), headOnly.close(), halfBody.close()]);
    }
  });

  it('an unreachable port is PFS_ERR_OBJECT_STORE', async () => {
    const s = createServer();
    const port = await listen(s);
    await new Promise((r) => s.close(r));
    const credentials = staticCredentials(`http://127.0.0.1:${port}/v1/AUTH_x`);
    await assert.rejects(openSwiftStore({ container: 'c', credentials, poolSize: 1, timeoutMs: 5000 }), code('PFS_ERR_OBJECT_STORE'));
  });

  it('statuses become PfsError codes; put sends Content-Length and the md5 ETag', async () => {
    const seen: { method?: string; url?: string; etag?: string; length?: string; md5?: string }[] = [];
    let unauthorized = 0;
    const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      const md5 = createHash('md5');
      req.on('data', (d: Buffer) => md5.update(d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, etag: req.headers.etag, length: req.headers['content-length'], md5: md5.digest('hex') });
        const status = Number(/\/s(\d{3})$/.exec(req.url ?? '')?.[1] ?? (req.method === 'PUT' ? 201 : 204));
        if (status === 401) unauthorized++;
        res.writeHead(status, { 'Content-Length': 0 }).end();
      });
    });
    const port = await listen(server);
    const credentials = staticCredentials(`http://127.0.0.1:${port}/v1/AUTH_fake`, 'AUTH_tksecret');
    const store = await openSwiftStore({ container: 'c c', credentials, poolSize: 2, timeoutMs: 5000 });
    try {
      await store.put('a/b', [Buffer.from('hello '), Buffer.from('world')]);
      const put = seen.find((s) => s.method === 'PUT')!;
      assert.equal(put.url, '/v1/AUTH_fake/c%20c/a%2Fb');
      assert.equal(put.length, '11');
      assert.equal(put.etag, createHash('md5').update('hello world').digest('hex'));
      assert.equal(put.md5, put.etag);
      const cases: [string, string][] = [
        ['s507', 'PFS_ERR_OBJECT_STORE_FULL'], ['s413', 'PFS_ERR_OBJECT_STORE_FULL'], ['s403', 'PFS_ERR_OBJECT_STORE_REJECTED'],
        ['s422', 'PFS_ERR_OBJECT_STORE'], ['s500', 'PFS_ERR_OBJECT_STORE'], ['s503', 'PFS_ERR_OBJECT_STORE'], ['s401', 'PFS_ERR_AUTH'],
      ];
      for (const [key, c] of cases) {
        await assert.rejects(store.put(key, Buffer.from('x')), (err: Error) => code(c)(err) && err.message.includes(`PUT c c/${key}`) && !err.message.includes('AUTH_tksecret'), key);
      }
      assert.equal(unauthorized, 2);
      assert.equal(credentials.renewCalls, 1);
      await assert.rejects(store.get('s404'), code('PFS_ERR_OBJECT_MISSING'));
      await assert.rejects(store.head('s404'), code('PFS_ERR_OBJECT_MISSING'));
      await store.delete('s404');
      assert.equal((await store.get('s416', { offset: 5, length: 5 })).length, 0);
    } finally {
      await store.close();
      await new Promise((r) => server.close(r));
    }
  });
});
