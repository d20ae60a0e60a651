/**
 * Per-client exactly-once state on the server.
 * - inFlight: request ids handed to the dispatcher and not yet answered. A duplicate of one of
 *   these is not executed again; the reply goes out when the original completes.
 * - done: completed replies by request id, in completion order, until the client acknowledges
 *   them (ack = every reply <= ack was received) or they are older than the TTL.
 * - ack only grows. A reply completing at or below ack is not kept: the client has given up on it.
 */
import type { WireReply } from './types.js';

export type CachedLookup = { state: 'in-flight' } | { state: 'done'; reply: WireReply } | { state: 'miss' };

export class ClientReplyCache {
  private acked = 0;
  private readonly inFlight = new Set<number>();
  private readonly done = new Map<number, { reply: WireReply; atMs: number }>();

  get ack(): number {
    return this.acked;
  }

  get isEmpty(): boolean {
    return this.inFlight.size === 0 && this.done.size === 0;
  }

  get size(): number {
    return this.done.size;
  }

  lookup(id: number): CachedLookup {
    if (this.inFlight.has(id)) return { state: 'in-flight' };
    const hit = this.done.get(id);
    return hit ? { state: 'done', reply: hit.reply } : { state: 'miss' };
  }

  begin(id: number): void {
    this.inFlight.add(id);
  }

  /** Records a completed reply (unless already acknowledged). */
  complete(id: number, reply: WireReply, nowMs: number): void {
    this.inFlight.delete(id);
    if (id > this.acked) this.done.set(id, { reply, atMs: nowMs });
  }

  /** Drops replies <= ack; returns true when ack advanced. */
  acknowledge(ack: number): boolean {
    if (ack <= this.acked) return false;
    this.acked = ack;
    for (const id of this.done.keys()) if (id <= ack) this.done.delete(id);
    return true;
  }

  /** Drops replies completed more than ttlMs ago. Entries are in completion order. */
  expire(nowMs: number, ttlMs: number): void {
    for (const [id, entry] of this.done) {
      if (nowMs - entry.atMs < ttlMs) break;
      this.done.delete(id);
    }
  }
}
