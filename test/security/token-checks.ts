/**
 * Issue 17, object-store tokens checked at Mount and periodically (docs/SECURITY.md §4.1), against
 * the real test Swift, for a swift:// or an s3:// volume (token-swift.test.ts, token-s3.test.ts
 * run these with their backend):
 * - a raw client mounting with no token, a garbage one, or one for another place is refused with
 *   PFS_ERR_AUTH_TOKEN_REJECTED (and the token never shows in proxyfsd's log);
 * - a mount whose token stops working (a tempauth token expires after token_life 5 s; an S3
 *   presigned request after its X-Amz-Expires) loses its rights at the next periodic check, and
 *   gets them back with RenewMount;
 * - a real agent mounts, `cp` and `cat` work while its token expires and while proxyfsd restarts
 *   (it forgets every token): the agent renews through its plug-in and the programs see no error.
 *
 * Reproduce: make build && node scripts/run-tests.mjs token-swift token-s3
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ROOT_INO } from '../../src/common/protocol/index.js';
import { makeAuthToken, parseStoreUrl } from '../../src/common/objectstore/index.js';
import { newS3Client } from '../../src/common/objectstore/s3.js';
import type { S3Credentials } from '../../src/common/auth/index.js';
import { call, rpcClient } from '../support/rpc-agent.js';
import { rawRpc } from '../support/raw-rpc.js';
import { startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';
import { q, sh, startMount } from '../support/agent.js';
import { tempauthLogin, useSwift, type SwiftAio } from '../support/swift.js';

type Remote = 'swift' | 's3';

const s3Keys = (aio: SwiftAio): S3Credentials => ({ kind: 's3', accessKeyId: aio.s3AccessKey, secretAccessKey: aio.s3SecretKey, endpoint: aio.s3Endpoint, region: aio.region });

/** A token for the volume of srv, as a well-behaved agent makes it; S3: living `seconds`. */
async function goodToken(backend: Remote, aio: SwiftAio, srv: ProxyfsdHandle, seconds?: number): Promise<string> {
  if (backend === 'swift') return (await tempauthLogin(aio)).authToken;
  const where = parseStoreUrl(srv.objectStoreUrl) as { kind: 's3'; bucket: string };
  if (seconds === undefined) return makeAuthToken(s3Keys(aio), where);
  const client = newS3Client(s3Keys(aio), { endpoint: aio.s3Endpoint, region: aio.region });
  try {
    return await getSignedUrl(client, new HeadBucketCommand({ Bucket: where.bucket }), { expiresIn: seconds });
  } finally {
    client.destroy();
  }
}

/** Secrets that must never appear in a log: tempauth tokens, S3 signatures. */
const SECRET = /AUTH_tk[0-9a-f]{8}|X-Amz-Signature|garbage-token-value/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tokenTests(backend: Remote): void {
  test(`${backend}: Mount with no token, a garbage one or one for another place is refused; a good one works`, { timeout: 30_000 }, async () => {
    const aio = await useSwift();
    const srv = await startProxyfsd({ backend });
    try {
      const other = backend === 'swift'
        ? 'AUTH_tk00000000000000000000000000000000'
        : (await goodToken(backend, aio, srv)).replace(/^http:\/\/127\.0\.0\.1:\d+/, 'http://127.0.0.2:9');
      const r = await rawRpc(srv.port, {
        clientId: `raw-${backend}`,
        calls: [
          { method: 'DescribeVolume', params: { volume: srv.volume } },
          { method: 'Mount', params: { volume: srv.volume } },
          { method: 'Mount', params: { volume: srv.volume, authToken: 'garbage-token-value' } },
          { method: 'Mount', params: { volume: srv.volume, authToken: other } },
          { method: 'Mount', params: { volume: srv.volume, authToken: await goodToken(backend, aio, srv) } },
        ],
      });
      assert.deepEqual(r.replies[0], { result: { objectStoreUrl: srv.objectStoreUrl, authTokenRequired: true } });
      for (const reply of r.replies.slice(1, 4)) {
        assert.ok('error' in reply, JSON.stringify(reply));
        assert.equal(reply.error.code, 'PFS_ERR_AUTH_TOKEN_REJECTED');
      }
      assert.match((r.replies[1] as { error: { message: string } }).error.message, /needs an authToken/);
      const ok = r.replies[4] as { result: { mountId: string; authTokenCheckPeriodMs: number } };
      assert.equal(typeof ok.result?.mountId, 'string', JSON.stringify(r.replies[4]));
      assert.equal(ok.result.authTokenCheckPeriodMs, 60_000);
      assert.match(srv.stderr(), /auth token rejected/);
      assert.doesNotMatch(srv.stderr(), SECRET);
    } finally {
      await srv.stop();
      await srv.cleanup();
    }
  });

  test(`${backend}: a token that stops working ends the mount's rights at the next check; RenewMount restores them`, { timeout: 30_000 }, async () => {
    const aio = await useSwift();
    const srv = await startProxyfsd({ backend, volumeKeys: 'AuthTokenCheckPeriod: 1s' });
    const c = rpcClient(srv.port);
    try {
      // Swift: tempauth tokens live token_life (5 s); S3: a presigned request living 2 s.
      let mountId: string | undefined;
      for (let attempt = 0; !mountId; attempt++) {
        try {
          mountId = (await call(c, 'Mount', { volume: srv.volume, authToken: await goodToken(backend, aio, srv, 2) })).mountId;
        } catch (err) {
          if (attempt > 0 || (err as { code?: string }).code !== 'PFS_ERR_AUTH_TOKEN_REJECTED') throw err; // expired in between
        }
      }
      const started = Date.now();
      let refused: { code?: string; message: string } | undefined;
      while (!refused && Date.now() - started < 15_000) {
        try {
          await call(c, 'GetAttr', { mountId, cred: { uid: 0, gid: 0, groups: [] }, ino: ROOT_INO });
        } catch (err) {
          refused = err as { code?: string; message: string };
        }
        await sleep(200);
      }
      assert.equal(refused?.code, 'PFS_ERR_AUTH_TOKEN_REJECTED', `refused within 15 s: ${refused?.message}`);
      await assert.rejects(call(c, 'Mkdir', { mountId, cred: { uid: 0, gid: 0, groups: [] }, parent: ROOT_INO, name: 'd', mode: 0o755, umask: 0 }), { code: 'PFS_ERR_AUTH_TOKEN_REJECTED' });
      await assert.rejects(call(c, 'RenewMount', { mountId, authToken: 'garbage-token-value' }), { code: 'PFS_ERR_AUTH_TOKEN_REJECTED' });
      await call(c, 'RenewMount', { mountId, authToken: await goodToken(backend, aio, srv) });
      assert.equal((await call(c, 'GetAttr', { mountId, cred: { uid: 0, gid: 0, groups: [] }, ino: ROOT_INO })).ino, ROOT_INO);
      assert.match(srv.stderr(), /auth token rejected/);
      assert.doesNotMatch(srv.stderr(), SECRET);
      await call(c, 'Unmount', { mountId });
    } finally {
      await c.close(0);
      await srv.stop();
      await srv.cleanup();
    }
  });

  test(`${backend}: a real agent renews its token through its plug-in; cp and cat see no error, also across a proxyfsd restart`, { timeout: 60_000 }, async () => {
    await useSwift();
    const srv = await startProxyfsd({ backend, volumeKeys: 'AuthTokenCheckPeriod: 1s' });
    const m = await startMount({ proxyfsd: srv, agentConf: { TraceEnabled: 'false' } });
    try {
      const src = `${m.dir}/src`;
      await sh(`head -c 300000 /dev/urandom > ${q(src)}`);
      // Swift: the agent's token expires every 5 s (token_life) and proxyfsd checks every second.
      const until = Date.now() + (backend === 'swift' ? 8_000 : 2_000);
      let n = 0;
      while (Date.now() < until) {
        await sh(`cp ${q(src)} ${q(`${m.mnt}/f${n}`)} && cmp ${q(src)} ${q(`${m.mnt}/f${n}`)}`, { timeoutMs: 20_000 });
        n++;
        await sleep(500);
      }
      await srv.stop();
      await srv.restart(); // every token forgotten
      await sh(`cat ${q(`${m.mnt}/f0`)} > /dev/null && cp ${q(src)} ${q(`${m.mnt}/after`)} && cmp ${q(src)} ${q(`${m.mnt}/after`)}`, { timeoutMs: 25_000 });
      const ls = await sh(`ls ${q(m.mnt)} | wc -l`);
      assert.equal(Number(ls.stdout.trim()), n + 1);
      assert.match(m.stderr(), /object-store token renewed/);
      if (backend === 'swift') assert.match(srv.stderr(), /auth token rejected/);
      assert.doesNotMatch(m.stderr() + srv.stderr(), SECRET);
      await m.stop();
    } finally {
      await m.cleanup();
      await srv.cleanup();
    }
  });
}
