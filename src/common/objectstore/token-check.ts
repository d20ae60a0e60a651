/**
 * proxyfsd's side of the object-store token rule (docs/SECURITY.md §4.1): tries an agent's
 * authToken against the volume's store, always at the location of proxyfsd's own configuration.
 * - Swift: HEAD <StorageURL>/<container> with the token as X-Auth-Token; the storage URL comes
 *   from proxyfsd's own plug-in, the container from ObjectStoreURL.
 * - S3: the token is a presigned HEAD of the bucket. It is tried only when its scheme, host and
 *   port are the volume endpoint's, its path is exactly /<bucket> (or /<bucket>/), its query holds only SigV4
 *   presigning parameters, and it is current and lives at most PRESIGN_MAX_SECONDS; anything else
 *   is rejected without a request, so an agent cannot make proxyfsd fetch an address it chose.
 * Verdicts: 2xx valid; 401, 403 (S3 also 400: a malformed signature) rejected; anything else,
 * and any failure to ask (proxyfsd's plug-in, the network, a timeout), unverified: the store could
 * not say, which is not a rejection. Redirects are never followed. Nothing here logs or puts the
 * token in a message.
 */
import http from 'node:http';
import https from 'node:https';
import type { CredentialSource } from '../auth/types.js';
import { s3Target } from './s3.js';
import type { StoreLocation } from './url.js';

export type TokenVerdict =
  | { result: 'valid' }
  | { result: 'rejected'; why: string }
  | { result: 'unverified'; why: string };

export interface TokenChecker {
  /** Tries `token` against the store. Never rejects. */
  check(token: string): Promise<TokenVerdict>;
  close(): void;
}

export interface TokenCheckerOptions {
  where: Extract<StoreLocation, { kind: 'swift' | 's3' }>;
  /** proxyfsd's own credentials for the volume: where the store is (StorageURL, Endpoint, Region). */
  credentials: CredentialSource;
  /** Deadline of one check. */
  timeoutMs: number;
  nowMs?: () => number;
}

/** Longest life of a presigned token accepted (X-Amz-Expires). */
export const PRESIGN_MAX_SECONDS = 3600;
/** How far ahead of proxyfsd's clock a presigned token's X-Amz-Date may be (clock skew). */
const CLOCK_SKEW_MS = 15 * 60_000;
const PRESIGN_PARAMS = new Set([
  'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature',
  'X-Amz-Security-Token', 'X-Amz-Content-Sha256', 'x-id',
]);
const REQUIRED_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];

export function createTokenChecker(opts: TokenCheckerOptions): TokenChecker {
  const { where, credentials, timeoutMs } = opts;
  const nowMs = opts.nowMs ?? Date.now;
  const agentOpts = { keepAlive: true, maxSockets: 8 };
  const agents = { 'http:': new http.Agent(agentOpts), 'https:': new https.Agent(agentOpts) };

  async function target(token: string): Promise<{ url: URL; headers: Record<string, string> } | string> {
    const creds = await credentials.get({ signal: AbortSignal.timeout(timeoutMs) });
    if (where.kind === 'swift') {
      if (creds.kind !== 'swift') throw new Error(`proxyfsd's plug-in gave ${creds.kind} credentials for a Swift volume`);
      if (!/^[\x21-\x7e]{1,16384}$/.test(token)) return 'not a Swift token (visible ASCII characters expected)';
      return { url: new URL(`${creds.storageUrl.replace(/\/+$/, '')}/${encodeURIComponent(where.container)}`), headers: { 'X-Auth-Token': token } };
    }
    if (creds.kind !== 's3') throw new Error(`proxyfsd's plug-in gave ${creds.kind} credentials for an S3 volume`);
    const { endpoint, region } = s3Target(creds, where);
    const url = presignedRequestFor(token, new URL(endpoint ?? `https://s3.${region}.amazonaws.com`), where.bucket, nowMs());
    return typeof url === 'string' ? url : { url, headers: {} };
  }

  return {
    async check(token) {
      let t: Awaited<ReturnType<typeof target>>;
      try {
        t = await target(token);
      } catch (err) {
        return { result: 'unverified', why: `proxyfsd could not tell where the store is: ${(err as Error).message}` };
      }
      if (typeof t === 'string') return { result: 'rejected', why: t };
      let status: number;
      try {
        status = await headStatus(t.url, t.headers, agents, timeoutMs);
      } catch (err) {
        return { result: 'unverified', why: `the store did not answer: ${(err as Error).message}` };
      }
      if (status >= 200 && status <= 299) return { result: 'valid' };
      if (status === 401 || status === 403 || (where.kind === 's3' && status === 400)) return { result: 'rejected', why: `the store answered ${status}` };
      return { result: 'unverified', why: `the store answered ${status}` };
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

/**
 * The request a presigned S3 token stands for, when it is a presigned HEAD of exactly `bucket`
 * at `endpoint` (path style) that is current; otherwise why not (the token is then rejected
 * without any request). Never echoes the token.
 */
export function presignedRequestFor(token: string, endpoint: URL, bucket: string, nowMs: number): URL | string {
  let url: URL;
  try {
    url = new URL(token);
  } catch {
    return 'not a URL (an S3 volume needs a presigned HEAD of its bucket)';
  }
  const portOf = (u: URL) => u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
  if (url.protocol !== endpoint.protocol || url.hostname !== endpoint.hostname || portOf(url) !== portOf(endpoint)) {
    return `a presigned request for another place than the volume's endpoint ${endpoint.protocol}//${endpoint.host}`;
  }
  if (url.username || url.password || url.hash) return 'a presigned URL with user information or a fragment';
  const path = `${endpoint.pathname.replace(/\/+$/, '')}/${bucket}`;
  if (url.pathname !== path && url.pathname !== `${path}/`) return `a presigned request for another path than the volume's bucket ${path}`;
  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (!PRESIGN_PARAMS.has(name)) return `a presigned URL with a query parameter that presigning does not make (${name.slice(0, 40)})`;
    if (seen.has(name)) return `a presigned URL with ${name} twice`;
    seen.add(name);
  }
  for (const name of REQUIRED_PARAMS) if (!seen.has(name)) return `a presigned URL without ${name}`;
  const q = url.searchParams;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'a presigned URL not signed with AWS4-HMAC-SHA256';
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date')!);
  const expires = Number(q.get('X-Amz-Expires'));
  if (!date || !/^\d{1,7}$/.test(q.get('X-Amz-Expires')!) || expires < 1) return 'a presigned URL with a malformed X-Amz-Date or X-Amz-Expires';
  if (expires > PRESIGN_MAX_SECONDS) return `a presigned URL living ${expires} s, more than ${PRESIGN_MAX_SECONDS} s`;
  const signedMs = Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!);
  if (signedMs > nowMs + CLOCK_SKEW_MS) return 'a presigned URL dated in the future';
  if (signedMs + expires * 1000 <= nowMs) return 'an expired presigned request';
  return url;
}

/** The status of one HEAD, under a deadline; no redirects followed, body drained. */
function headStatus(url: URL, headers: Record<string, string>, agents: { 'http:': http.Agent; 'https:': https.Agent }, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      reject(new Error(`${url.protocol} is not http(s)`));
      return;
    }
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method: 'HEAD', headers, agent: agents[url.protocol] });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => { clearTimeout(timer); reject(err); });
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.end();
  });
}
