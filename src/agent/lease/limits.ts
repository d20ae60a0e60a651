/**
 * SharedLeaseLimit and ExclusiveLeaseLimit: which leases to give up, least recently used first
 * (entries in recency order), idle ones only (no guard, no call, nothing queued). Beyond the
 * Exclusive limit a lease is demoted while Shared has room, released once Shared is full (one
 * call instead of a demote now and a release of another lease next: a streaming workload, say
 * a copy of a large tree, costs one Lease call to get each file's lease and one to give it up).
 * Beyond the Shared limit a lease is released. Revocations already under way count against the
 * excess. Runs after every grant and guard release, so it walks the entries (from the least
 * recently used) only as far as it must: copying them all each time made a workload over a
 * limit quadratic.
 */
import type { LeaseInterruptAction } from '../../common/protocol/index.js';
import type { LeaseMode } from './types.js';
import { idle, revocationOf, type Entry } from './entry.js';

export function limitVictims(
  entries: () => Iterable<Entry>, held: Record<LeaseMode, number>, limits: Record<LeaseMode, number>,
): [Entry, LeaseInterruptAction][] {
  const out: [Entry, LeaseInterruptAction][] = [];
  if (held.exclusive <= limits.exclusive && held.shared <= limits.shared) return out;
  const over = (state: LeaseMode, excess: number, action: LeaseInterruptAction) => {
    for (const e of entries()) {
      if (excess <= 0) return;
      if (e.state !== state) continue;
      if (revocationOf(e)) {
        excess--;
        continue;
      }
      if (!idle(e)) continue;
      excess--;
      out.push([e, action]);
    }
  };
  over('exclusive', held.exclusive - limits.exclusive, held.shared >= limits.shared ? 'release' : 'demote');
  over('shared', held.shared - limits.shared, 'release');
  return out;
}
