/**
 * The deleter: removes from the store objects that have been dead for deadObjectDeleteDelayMs,
 * then forgets their rows. Rows are read from committed state, so an object is deleted only
 * after the change that made it dead was committed. Provisioned objects older than the TTL are
 * first made dead in a transaction of their own (a late Wrote is then refused), then deleted
 * at once. A failed delete is logged and retried next round (the row stays dead).
 */
import type { GcOptions, GcStats } from './types.js';

const BATCH = 256;
const PARALLEL_DELETES = 8;
const MAX_BATCHES_PER_ROUND = 64;
const NS_PER_MS = 1_000_000n;

export async function runDeleter(o: GcOptions, stats: GcStats, stopping: () => boolean): Promise<{ deleted: number; expired: number }> {
  let expired = 0;
  let deleted = 0;
  for (let i = 0; i < MAX_BATCHES_PER_ROUND && !stopping(); i++) {
    const olderThan = o.now() - BigInt(o.provisionedObjectTtlMs) * NS_PER_MS;
    const batch = o.md.transaction(() => o.extents.expiredProvisioned(olderThan, BATCH));
    const done = await deleteAndForget(o, stats, batch);
    expired += done;
    if (batch.length < BATCH || done < batch.length) break;
  }
  for (let i = 0; i < MAX_BATCHES_PER_ROUND && !stopping(); i++) {
    const batch = o.extents.deadObjects(o.now() - BigInt(o.deadObjectDeleteDelayMs) * NS_PER_MS, BATCH);
    const done = await deleteAndForget(o, stats, batch);
    deleted += done;
    if (batch.length < BATCH || done < batch.length) break;
  }
  stats.expiredObjects += expired;
  stats.deletedObjects += deleted;
  if (expired + deleted > 0) o.log.info({ deleted, expired }, 'gc: deleted objects');
  return { deleted, expired };
}

async function deleteAndForget(o: GcOptions, stats: GcStats, batch: { objectId: number; key: string }[]): Promise<number> {
  const gone: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batch.length) {
      const { objectId, key } = batch[next++]!;
      try {
        await o.store.delete(key);
        gone.push(objectId);
      } catch (err) {
        stats.storeErrors++;
        stats.lastError = (err as Error).message;
        o.log.warn({ err, key }, 'gc: deleting a dead object failed; will retry');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, batch.length) }, worker));
  if (gone.length > 0) o.md.transaction(() => o.extents.forgetObjects(gone));
  return gone.length;
}
