/**
 * The OpenStack Swift backend: the Swift v1 object API over node:http/https, one container per
 * volume, one Swift object per key (keys are flat; they are URL-encoded into the object path).
 *
 * - Connections: one keep-alive agent per protocol with at most poolSize sockets.
 * - Credentials (token + storage URL) come from a CredentialSource. A 401 renews them once
 *   (renew(used): concurrent callers share one renewal) and repeats the request once; a second
 *   401 is PFS_ERR_AUTH.
 * - put sends Content-Length and ETag (the md5 of the body), so Swift refuses damaged bytes (422).
 * - Every request has one deadline, timeoutMs, covering the body too; at the deadline the socket
 *   is destroyed. opts.signal aborts the same way and rejects with the signal's reason.
 * - Statuses become PfsError codes here: 404 PFS_ERR_OBJECT_MISSING (delete: success),
 *   413/507 PFS_ERR_OBJECT_STORE_FULL (quota, disk), other 4xx PFS_ERR_OBJECT_STORE_REJECTED
 *   (except 408, 422, 429 and 499: PFS_ERR_OBJECT_STORE), 5xx and transport failures
 *   PFS_ERR_OBJECT_STORE. Retrying those is the retry wrapper's job, not this file's.
 * Messages name the method, container, key and status; never the token.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../log/index.js';
import type { Credentials, CredentialSource, SwiftCredentials } from '../auth/types.js';
import { PfsError } from '../errors/index.js';
import type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';

export interface SwiftStoreOptions {
  container: string;
  credentials: CredentialSource;
  /** Most sockets open to the proxy at once. */
  poolSize: number;
  /** Deadline of each request, body included. */
  timeoutMs: number;
  /** PUT the container (exists already: fine); otherwise it must exist. */
  create?: boolean;
  log?: Logger;
}

const LIST_LIMIT = 10_000; // Swift's container listing limit
const MAX_KEY_BYTES = 1024;
const EMPTY = Buffer.alloc(0);

interface Request {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  /** Absent: the container itself. */
  key?: string;
  query?: string;
  headers?: Record<string, string | number>;
  body?: readonly Buffer[];
  /** Read the body of a 2xx answer; any other answer resolves on its headers (body drained). */
  wantBody?: boolean;
  signal?: AbortSignal;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The credentials the request went out with (for messages: their storage URL only). */
  creds: SwiftCredentials;
}

export async function openSwiftStore(opts: SwiftStoreOptions): Promise<ObjectStore> {
  const { container, credentials, timeoutMs, log } = opts;
  if (!container || container.includes('/') || Buffer.byteLength(container) > 256) {
    throw new PfsError('PFS_ERR_CONFIG', `invalid Swift container name ${JSON.stringify(container)} (1 to 256 bytes, no '/')`);
  }
  const agentOpts = { keepAlive: true, maxSockets: opts.poolSize, maxFreeSockets: opts.poolSize, timeout: 20_000 };
  const agents = { 'http:': new http.Agent(agentOpts), 'https:': new https.Agent(agentOpts) };
  const inflight = new Set<Promise<unknown>>();
  let closed = false;

  const what = (r: Request): string => `swift ${r.method} ${container}${r.key === undefined ? '' : `/${r.key}`}`;

  function swiftCreds(c: Credentials): SwiftCredentials {
    if (c.kind !== 'swift') throw new PfsError('PFS_ERR_CONFIG', `the credential source gave ${c.kind} credentials to the Swift store of container ${container}`);
    return c;
  }

  /** One HTTP exchange, under the deadline and the caller's signal. */
  function exchange(creds: SwiftCredentials, r: Request): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const base = creds.storageUrl.replace(/\/+$/, '');
      const path = `/${encodeURIComponent(container)}${r.key === undefined ? '' : `/${encodeURIComponent(r.key)}`}${r.query ?? ''}`;
      let url: URL;
      try {
        url = new URL(base + path);
      } catch (err) {
        reject(new PfsError('PFS_ERR_CONFIG', `${what(r)}: the storage URL ${base} is not a URL`, { cause: err }));
        return;
      }
      const agent = url.protocol === 'http:' || url.protocol === 'https:' ? agents[url.protocol] : undefined;
      if (!agent) {
        reject(new PfsError('PFS_ERR_CONFIG', `${what(r)}: the storage URL ${base} is not http(s)`));
        return;
      }
      if (r.signal?.aborted) {
        reject(r.signal.reason ?? new DOMException('This operation was aborted', 'AbortError'));
        return;
      }
      let settled = false;
      let failure: unknown; // why we destroyed the request, whichever event then reports it
      const finish = (err: unknown, reply?: Reply): void => {
        clearTimeout(timer);
        r.signal?.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        if (reply) resolve(reply);
        else reject(failure ?? transportError(r, err));
      };
      const fail = (err: unknown): void => {
        failure ??= err;
        req.destroy(err instanceof Error ? err : undefined);
        finish(err);
      };
      const onAbort = (): void => fail(r.signal!.reason ?? new DOMException('This operation was aborted', 'AbortError'));
      const timer = setTimeout(() => fail(new PfsError('PFS_ERR_OBJECT_STORE', `${what(r)}: no complete answer within ${timeoutMs} ms`)), timeoutMs);
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, { method: r.method, agent, headers: { ...r.headers, 'X-Auth-Token': creds.authToken } });
      r.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.on('error', (err) => finish(err));
        if (!r.wantBody || status < 200 || status > 299) {
          // Settle on the headers; the body is drained so the socket can be reused.
          res.on('end', () => clearTimeout(timer));
          res.on('close', () => clearTimeout(timer));
          res.resume();
          settled = true;
          r.signal?.removeEventListener('abort', onAbort);
          resolve({ status, headers: res.headers, body: EMPTY, creds });
          return;
        }
        const declared = Number(res.headers['content-length']);
        const buf = res.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? Buffer.allocUnsafe(declared) : undefined;
        const chunks: Buffer[] = [];
        let filled = 0;
        res.on('data', (chunk: Buffer) => {
          if (!buf) chunks.push(chunk);
          else if (filled + chunk.length > buf.length) fail(new PfsError('PFS_ERR_OBJECT_STORE', `${what(r)}: ${status} body longer than its Content-Length ${buf.length}`));
          else filled += chunk.copy(buf, filled);
        });
        res.on('end', () => {
          if (buf && filled !== buf.length) fail(new PfsError('PFS_ERR_OBJECT_STORE', `${what(r)}: ${status} body ended after ${filled} of ${buf.length} bytes`));
          else finish(undefined, { status, headers: res.headers, body: buf ?? Buffer.concat(chunks), creds });
        });
        res.on('close', () => {
          if (!res.complete) fail(new PfsError('PFS_ERR_OBJECT_STORE', `${what(r)}: ${status} connection closed before the whole body arrived`));
        });
      });
      for (const piece of r.body ?? []) req.write(piece);
      req.end();
    });
  }

  /** A request with the current credentials; after a 401, once more with renewed ones. */
  async function call(r: Request): Promise<Reply> {
    if (closed) throw new PfsError('PFS_ERR_OBJECT_STORE', `${what(r)}: the store is closed`);
    r.signal?.throwIfAborted();
    const p = (async () => {
      const used = swiftCreds(await credentials.get({ signal: r.signal }));
      const first = await exchange(used, r);
      if (first.status !== 401) return first;
      log?.debug({ container, key: r.key, method: r.method }, 'swift refused the token (401); renewing credentials');
      const fresh = swiftCreds(await credentials.renew(used, { signal: r.signal }));
      const second = await exchange(fresh, r);
      if (second.status === 401) throw new PfsError('PFS_ERR_AUTH', `${what(r)}: 401 Unauthorized, also with renewed credentials (storage URL ${fresh.storageUrl})`);
      return second;
    })();
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  }

  function statusError(r: Request, reply: Reply): PfsError {
    const s = reply.status;
    const head = `${what(r)}: ${s} ${http.STATUS_CODES[s] ?? ''}`.trimEnd();
    if (s === 404 && (r.method === 'PUT' || r.key === undefined)) return new PfsError('PFS_ERR_OBJECT_STORE_REJECTED', `${head} (container ${container} does not exist)`);
    if (s === 404) return new PfsError('PFS_ERR_OBJECT_MISSING', `${head} (object does not exist)`);
    if (s === 413 || s === 507) return new PfsError('PFS_ERR_OBJECT_STORE_FULL', `${head} (out of space or over quota)`);
    if (s === 422) return new PfsError('PFS_ERR_OBJECT_STORE', `${head} (the body did not match its ETag: damaged in transit)`);
    if (s >= 400 && s < 500 && s !== 408 && s !== 429 && s !== 499) return new PfsError('PFS_ERR_OBJECT_STORE_REJECTED', head);
    return new PfsError('PFS_ERR_OBJECT_STORE', head);
  }

  function transportError(r: Request, err: unknown): PfsError {
    if (err instanceof PfsError) return err;
    return new PfsError('PFS_ERR_OBJECT_STORE', `${what(r)}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  function objectRequest(method: Request['method'], key: string, opts: CallOpts | undefined, extra: Partial<Request> = {}): Request {
    if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw new PfsError('PFS_ERR_OBJECT_STORE_REJECTED', `invalid key ${JSON.stringify(key)} for Swift container ${container} (1 to ${MAX_KEY_BYTES} bytes)`);
    }
    return { method, key, signal: opts?.signal, ...extra };
  }

  async function get(key: string, range?: ByteRange, opts?: CallOpts): Promise<Buffer> {
    if (range && (!Number.isSafeInteger(range.offset) || range.offset < 0 || !Number.isSafeInteger(range.length) || range.length < 0)) {
      throw new PfsError('PFS_ERR_OBJECT_STORE_REJECTED', `invalid range ${JSON.stringify(range)}`);
    }
    const r = objectRequest('GET', key, opts, { wantBody: true });
    if (range?.length === 0) return EMPTY;
    if (range) r.headers = { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` };
    const reply = await call(r);
    if (reply.status === 416 && range) return EMPTY; // starts at or past the end
    if (reply.status === 206) return reply.body;
    if (reply.status === 200) return range ? reply.body.subarray(range.offset, range.offset + range.length) : reply.body;
    throw statusError(r, reply);
  }

  async function put(key: string, body: Buffer | readonly Buffer[], opts?: CallOpts): Promise<void> {
    const pieces = Buffer.isBuffer(body) ? [body] : body;
    if (!Array.isArray(pieces) || !pieces.every((b) => Buffer.isBuffer(b))) {
      throw new PfsError('PFS_ERR_OBJECT_STORE_REJECTED', `put ${key}: body must be a Buffer or a list of Buffers`);
    }
    const md5 = createHash('md5');
    let length = 0;
    for (const piece of pieces) {
      md5.update(piece);
      length += piece.length;
    }
    const headers = { 'Content-Length': length, ETag: md5.digest('hex'), 'Content-Type': 'application/octet-stream' };
    const r = objectRequest('PUT', key, opts, { headers, body: pieces });
    const reply = await call(r);
    // 202: a concurrent PUT of the same key with a newer timestamp won; ours is superseded,
    // which is what "last writer wins" means for a replace (Swift's object server answers 409
    // to the proxy, the proxy 202 to us).
    if (reply.status !== 201 && reply.status !== 202) throw statusError(r, reply);
  }

  async function head(key: string, opts?: CallOpts): Promise<ObjectInfo> {
    const r = objectRequest('HEAD', key, opts);
    const reply = await call(r);
    if (reply.status < 200 || reply.status > 299) throw statusError(r, reply);
    const timestamp = Number(reply.headers['x-timestamp']);
    const mtimeMs = Number.isFinite(timestamp) ? Math.round(timestamp * 1000) : Date.parse(reply.headers['last-modified'] ?? '');
    return { key, sizeBytes: Number(reply.headers['content-length'] ?? 0), ...(Number.isFinite(mtimeMs) ? { mtimeMs } : {}) };
  }

  async function del(key: string, opts?: CallOpts): Promise<void> {
    const r = objectRequest('DELETE', key, opts);
    const reply = await call(r);
    if (reply.status === 404 || (reply.status >= 200 && reply.status <= 299)) return;
    throw statusError(r, reply);
  }

  async function* list(prefix: string, opts?: CallOpts): AsyncIterable<ObjectInfo> {
    let marker = '';
    for (;;) {
      const query = `?format=json&limit=${LIST_LIMIT}&prefix=${encodeURIComponent(prefix)}${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`;
      const r: Request = { method: 'GET', query, wantBody: true, signal: opts?.signal };
      const reply = await call(r);
      if (reply.status === 204) return;
      if (reply.status !== 200) throw statusError(r, reply);
      let page: { name?: string; bytes?: number; last_modified?: string }[];
      try {
        page = JSON.parse(reply.body.toString('utf8'));
        if (!Array.isArray(page)) throw new Error('not a JSON array');
      } catch (err) {
        throw new PfsError('PFS_ERR_OBJECT_STORE', `${what(r)} (list ${JSON.stringify(prefix)}): bad listing: ${(err as Error).message}`, { cause: err });
      }
      for (const o of page) {
        if (typeof o.name !== 'string') continue;
        const mtimeMs = Date.parse(`${o.last_modified ?? ''}Z`); // Swift lists UTC without a zone
        yield { key: o.name, sizeBytes: o.bytes ?? 0, ...(Number.isFinite(mtimeMs) ? { mtimeMs } : {}) };
      }
      if (page.length < LIST_LIMIT) return;
      marker = page[page.length - 1]!.name ?? '';
    }
  }

  async function close(): Promise<void> {
    closed = true;
    await Promise.allSettled([...inflight]);
    agents['http:'].destroy();
    agents['https:'].destroy();
  }

  try {
    const r: Request = opts.create ? { method: 'PUT', headers: { 'Content-Length': 0 } } : { method: 'HEAD' };
    const reply = await call(r);
    if (reply.status === 404 && !opts.create) {
      throw new PfsError('PFS_ERR_CONFIG', `container ${container} does not exist in ${reply.creds.storageUrl}; format the volume first`);
    }
    if (reply.status < 200 || reply.status > 299) throw statusError(r, reply);
  } catch (err) {
    await close();
    throw err;
  }
  return { get, put, head, delete: del, list, close };
}
