/**
 * The S3 backend (@aws-sdk/client-s3), tuned for Swift's s3api as well as AWS S3.
 *
 * Parts: a client per credentials object (made again when the CredentialSource hands out new
 * ones), all sharing one NodeHttpHandler whose keep-alive agent is the connection pool
 * (maxSockets = poolSize); `call` runs one request with one renewal on an auth failure;
 * `toPfsError` turns SDK and socket errors into PfsError codes at this edge.
 *
 * Client settings, each one needed by Swift's s3api (docs: openstack-swift-on-loopback.md):
 * - forcePathStyle; checksums only WHEN_REQUIRED (s3api answers 501 to aws-chunked bodies);
 * - Content-MD5 on DeleteObjects, which the SDK no longer sends and s3api requires (deleteMany);
 * - maxAttempts 1: retries belong to the retry wrapper around every store. The only retry here
 *   is the one after credentials.renew(), because only this edge knows which credentials failed.
 * - at most 1000 parts per multipart upload, at least 5 MiB per part but the last.
 * Integrity of puts: bodies of PutObject and UploadPart are sent UNSIGNED-PAYLOAD (see
 * unsignedPayload) as one Buffer or a stream of views of the caller's buffers (bodyOf), never
 * joined into a copy; the agent's per-block CRC32s, checked on every read, cover them end to end.
 *
 * Timeouts: connecting, and waiting for the response headers, may take timeoutMs each (plus
 * 1 ms per KiB of request body, so a large part on a slow link is not cut off); a socket idle
 * for timeoutMs while sending or reading a body fails the request.
 *
 * Error codes: 404 on get/head -> PFS_ERR_OBJECT_MISSING; auth failures (ExpiredToken,
 * InvalidAccessKeyId, SignatureDoesNotMatch, ..., any 401, and a 403 on a HEAD, which carries no
 * error code) -> renew once, retry once, then PFS_ERR_AUTH; 507, QuotaExceeded,
 * InsufficientStorage and EntityTooLarge caused by a quota -> PFS_ERR_OBJECT_STORE_FULL (s3api
 * turns Swift's 413 "Upload exceeds quota." into 400 EntityTooLarge carrying that text, checked
 * against Swift 2.30.1; an EntityTooLarge without "quota" is a too-large object, REJECTED);
 * other 4xx -> PFS_ERR_OBJECT_STORE_REJECTED; 5xx, 408/429/RequestTimeout/SlowDown, timeouts and
 * socket errors -> PFS_ERR_OBJECT_STORE. The caller's own abort rethrows signal.reason.
 * Messages name the op, bucket, key, status and code; never access keys, secrets or tokens.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
  type S3ClientConfig, type ServiceInputTypes, type ServiceOutputTypes,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { BuildMiddleware } from '@smithy/types';
import type { CredentialSource, Credentials, S3Credentials } from '../auth/types.js';
import { PfsError } from '../errors/index.js';
import type { Logger } from '../rpc/index.js';
import type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';

const MiB = 1024 * 1024;
const MIN_PART_BYTES = 5 * MiB;
const MAX_PART_BYTES = 5 * 1024 * MiB;
const MAX_PARTS = 1000;            // s3api max_upload_part_num (AWS allows 10000)
const PARTS_IN_FLIGHT = 4;
const MAX_DELETE_KEYS = 1000;
const MAX_KEY_BYTES = 1024;

export interface S3StoreOptions {
  bucket: string;
  credentials: CredentialSource;
  /** Used when the credentials carry no endpoint; absent means AWS's own for the region. */
  endpoint?: string;
  /** Used when the credentials carry no region; default us-east-1. */
  region?: string;
  poolSize: number;
  timeoutMs: number;
  /** Make the bucket if missing; otherwise a missing bucket is PFS_ERR_CONFIG. */
  create?: boolean;
  /** Bodies larger than this go up as multipart uploads. Default 64 MiB. */
  multipartThresholdBytes?: number;
  /** Default 16 MiB, at least 5 MiB; raised when a body would need more than 1000 parts. */
  partSizeBytes?: number;
  /** Keys per ListObjectsV2 page (MaxKeys); default 1000, the most S3 and s3api return. */
  listPageKeys?: number;
  log?: Logger;
}

/** An ObjectStore plus batch deletion (DeleteObjects, up to 1000 keys a request). */
export interface S3Store extends ObjectStore {
  /** Deletes every key; missing keys are success. */
  deleteMany(keys: readonly string[], opts?: CallOpts): Promise<void>;
}

type SdkError = Error & { code?: string; Code?: string; $metadata?: { httpStatusCode?: number } };

const AUTH_CODES = new Set([
  'ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'RequestExpired', 'InvalidToken',
  'InvalidAccessKeyId', 'SignatureDoesNotMatch',
]);
const FULL_CODES = new Set(['QuotaExceeded', 'InsufficientStorage']);
const RETRYABLE_4XX_CODES = new Set(['RequestTimeout', 'SlowDown', 'TooManyRequests']);

export async function openS3Store(opts: S3StoreOptions): Promise<S3Store> {
  validate(opts);
  const { bucket, credentials: source, log } = opts;
  const timeoutMs = opts.timeoutMs;
  const thresholdBytes = opts.multipartThresholdBytes ?? 64 * MiB;
  const partBytes = opts.partSizeBytes ?? 16 * MiB;
  const listPageKeys = opts.listPageKeys ?? 1000;
  const agentOpts = { keepAlive: true, maxSockets: opts.poolSize };
  const handler = new NodeHttpHandler({
    httpAgent: new HttpAgent(agentOpts),
    httpsAgent: new HttpsAgent(agentOpts),
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    throwOnRequestTimeout: true,
    socketTimeout: timeoutMs,
  });
  let current: { creds: S3Credentials; client: S3Client; endpoint: string } | undefined;
  let closed = false;
  const inflight = new Set<Promise<unknown>>();

  function clientFor(creds: S3Credentials): { client: S3Client; endpoint: string } {
    if (current?.creds === creds) return current;
    const { endpoint, region } = s3Target(creds, opts);
    const client = newS3Client(creds, { endpoint, region }, { requestHandler: handler, maxAttempts: 1 });
    client.middlewareStack.add(contentMd5ForDeleteObjects, { step: 'build', name: 'pfsContentMd5ForDeleteObjects' });
    client.middlewareStack.add(unsignedPayload, { step: 'build', name: 'pfsUnsignedPayload' });
    // Older clients are dropped, not destroyed: destroy() would close the shared pool.
    current = { creds, client, endpoint: endpoint ? showUrl(endpoint) : `AWS S3 (${region})` };
    return current;
  }

  async function s3Creds(p: Promise<Credentials>): Promise<S3Credentials> {
    const creds = await p;
    if (creds.kind !== 's3') throw new PfsError('PFS_ERR_CONFIG', `the auth plug-in gave ${creds.kind} credentials to the S3 store for bucket ${bucket}; it must answer kind "s3"`);
    return creds;
  }

  /** One request; on an auth failure renews the credentials once and tries once more. */
  async function call<T>(op: string, key: string, signal: AbortSignal | undefined, bodyBytes: number,
    run: (client: S3Client, send: { abortSignal?: AbortSignal; requestTimeout: number }) => Promise<T>): Promise<T> {
    const send = { ...(signal ? { abortSignal: signal } : {}), requestTimeout: timeoutMs + Math.ceil(bodyBytes / 1024) };
    let creds = await s3Creds(source.get(signal ? { signal } : undefined));
    for (let renewed = false; ; renewed = true) {
      const { client, endpoint } = clientFor(creds);
      try {
        return await run(client, send);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!isAuthFailure(err as SdkError, op)) throw toPfsError(err as SdkError, op, bucket, key, endpoint);
        if (renewed) throw new PfsError('PFS_ERR_AUTH', `s3 ${op} ${key ? `${bucket}/${key}` : bucket} at ${endpoint}: ${describe(err as SdkError, false)} even after renewing the credentials`, { cause: err });
        log?.warn({ op, bucket, key, code: (err as SdkError).name }, 's3 store: credentials refused; renewing them once');
        creds = await s3Creds(source.renew(creds, signal ? { signal } : undefined));
      }
    }
  }

  function track<T>(p: Promise<T>): Promise<T> {
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  }

  function begin(op: string, key: string, opts?: CallOpts): void {
    if (closed) throw new PfsError('PFS_ERR_OBJECT_STORE', `s3 store ${bucket}: ${op} after close`);
    opts?.signal?.throwIfAborted();
    if (key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES) throw new PfsError('PFS_ERR_INTERNAL', `s3 ${op}: invalid key ${JSON.stringify(key.slice(0, 64))} (1 to ${MAX_KEY_BYTES} bytes)`);
  }

  async function get(key: string, range?: ByteRange, opts?: CallOpts): Promise<Buffer> {
    begin('get', key, opts);
    if (range && (!Number.isSafeInteger(range.offset) || range.offset < 0 || !Number.isSafeInteger(range.length) || range.length < 0)) {
      throw new PfsError('PFS_ERR_INTERNAL', `s3 get ${bucket}/${key}: invalid range ${JSON.stringify(range)}`);
    }
    if (range?.length === 0) return Buffer.alloc(0);
    const Range = range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined;
    return track(call('get', key, opts?.signal, 0, async (client, send) => {
      let out;
      try {
        out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range }), send);
      } catch (err) {
        if ((err as SdkError).$metadata?.httpStatusCode === 416) return Buffer.alloc(0); // at or past the end
        throw err;
      }
      const body = await readBody(out.Body, out.ContentLength, `s3 get ${bucket}/${key}`);
      // A server that ignored Range sent the whole object.
      return range && !out.ContentRange ? body.subarray(range.offset, range.offset + range.length) : body;
    }));
  }

  async function put(key: string, body: Buffer | readonly Buffer[], opts?: CallOpts): Promise<void> {
    begin('put', key, opts);
    const pieces = Buffer.isBuffer(body) ? [body] : body;
    if (!Array.isArray(pieces) || !pieces.every((b) => Buffer.isBuffer(b))) throw new PfsError('PFS_ERR_INTERNAL', `s3 put ${bucket}/${key}: body must be a Buffer or a list of Buffers`);
    const total = pieces.reduce((n, b) => n + b.length, 0);
    if (total > thresholdBytes) return track(putMultipart(key, pieces, total, opts?.signal));
    return track(call('put', key, opts?.signal, total, async (client, send) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bodyOf(pieces, 0, total), ContentLength: total }), send);
    }));
  }

  async function putMultipart(key: string, pieces: readonly Buffer[], total: number, signal?: AbortSignal): Promise<void> {
    // Round up to whole MiB so a body needing more than MAX_PARTS parts still fits.
    const partSize = Math.max(partBytes, Math.ceil(total / MAX_PARTS / MiB) * MiB);
    const partCount = Math.ceil(total / partSize);
    // Not under the caller's signal: a create cut off on our side may still happen on the
    // server, and then only its UploadId lets us abort it (the check follows in the try).
    const created = await call('put', key, undefined, 0, (client, send) =>
      client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), send));
    const UploadId = created.UploadId;
    if (!UploadId) throw new PfsError('PFS_ERR_OBJECT_STORE', `s3 put ${bucket}/${key}: CreateMultipartUpload returned no UploadId`);
    const etags: string[] = new Array(partCount);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < partCount) {
        const i = next++;
        const start = i * partSize;
        const end = Math.min(total, (i + 1) * partSize);
        try {
          const out = await call('put', key, signal, end - start, (client, send) => client.send(new UploadPartCommand({
            Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: bodyOf(pieces, start, end), ContentLength: end - start,
          }), send));
          if (!out.ETag) throw new PfsError('PFS_ERR_OBJECT_STORE', `s3 put ${bucket}/${key}: UploadPart ${i + 1} returned no ETag`);
          etags[i] = out.ETag;
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    try {
      signal?.throwIfAborted();
      const results = await Promise.allSettled(Array.from({ length: Math.min(PARTS_IN_FLIGHT, partCount) }, worker));
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      await call('put', key, signal, 0, (client, send) => client.send(new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: key, UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }), send));
    } catch (err) {
      // Not under the caller's signal: an aborted put still cleans up its parts.
      await call('put', key, undefined, 0, (client, send) =>
        client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }), send))
        .catch((abortErr) => log?.warn({ bucket, key, err: (abortErr as Error).message }, 's3 store: could not abort a failed multipart upload; its parts stay until the bucket is cleaned'));
      throw err;
    }
  }

  async function head(key: string, opts?: CallOpts): Promise<ObjectInfo> {
    begin('head', key, opts);
    return track(call('head', key, opts?.signal, 0, async (client, send) => {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), send);
      return { key, sizeBytes: out.ContentLength ?? 0, ...(out.LastModified ? { mtimeMs: out.LastModified.getTime() } : {}) };
    }));
  }

  async function del(key: string, opts?: CallOpts): Promise<void> {
    begin('delete', key, opts);
    return track(call('delete', key, opts?.signal, 0, async (client, send) => {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), send);
      } catch (err) {
        const e = err as SdkError;
        if (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket') return; // missing is success
        throw err;
      }
    }));
  }

  async function deleteMany(keys: readonly string[], opts?: CallOpts): Promise<void> {
    for (const k of keys) begin('delete', k, opts);
    for (let at = 0; at < keys.length; at += MAX_DELETE_KEYS) {
      const batch = keys.slice(at, at + MAX_DELETE_KEYS);
      const out = await track(call('delete', batch[0]!, opts?.signal, 0, (client, send) => client.send(new DeleteObjectsCommand({
        Bucket: bucket, Delete: { Quiet: true, Objects: batch.map((Key) => ({ Key })) },
      }), send)));
      const bad = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (bad.length > 0) {
        const e = bad[0]!;
        const code = e.Code === 'AccessDenied' ? 'PFS_ERR_OBJECT_STORE_REJECTED' : 'PFS_ERR_OBJECT_STORE';
        throw new PfsError(code, `s3 delete ${bucket}: ${bad.length} of ${batch.length} keys failed, first ${e.Key}: ${e.Code}`);
      }
    }
  }

  async function* list(prefix: string, opts?: CallOpts): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      if (closed) throw new PfsError('PFS_ERR_OBJECT_STORE', `s3 store ${bucket}: list after close`);
      opts?.signal?.throwIfAborted();
      const page = await track(call('list', prefix, opts?.signal, 0, (client, send) => client.send(new ListObjectsV2Command({
        Bucket: bucket, MaxKeys: listPageKeys, ...(prefix ? { Prefix: prefix } : {}), ...(token ? { ContinuationToken: token } : {}),
      }), send)));
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield { key: o.Key, sizeBytes: o.Size ?? 0, ...(o.LastModified ? { mtimeMs: o.LastModified.getTime() } : {}) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) throw new PfsError('PFS_ERR_OBJECT_STORE', `s3 list ${bucket}/${prefix}: a truncated page without NextContinuationToken`);
    } while (token);
  }

  try {
    if (opts.create) {
      const region = opts.region ?? 'us-east-1';
      await call('create bucket', '', undefined, 0, async (client, send) => {
        try {
          await client.send(new CreateBucketCommand({
            Bucket: bucket,
            ...(region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as never } } : {}),
          }), send);
        } catch (err) {
          if ((err as SdkError).name === 'BucketAlreadyOwnedByYou' || (err as SdkError).name === 'BucketAlreadyExists') return;
          throw err;
        }
      });
    } else {
      await call('head bucket', '', undefined, 0, async (client, send) => {
        try {
          await client.send(new HeadBucketCommand({ Bucket: bucket }), send);
        } catch (err) {
          if ((err as SdkError).$metadata?.httpStatusCode === 404) {
            throw new PfsError('PFS_ERR_CONFIG', `bucket ${bucket} does not exist at ${current?.endpoint}; format the volume first`);
          }
          throw err;
        }
      });
    }
  } catch (err) {
    handler.destroy();
    throw err;
  }

  return {
    get, put, head, delete: del, deleteMany, list,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inflight]);
      current?.client.destroy();
      handler.destroy();
    },
  };
}

/**
 * Where S3 requests with `creds` go: the plug-in's Endpoint and Region win over the volume
 * URL's (`fallback`); no endpoint means AWS's own for the region (default us-east-1).
 */
export function s3Target(creds: S3Credentials, fallback: { endpoint?: string; region?: string }): { endpoint?: string; region: string } {
  return { endpoint: creds.endpoint ?? fallback.endpoint, region: creds.region ?? fallback.region ?? 'us-east-1' };
}

/** An S3Client for `creds` at `target`, with the settings Swift's s3api needs (file comment). */
export function newS3Client(creds: S3Credentials, target: { endpoint?: string; region: string }, extra: Partial<S3ClientConfig> = {}): S3Client {
  return withoutNodeVersionWarning(() => new S3Client({
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
    credentials: {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
      ...(creds.expiration ? { expiration: creds.expiration } : {}),
    },
  }));
}

function validate(opts: S3StoreOptions): void {
  const bad = (what: string): never => { throw new PfsError('PFS_ERR_CONFIG', `s3 store: ${what}`); };
  if (!opts.bucket) bad('bucket is empty');
  if (!Number.isSafeInteger(opts.poolSize) || opts.poolSize < 1) bad(`poolSize must be a positive integer, not ${opts.poolSize}`);
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) bad(`timeoutMs must be positive, not ${opts.timeoutMs}`);
  const part = opts.partSizeBytes;
  if (part !== undefined && (!Number.isSafeInteger(part) || part < MIN_PART_BYTES || part > MAX_PART_BYTES)) bad(`partSizeBytes must be from 5 MiB to 5 GiB, not ${part}`);
  const page = opts.listPageKeys;
  if (page !== undefined && (!Number.isSafeInteger(page) || page < 1 || page > 1000)) bad(`listPageKeys must be from 1 to 1000, not ${page}`);
  const th = opts.multipartThresholdBytes;
  if (th !== undefined && (!Number.isSafeInteger(th) || th < 1)) bad(`multipartThresholdBytes must be a positive integer, not ${th}`);
}

function isAuthFailure(err: SdkError, op: string): boolean {
  const status = err.$metadata?.httpStatusCode;
  if (AUTH_CODES.has(err.name) || status === 401) return true;
  // HEAD answers carry no body, so a bad signature shows only as a bare 403.
  return status === 403 && (op === 'head' || op === 'head bucket') && err.name !== 'AccessDenied';
}

function toPfsError(err: SdkError, op: string, bucket: string, key: string, endpoint: string): Error {
  if (err instanceof PfsError) return err;
  const status = err.$metadata?.httpStatusCode;
  const where = `s3 ${op} ${key ? `${bucket}/${key}` : bucket}`;
  const why = describe(err, true);
  const make = (code: ConstructorParameters<typeof PfsError>[0], text = `${where}: ${why}`) => new PfsError(code, text, { cause: err });
  if (status === undefined) return make('PFS_ERR_OBJECT_STORE', `${where} at ${endpoint}: ${why}`);
  if (err.name === 'NoSuchBucket') return make('PFS_ERR_OBJECT_STORE_REJECTED', `${where}: bucket ${bucket} does not exist at ${endpoint} (${why})`);
  if (status === 404 && (op === 'get' || op === 'head')) return make('PFS_ERR_OBJECT_MISSING', `object ${key} does not exist in bucket ${bucket} (${why})`);
  if (status === 507 || FULL_CODES.has(err.name) || (err.name === 'EntityTooLarge' && (status === 413 || /quota/i.test(err.message)))) return make('PFS_ERR_OBJECT_STORE_FULL');
  if (status >= 500 || status === 408 || status === 429 || RETRYABLE_4XX_CODES.has(err.name)) return make('PFS_ERR_OBJECT_STORE');
  return make('PFS_ERR_OBJECT_STORE_REJECTED');
}

/** Status, code and (unless it may concern credentials) the server's message, kept short. */
function describe(err: SdkError, withMessage: boolean): string {
  const status = err.$metadata?.httpStatusCode;
  const code = err.code && err.code !== err.name ? `${err.name} ${err.code}` : err.name;
  const head = status === undefined ? code : `HTTP ${status} ${code}`;
  const auth = AUTH_CODES.has(err.name) || status === 401 || status === 403;
  const msg = withMessage && !auth && err.message && err.message !== err.name && err.message !== 'UnknownError' ? err.message.replace(/\s+/g, ' ').slice(0, 200) : '';
  return msg ? `${head}: ${msg}` : head;
}

async function readBody(body: unknown, contentLength: number | undefined, what: string): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  const stream = body as AsyncIterable<Uint8Array> & { destroy?: () => void };
  if (contentLength === undefined) {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    return Buffer.concat(chunks);
  }
  const out = Buffer.allocUnsafe(contentLength);
  let at = 0;
  for await (const c of stream) {
    if (at + c.byteLength > contentLength) {
      stream.destroy?.();
      throw new PfsError('PFS_ERR_OBJECT_STORE', `${what}: the body is longer than its Content-Length ${contentLength}`);
    }
    out.set(c, at);
    at += c.byteLength;
  }
  if (at !== contentLength) throw new PfsError('PFS_ERR_OBJECT_STORE', `${what}: the body ended after ${at} of ${contentLength} bytes`);
  return out;
}

/**
 * Bytes [start, end) of the concatenation of pieces as a request body: the piece itself when
 * the range lies in one, else a stream of views of the pieces, never a joined copy (a 10 MiB
 * Buffer.concat cost the agent's main thread a page fault per 4 KiB and the copy, for every
 * segment). Made anew for every attempt: a stream is read once.
 */
function bodyOf(pieces: readonly Buffer[], start: number, end: number): Buffer | Readable {
  const parts: Buffer[] = [];
  let base = 0;
  for (const p of pieces) {
    const from = Math.max(start, base);
    const to = Math.min(end, base + p.length);
    if (from < to) parts.push(p.subarray(from - base, to - base));
    base += p.length;
    if (base >= end) break;
  }
  if (parts.length === 0) return Buffer.alloc(0);
  return parts.length === 1 ? parts[0]! : Readable.from(parts, { objectMode: false });
}

/**
 * Segment bodies are not hashed for the signature (UNSIGNED-PAYLOAD): SigV4's SHA-256 of every
 * body would cost the agent's main thread ~25 ms per 10 MiB segment, and the bytes are
 * protected end to end anyway: each 64 KiB block's CRC32 is verified on every read.
 */
const unsignedPayload: BuildMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => async (args) => {
  const req = args.request as { headers?: Record<string, string> };
  if ((context.commandName === 'PutObjectCommand' || context.commandName === 'UploadPartCommand') && req.headers) {
    req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  }
  return next(args);
};

/** s3api rejects DeleteObjects without Content-MD5, which the SDK no longer sends. */
const contentMd5ForDeleteObjects: BuildMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => async (args) => {
  const req = args.request as { headers?: Record<string, string>; body?: unknown };
  if (context.commandName === 'DeleteObjectsCommand' && req.headers && (typeof req.body === 'string' || req.body instanceof Uint8Array)) {
    req.headers['content-md5'] = createHash('md5').update(req.body).digest('base64');
  }
  return next(args);
};

/**
 * SDK 3.1169.0 warns (process.emitWarning) on Node < 22 when a client is made; the version is
 * pinned on purpose. Its own switch, read only while a client is constructed, silences just
 * that warning; it is set for the construction and removed again.
 */
function withoutNodeVersionWarning<T>(make: () => T): T {
  const name = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
  if (process.env[name] !== undefined) return make();
  process.env[name] = 'true';
  try {
    return make();
  } finally {
    delete process.env[name];
  }
}

function showUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(an endpoint that is not a URL)';
  }
}
