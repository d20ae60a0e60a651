/**
 * Provisioned object numbers handed out from a local pool refilled in batches, so opening a
 * log segment costs no RPC. Numbers left unused when the agent stops are expired by the volume
 * server's GC after ProvisionedObjectTTL.
 */
import type { SegmentServer } from './upload.js';

export function pooledProvision(provision: SegmentServer['provision'], batchSize: number): SegmentServer['provision'] {
  let pool: { objectId: number; key: string }[] = [];
  let refill: Promise<void> | undefined;
  const fill = () => {
    refill ??= provision(batchSize).then(
      (got) => { pool.push(...got); refill = undefined; },
      (err) => { refill = undefined; throw err; },
    );
    return refill;
  };
  return async (count) => {
    const out: { objectId: number; key: string }[] = [];
    while (out.length < count) {
      if (pool.length === 0) await fill();
      out.push(...pool.splice(0, count - out.length));
    }
    if (pool.length < batchSize / 4) fill().catch(() => undefined);
    return out;
  };
}
