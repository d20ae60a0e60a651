/**
 * Per-client exactly-once state on the server.
 * - inFlight: request ids handed to the dispatcher and not yet answered. A duplicate of one of
 *   these is not executed again; the reply goes out when the original completes.
 * - done: completed replies by request id, in completion order, until the client acknowledges
 *   them (ack = every reply <= ack was received) or they are older than the TTL.
 * - ack only grows. A reply completing at or below ack is not kept: the client has given up on it.
 * - done holds at most maxBytes of encoded replies; beyond, the oldest are dropped. That is safe:
 *   a mutating call's reply is also in the volume's database (durableReplies), and any other call
 *   may run again.
 */
import type { WireReply } from './types.js';

export type CachedLookup = { state: 'in-flight' } | { state: 'done'; reply: WireReply } | { state: 'miss' };

export class ClientReplyCache {
  private acked = 0;
  private readonly inFlight = new Set<number>();
  private readonly done = new Map<number, { reply: WireReply; atMs: number; sizeBytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes = Infinity) {}

  /** Encoded bytes of the replies kept. */
  get sizeBytes(): number {
    return this.bytes;
  }

  get ack(): number {
    return this.acked;
  }

  get isEmpty(): boolean {
    return this.inFlight.size === 0 && this.done.size === 0;
  }

  get size(): number {
    return this.done.size;
  }

  /** Requests dispatched and not yet completed. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  lookup(id: number): CachedLookup {
    if (this.inFlight.has(id)) return { state: 'in-flight' };
    const hit = this.done.get(id);
    return hit ? { state: 'done', reply: hit.reply } : { state: 'miss' };
  }

  begin(id: number): void {
    this.inFlight.add(id);
  }

  /** Records a completed reply of sizeBytes encoded (unless already acknowledged). */
  complete(id: number, reply: WireReply, nowMs: number, sizeBytes = 0): void {
    this.inFlight.delete(id);
    if (id <= this.acked) return;
    this.drop(id);
    this.done.set(id, { reply, atMs: nowMs, sizeBytes });
    this.bytes += sizeBytes;
    for (const oldest of this.done.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldest);
    }
  }

  private drop(id: number): void {
    const e = this.done.get(id);
    if (!e) return;
    this.bytes -= e.sizeBytes;
    this.done.delete(id);
  }

  /** Drops replies <= ack; returns true when ack advanced. */
  acknowledge(ack: number): boolean {
    if (ack <= this.acked) return false;
    this.acked = ack;
    for (const id of this.done.keys()) if (id <= ack) this.drop(id);
    return true;
  }

  /** Drops replies completed more than ttlMs ago. Entries are in completion order. */
  expire(nowMs: number, ttlMs: number): void {
    for (const [id, entry] of this.done) {
      if (nowMs - entry.atMs < ttlMs) break;
      this.drop(id);
    }
  }
}
