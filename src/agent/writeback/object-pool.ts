/**
 * Provisioned object numbers handed out from a local pool refilled in batches, so opening a
 * log segment costs no RPC.
 *
 * A number is valid on the volume server while the mount it was provisioned for is live, and
 * expires ProvisionedObjectTTL after that mount ended (docs/SEMANTICS.md, "Timeouts on each
 * side"). The pool still does not trust a number forever: each carries the time it was granted
 * and the mount generation it was granted under, and is used only within maxAgeMs() of its grant
 * (main.ts: half the TTL the Mount reply states) and under the same generation; older ones are
 * dropped unused. `fresh` empties the pool and asks the server directly: the writeback's answer
 * to a number the server refused (PFS_ERR_STALE_OBJECT), after which no pooled number is trusted.
 * A number dropped here stays provisioned for the mount until the mount ends, then expires.
 */
import type { SegmentServer } from './upload.js';

export interface PoolOptions {
  batchSize: number;
  nowMs(): number;
  /** How long after its grant a pooled number may still be handed out. */
  maxAgeMs(): number;
  /** The mount generation (volume-client): numbers of an older mount are never handed out. */
  generation(): number;
}

interface Pooled {
  objectId: number;
  key: string;
  grantedMs: number;
  generation: number;
}

type Provision = (count: number) => Promise<{ objectId: number; key: string }[]>;

export function pooledProvision(provision: Provision, opts: PoolOptions): SegmentServer['provision'] {
  const { batchSize } = opts;
  let pool: Pooled[] = [];
  let refill: Promise<void> | undefined;
  /** Bumped by a fresh request: a refill started before it brings numbers nobody trusts. */
  let era = 0;

  const ask = async (count: number): Promise<Pooled[]> => {
    const generation = opts.generation();
    const grantedMs = opts.nowMs(); // before the call: the age is never underestimated
    return (await provision(count)).map((o) => ({ ...o, grantedMs, generation }));
  };
  const fill = () => {
    const mine = era;
    refill ??= ask(batchSize).then(
      (got) => { if (mine === era) pool.push(...got); refill = undefined; },
      (err) => { refill = undefined; throw err; },
    );
    return refill;
  };
  const current = (o: Pooled) => o.generation === opts.generation();
  const usable = (o: Pooled) => current(o) && opts.nowMs() - o.grantedMs <= opts.maxAgeMs();

  return async (count, fresh = false) => {
    if (fresh) {
      era++;
      pool = [];
      return (await ask(count)).map(({ objectId, key }) => ({ objectId, key }));
    }
    const out: { objectId: number; key: string }[] = [];
    let justFilled = false;
    while (out.length < count) {
      // A batch that just arrived is used whatever maxAgeMs says (no loop on a tiny maxAge).
      pool = pool.filter(justFilled ? current : usable);
      justFilled = false;
      if (pool.length === 0) {
        await fill();
        justFilled = true;
        continue;
      }
      for (const o of pool.splice(0, count - out.length)) out.push({ objectId: o.objectId, key: o.key });
    }
    if (pool.length < batchSize / 4) fill().catch(() => undefined);
    return out;
  };
}
