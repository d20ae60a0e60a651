/**
 * proxyfsd's check of agents' object-store tokens (token-check.ts) against a tiny local HTTP
 * server standing in for the store: what reaches it, what never does, and the verdicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CredentialSource, Credentials } from '../auth/types.js';
import { makeAuthToken } from './auth-token.js';
import { createTokenChecker, presignedRequestFor } from './token-check.js';

interface Hit { method?: string; url?: string; token?: string }

/** A store stand-in answering every request with `status()`; records what reached it. */
async function fakeStore(status: () => number = () => 200) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    hits.push({ method: req.method, url: req.url, token: req.headers['x-auth-token'] as string | undefined });
    res.writeHead(status()).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { hits, base, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function fixed(creds: Credentials): CredentialSource {
  return {
    stats: { renewals: 0, pluginStarts: 0, pluginFailures: 0 },
    get: async () => creds,
    renew: async () => creds,
    close: async () => {},
  };
}

const s3Keys = (endpoint: string): Credentials => ({ kind: 's3', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG', endpoint });

test('a Swift token is tried with a HEAD of proxyfsd\'s own container URL, and the status decides', async () => {
  let answer = 204;
  const store = await fakeStore(() => answer);
  const checker = createTokenChecker({ where: { kind: 'swift', container: 'vol 1' }, credentials: fixed({ kind: 'swift', authToken: 'server-own', storageUrl: `${store.base}/v1/AUTH_test/` }), timeoutMs: 2000 });
  try {
    assert.deepEqual(await checker.check('AUTH_tk123'), { result: 'valid' });
    assert.deepEqual(store.hits, [{ method: 'HEAD', url: '/v1/AUTH_test/vol%201', token: 'AUTH_tk123' }]);
    answer = 401;
    assert.equal((await checker.check('AUTH_tk123')).result, 'rejected');
    answer = 403;
    assert.equal((await checker.check('AUTH_tk123')).result, 'rejected');
    for (answer of [404, 500, 503]) assert.equal((await checker.check('AUTH_tk123')).result, 'unverified', `status ${answer}`);
    const before = store.hits.length;
    const bad = await checker.check('AUTH_tk\r\nX-Injected: 1');
    assert.equal(bad.result, 'rejected', 'a token that is no header value is refused without a request');
    assert.equal(store.hits.length, before);
    assert.ok(!JSON.stringify(bad).includes('Injected'), 'the verdict never repeats the token');
  } finally {
    checker.close();
    await store.close();
  }
});

test('a store that cannot be reached is not a rejection', async () => {
  const store = await fakeStore();
  await store.close(); // nothing listens there any more
  const checker = createTokenChecker({ where: { kind: 'swift', container: 'c' }, credentials: fixed({ kind: 'swift', authToken: 'x', storageUrl: `${store.base}/v1/AUTH_test` }), timeoutMs: 2000 });
  try {
    assert.equal((await checker.check('AUTH_tk')).result, 'unverified');
  } finally {
    checker.close();
  }
});

test('an S3 presigned HEAD bucket at the volume\'s endpoint is tried; 200 valid, 403 and 400 rejected, 503 unverified', async () => {
  let answer = 200;
  const store = await fakeStore(() => answer);
  const checker = createTokenChecker({ where: { kind: 's3', bucket: 'vol-bucket' }, credentials: fixed(s3Keys(store.base)), timeoutMs: 2000 });
  try {
    const token = await makeAuthToken(s3Keys(store.base), { kind: 's3', bucket: 'vol-bucket' });
    assert.match(token, /^http:\/\/127\.0\.0\.1:\d+\/vol-bucket\/?\?/);
    assert.ok(!token.includes('wJalrXUtnFEMI'), 'the secret key never leaves the agent');
    assert.deepEqual(await checker.check(token), { result: 'valid' });
    assert.equal(store.hits[0]!.method, 'HEAD');
    assert.equal(store.hits[0]!.url, token.slice(store.base.length), 'exactly the presigned request');
    answer = 403;
    assert.equal((await checker.check(token)).result, 'rejected');
    answer = 400;
    assert.equal((await checker.check(token)).result, 'rejected');
    answer = 503;
    assert.equal((await checker.check(token)).result, 'unverified');
  } finally {
    checker.close();
    await store.close();
  }
});

test('a presigned URL naming another host, port, scheme, bucket, path or parameters is refused without any request', async () => {
  const store = await fakeStore();
  const other = await fakeStore(); // must not be hit either
  const checker = createTokenChecker({ where: { kind: 's3', bucket: 'vol-bucket' }, credentials: fixed(s3Keys(store.base)), timeoutMs: 2000 });
  try {
    const good = await makeAuthToken(s3Keys(store.base), { kind: 's3', bucket: 'vol-bucket' });
    const query = good.slice(good.indexOf('?'));
    const port = new URL(store.base).port;
    const otherPort = new URL(other.base).port;
    const bad = [
      await makeAuthToken(s3Keys(other.base), { kind: 's3', bucket: 'vol-bucket' }), // another port
      `http://localhost:${port}/vol-bucket${query}`,                  // another host name
      `https://127.0.0.1:${port}/vol-bucket${query}`,                 // another scheme
      `http://127.0.0.1:${otherPort}/vol-bucket${query}`,
      `http://169.254.169.254/latest/meta-data/${query}`,
      await makeAuthToken(s3Keys(store.base), { kind: 's3', bucket: 'other-bucket' }),
      `${store.base}/vol-bucket/some-object${query}`,                  // an object, not the bucket
      `${store.base}/vol-bucket/../admin${query}`,
      `${store.base}/vol-bucket${query}&list-type=2`,                 // a parameter presigning does not make
      `${store.base}/vol-bucket${query}&X-Amz-Date=20200101T000000Z`, // a parameter twice
      `${store.base}/vol-bucket${query.replace(/X-Amz-Signature=[^&]*&?/, '')}`,
      `${store.base}/vol-bucket${query.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800')}`, // lives a week
      `${store.base}/vol-bucket${query.replace(/X-Amz-Date=[^&]*/, 'X-Amz-Date=20200101T000000Z')}`, // expired
      `http://user:pw@127.0.0.1:${port}/vol-bucket${query}`,
      'file:///etc/passwd',
      'not a url at all',
    ];
    for (const token of bad) {
      const verdict = await checker.check(token);
      assert.equal(verdict.result, 'rejected', token);
    }
    assert.equal(store.hits.length, 0, 'the volume\'s endpoint was not asked');
    assert.equal(other.hits.length, 0, 'nor the place an agent named');
  } finally {
    checker.close();
    await store.close();
    await other.close();
  }
});

test('presignedRequestFor: endpoint paths and default ports', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const q = '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=20260101T115900Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=ab&x-id=HeadBucket';
  assert.ok(presignedRequestFor(`https://s3.us-east-1.amazonaws.com/b-1${q}`, new URL('https://s3.us-east-1.amazonaws.com'), 'b-1', now) instanceof URL);
  assert.ok(presignedRequestFor(`https://s3.us-east-1.amazonaws.com:443/b-1${q}`, new URL('https://s3.us-east-1.amazonaws.com'), 'b-1', now) instanceof URL);
  assert.ok(presignedRequestFor(`http://h:8080/s3/b-1${q}`, new URL('http://h:8080/s3/'), 'b-1', now) instanceof URL);
  assert.equal(typeof presignedRequestFor(`http://h:8080/b-1${q}`, new URL('http://h:8080/s3'), 'b-1', now), 'string');
  assert.equal(typeof presignedRequestFor(`https://s3.us-east-1.amazonaws.com/b-1${q}`, new URL('https://s3.us-east-1.amazonaws.com'), 'b-1', now + 3600_000), 'string', 'expired');
  assert.equal(typeof presignedRequestFor(`https://s3.us-east-1.amazonaws.com/b-1${q}`, new URL('https://s3.us-east-1.amazonaws.com'), 'b-1', now - 3600_000), 'string', 'dated in the future');
});
