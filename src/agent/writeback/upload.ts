/**
 * The upload of one closed segment: seal its bytes, PUT them (retried with exponential backoff),
 * then, once every earlier segment of the inode is done, report them with Wrote. The CRC32 list
 * (computed as the segment filled: segment.ts) follows the volume server's convention
 * (volume/extents/checksums.ts): zlib.crc32 of every blockSizeBytes block of the object, the
 * last block short.
 */
import pRetry from 'p-retry';
import { isRetryable } from '../../common/objectstore/retry.js';
import { PfsError, errorCode } from '../../common/errors/index.js';
import type { ObjectStore } from '../../common/objectstore/index.js';
import type { Attr, WroteParams } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { Segment } from './segment.js';

export interface RetryOptions {
  retries: number;
  minTimeoutMs: number;
  factor: number;
}

/** The RPCs writeback needs, bound to the mount by main.ts. */
export interface SegmentServer {
  provision(count: number): Promise<{ objectId: number; key: string }[]>;
  wrote(p: Omit<WroteParams, 'mountId'>): Promise<Attr>;
}

export interface UploadDeps {
  store: ObjectStore;
  server: SegmentServer;
  log: Logger;
  checksumBlockSizeBytes: number;
  retry: RetryOptions;
  onPutRetry(): void;
}

export interface SegmentObject {
  objectId: number;
  key: string;
}

/** One new object id from the server, checked. */
export async function provisionOne(server: SegmentServer): Promise<SegmentObject> {
  const got = await server.provision(1);
  const o = got[0];
  if (got.length !== 1 || !o || !Number.isSafeInteger(o.objectId) || typeof o.key !== 'string' || o.key === '') {
    throw new PfsError('PFS_ERR_RPC_PROTOCOL', `ProvisionObject(1) answered ${JSON.stringify(got)}`);
  }
  return o;
}

/**
 * PUTs seg as object, waits for `before` (the previous segment of the inode; never rejects),
 * then sends Wrote unless `check` throws (the segment was discarded meanwhile). Rejects with
 * the PUT's last error, check's or Wrote's error.
 */
export async function uploadSegment(deps: UploadDeps, seg: Segment, object: SegmentObject, before: Promise<void>, check: () => void = () => {}): Promise<Attr> {
  const body = seg.seal();
  const sizeBytes = seg.sizeBytes;
  // Mostly hashed as the segment filled; the rest finishes on the thread pool during the PUT.
  const crcs = seg.crc32s(deps.checksumBlockSizeBytes);
  crcs.catch(() => undefined);
  await pRetry(() => deps.store.put(object.key, body), {
    retries: deps.retry.retries,
    minTimeout: deps.retry.minTimeoutMs,
    factor: deps.retry.factor,
    // A full store or a refused request does not get better by asking again.
    shouldRetry: ({ error }) => isRetryable(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0) deps.onPutRetry();
      deps.log.warn({ ino: seg.ino, objectId: object.objectId, key: object.key, code: errorCode(error), attemptNumber, retriesLeft, err: error.message }, 'writeback: PUT of a log segment failed');
    },
  });
  const extents = seg.extents(object.objectId);
  await before;
  check();
  return deps.server.wrote({
    ino: seg.ino,
    object: { objectId: object.objectId, sizeBytes, blockSizeBytes: deps.checksumBlockSizeBytes, crc32: await crcs },
    extents,
    mtime: seg.lastWrite!,
  });
}
