/**
 * Group commit for the server: calls are queued; a flush scheduled with setImmediate hands every
 * queued call to the dispatcher as one batch. Batches never overlap: calls arriving while one
 * runs wait and form the next batch. Each call gets exactly one reply, in order; a dispatcher
 * that throws, rejects or returns the wrong number of replies fails the whole batch with the
 * thrown error's wire form. A reply that is a promise (deferred) answers its call when it
 * settles; the batch does not wait for it.
 */
import { PfsError, toWireError } from '../errors/index.js';
import type { IncomingCall, Logger, RpcDispatcher, WireReply } from './types.js';

const MALFORMED_REPLY: WireReply = Object.freeze({
  error: Object.freeze({ code: 'PFS_ERR_INTERNAL', message: 'dispatcher returned a malformed reply' }),
});

export interface BatchItem {
  call: IncomingCall;
  done(reply: WireReply): void;
}

export class Batcher {
  private queue: BatchItem[] = [];
  private flushScheduled = false;
  private running = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly dispatcher: RpcDispatcher, private readonly log: Logger) {}

  push(item: BatchItem): void {
    this.queue.push(item);
    this.schedule();
  }

  /** Resolves when nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private get idle(): boolean {
    return !this.running && !this.flushScheduled && this.queue.length === 0;
  }

  private schedule(): void {
    if (this.flushScheduled || this.running || this.queue.length === 0) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    const batch = this.queue;
    this.queue = [];
    try {
      const replies = await this.dispatch(batch.map((b) => b.call));
      batch.forEach((item, i) => {
        const raw = replies[i];
        if (isPromiseLike(raw)) {
          raw.then(
            (r) => item.done(this.checked(item, normalizeReply(r))),
            (err: unknown) => item.done({ error: toWireError(err) }),
          );
          return;
        }
        const reply = normalizeReply(raw);
        item.done(this.checked(item, reply));
      });
    } catch (err) {
      this.log.error({ err: (err as Error)?.message }, 'rpc reply delivery failed');
    } finally {
      this.running = false;
      this.schedule();
      if (this.idle) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private checked(item: BatchItem, reply: WireReply): WireReply {
    if (reply === MALFORMED_REPLY) {
      const { method, requestId } = item.call;
      this.log.error({ method, requestId }, 'rpc dispatcher returned a malformed reply');
    }
    return reply;
  }

  /** Never rejects: a failed dispatch becomes one error reply per call. */
  private async dispatch(calls: IncomingCall[]): Promise<unknown[]> {
    try {
      const out: unknown = await this.dispatcher.dispatch(calls);
      if (!Array.isArray(out) || out.length !== calls.length) {
        const got = Array.isArray(out) ? `${out.length} replies` : typeof out;
        throw new PfsError('PFS_ERR_INTERNAL', `dispatcher returned ${got} for ${calls.length} calls`);
      }
      return out;
    } catch (err) {
      const methods = [...new Set(calls.map((c) => c.method))].slice(0, 10);
      this.log.error({ calls: calls.length, methods, err: (err as Error)?.message }, 'rpc dispatch failed');
      const wire = toWireError(err);
      return calls.map(() => ({ error: wire }));
    }
  }
}

/** Accepts exactly { result } or { error: { code, message } }; anything else is a dispatcher bug. */
export function normalizeReply(r: unknown): WireReply {
  if (typeof r === 'object' && r !== null) {
    const o = r as Record<string, unknown>;
    const e = o.error as Record<string, unknown> | undefined;
    if ('error' in o && typeof e === 'object' && e !== null && typeof e.code === 'string') {
      return { error: { code: e.code, message: typeof e.message === 'string' ? e.message : '' } };
    }
    if ('result' in o) return { result: o.result };
  }
  return MALFORMED_REPLY;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
