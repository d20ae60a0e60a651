/**
 * The upload of one closed segment: seal its bytes, PUT them (retried with exponential backoff),
 * then, once every earlier segment of the inode is done, report them with Wrote. A Wrote the
 * server refuses with PFS_ERR_STALE_OBJECT (the number expired, is dead or unknown) is cured:
 * the segment still holds its bytes, so it is PUT again under a fresh number and that one is
 * reported (up to MAX_REPROVISIONS times, each logged at warn); the refused key is then deleted
 * (best effort: a dead or unknown number is referenced by nothing). The CRC32 list
 * (computed as the segment filled: segment.ts) follows the volume server's convention
 * (volume/extents/checksums.ts): zlib.crc32 of every blockSizeBytes block of the object, the
 * last block short.
 */
import pRetry from 'p-retry';
import { isRetryable } from '../../common/objectstore/retry.js';
import { PfsError, errorCode } from '../../common/errors/index.js';
import type { ObjectStore } from '../../common/objectstore/index.js';
import type { Attr, Ino, WroteParams } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { Segment } from './segment.js';

export interface RetryOptions {
  retries: number;
  minTimeoutMs: number;
  factor: number;
}

/** The RPCs writeback needs, bound to the mount by main.ts. */
export interface SegmentServer {
  /** count object numbers; fresh: straight from the server, no pooled number trusted (after a refusal). */
  provision(count: number, fresh?: boolean): Promise<{ objectId: number; key: string }[]>;
  /** Reports a segment (the caller adds the mount and the agent's own credentials). */
  wrote(p: Omit<WroteParams, 'mountId' | 'cred'>): Promise<Attr>;
  /** Reports ranges of a segment that failed for good: they read as EIO from then on (RPC Unstored). */
  unstored(p: { ino: Ino; ranges: { fileOffset: number; length: number }[] }): Promise<Attr>;
}

export interface UploadDeps {
  store: ObjectStore;
  server: SegmentServer;
  log: Logger;
  checksumBlockSizeBytes: number;
  retry: RetryOptions;
  onPutRetry(): void;
  /** A refused object number was replaced by a fresh one and the segment written again. */
  onReprovision(): void;
}

/** Fresh numbers tried for one segment after the server refused its number. */
export const MAX_REPROVISIONS = 3;

export interface SegmentObject {
  objectId: number;
  key: string;
}

/** One new object id from the server, checked. */
export async function provisionOne(server: SegmentServer, fresh = false): Promise<SegmentObject> {
  const got = await server.provision(1, fresh);
  const o = got[0];
  if (got.length !== 1 || !o || !Number.isSafeInteger(o.objectId) || typeof o.key !== 'string' || o.key === '') {
    throw new PfsError('PFS_ERR_RPC_PROTOCOL', `ProvisionObject(1) answered ${JSON.stringify(got)}`);
  }
  return o;
}

/**
 * PUTs seg as object, waits for `before` (the previous segment of the inode; never rejects),
 * then sends Wrote unless `check` throws (the segment was discarded meanwhile); a refused
 * number is replaced (see above). Rejects with the PUT's last error, check's or Wrote's error.
 */
export async function uploadSegment(deps: UploadDeps, seg: Segment, object: SegmentObject, before: Promise<void>, check: () => void = () => {}): Promise<Attr> {
  const body = seg.seal();
  const sizeBytes = seg.sizeBytes;
  // Mostly hashed as the segment filled; the rest finishes on the thread pool during the PUT.
  const crcs = seg.crc32s(deps.checksumBlockSizeBytes);
  crcs.catch(() => undefined);
  await put(deps, seg, object, body);
  await before;
  check();
  const refused: SegmentObject[] = [];
  for (;;) {
    try {
      const attr = await deps.server.wrote({
        ino: seg.ino,
        object: { objectId: object.objectId, sizeBytes, blockSizeBytes: deps.checksumBlockSizeBytes, crc32: await crcs },
        extents: seg.extents(object.objectId),
        mtime: seg.lastWrite!,
      });
      for (const r of refused) deps.store.delete(r.key).catch(() => undefined);
      return attr;
    } catch (err) {
      if (errorCode(err) === 'ENOSPC') {
        // The volume is at its Capacity: the object will never be reported; do not keep its bytes.
        deps.store.delete(object.key).catch(() => undefined);
        for (const r of refused) deps.store.delete(r.key).catch(() => undefined);
      }
      if (errorCode(err) !== 'PFS_ERR_STALE_OBJECT' || refused.length >= MAX_REPROVISIONS) throw err;
      refused.push(object);
      object = await provisionOne(deps.server, true);
      deps.onReprovision();
      deps.log.warn({ ino: seg.ino, refused: refused.at(-1)!.objectId, objectId: object.objectId, key: object.key, sizeBytes, err: (err as Error).message },
        'writeback: the volume server refused the log segment\'s object number; writing the segment again under a new one');
      await put(deps, seg, object, body);
      check();
    }
  }
}

/** One PUT of the segment's body, retried as deps.retry says while the error is retryable. */
async function put(deps: UploadDeps, seg: Segment, object: SegmentObject, body: readonly Buffer[]): Promise<void> {
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
}
