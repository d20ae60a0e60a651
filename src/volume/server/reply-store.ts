/**
 * Durable replies of mutating RPCs (table rpc_replies of each volume). Saves happen inside the
 * batch transaction; acknowledgements are remembered in memory and applied as deletes in the
 * next transaction on that volume, so trimming costs no extra fsync. Rows older than the TTL
 * are deleted too (a client that vanished never acknowledges).
 */
import type { Clock } from '../../common/clock/index.js';
import type { WireReply } from '../../common/rpc/index.js';
import type { Volume } from './volume.js';

export interface ReplyStore {
  save(volume: Volume, clientId: string, requestId: number, reply: WireReply): void;
  get(clientId: string, requestId: number): WireReply | undefined;
  ack(clientId: string, ackedUpTo: number): void;
  /** Applies pending acknowledgements and TTL expiry; call inside a transaction on `volume`. */
  trimPending(volume: Volume): void;
}

export function createReplyStore(volumes: Volume[], clock: Clock, ttlMs: number): ReplyStore {
  const pendingAcks = new Map<string, number>();
  const appliedAcks = new Map<Volume, Map<string, number>>();
  const lastTtlSweep = new Map<Volume, number>();
  const ttlNs = BigInt(Math.round(ttlMs)) * 1_000_000n;

  const stmts = new Map(volumes.map((v) => [v, {
    insert: v.md.db.prepare('INSERT OR REPLACE INTO rpc_replies(client_id, request_id, reply, created_ns) VALUES (?, ?, ?, ?)'),
    select: v.md.db.prepare<[string, number], { reply: string }>('SELECT reply FROM rpc_replies WHERE client_id = ? AND request_id = ?'),
    trim: v.md.db.prepare('DELETE FROM rpc_replies WHERE client_id = ? AND request_id <= ?'),
    expire: v.md.db.prepare('DELETE FROM rpc_replies WHERE created_ns < ?'),
  }]));

  return {
    save(volume, clientId, requestId, reply) {
      stmts.get(volume)!.insert.run(clientId, requestId, JSON.stringify(reply), clock.nowNs());
    },
    get(clientId, requestId) {
      for (const s of stmts.values()) {
        const row = s.select.get(clientId, requestId);
        if (row) return JSON.parse(row.reply) as WireReply;
      }
      return undefined;
    },
    ack(clientId, ackedUpTo) {
      if ((pendingAcks.get(clientId) ?? 0) < ackedUpTo) pendingAcks.set(clientId, ackedUpTo);
    },
    trimPending(volume) {
      const s = stmts.get(volume)!;
      let applied = appliedAcks.get(volume);
      if (!applied) appliedAcks.set(volume, (applied = new Map()));
      for (const [clientId, upTo] of pendingAcks) {
        if ((applied.get(clientId) ?? 0) >= upTo) continue;
        s.trim.run(clientId, upTo);
        applied.set(clientId, upTo);
        if (volumes.every((v) => (appliedAcks.get(v)?.get(clientId) ?? 0) >= upTo)) {
          pendingAcks.delete(clientId);
          for (const m of appliedAcks.values()) m.delete(clientId);
        }
      }
      const nowMs = clock.nowMs();
      if (nowMs - (lastTtlSweep.get(volume) ?? 0) >= 1000) {
        lastTtlSweep.set(volume, nowMs);
        s.expire.run(clock.nowNs() - ttlNs);
      }
    },
  };
}
