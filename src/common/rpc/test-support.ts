/** Helpers for the rpc tests (not part of the public API). */
import * as net from 'node:net';
import { createRpcClient, createRpcServer } from './index.js';
import type { Logger, RpcClient, RpcClientOptions, RpcDispatcher, RpcServer, RpcServerOptions } from './types.js';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object | string;
  msg?: string;
}

/** A Logger that records every line (set PFS_TEST_LOG=1 to print them). */
export function testLogger(): Logger & { entries: LogEntry[]; at(level: LogEntry['level']): LogEntry[] } {
  const entries: LogEntry[] = [];
  const rec = (level: LogEntry['level']) => (obj: object | string, msg?: string): void => {
    entries.push({ level, obj, msg });
    if (process.env.PFS_TEST_LOG) console.log(level, msg ?? '', JSON.stringify(obj));
  };
  return {
    entries,
    at: (level) => entries.filter((e) => e.level === level),
    debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'),
  };
}

export function serverOptions(log: Logger, over: Partial<RpcServerOptions> = {}): RpcServerOptions {
  return { host: '127.0.0.1', port: 0, keepAliveMs: 5000, replyCacheTtlMs: 60_000, maxFrameBytes: 1 << 20, log, ...over };
}

export function clientOptions(log: Logger, port: number, over: Partial<RpcClientOptions> = {}): RpcClientOptions {
  return {
    host: '127.0.0.1', port, deadlineMs: 10_000, keepAliveMs: 5000,
    reconnectDelayMs: 5, reconnectDelayCapMs: 50, maxFrameBytes: 1 << 20, log, ...over,
  };
}

export async function startPair(
  dispatcher: RpcDispatcher,
  over: { server?: Partial<RpcServerOptions>; client?: Partial<RpcClientOptions> } = {},
): Promise<{ server: RpcServer; client: RpcClient; log: ReturnType<typeof testLogger>; close(): Promise<void> }> {
  const log = testLogger();
  const server = await createRpcServer(serverOptions(log, over.server), dispatcher);
  const client = createRpcClient(clientOptions(log, server.port, over.client));
  return { server, client, log, close: async () => { await client.close(); await server.close(); } };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** An echo dispatcher that counts executions per clientId:requestId and records batch sizes. */
export function countingDispatcher(delayMs = 0): RpcDispatcher & { executions: Map<string, number>; batches: number[] } {
  const executions = new Map<string, number>();
  const batches: number[] = [];
  return {
    executions,
    batches,
    async dispatch(calls) {
      batches.push(calls.length);
      for (const c of calls) {
        const key = `${c.clientId}:${c.requestId}`;
        executions.set(key, (executions.get(key) ?? 0) + 1);
      }
      if (delayMs > 0) await sleep(delayMs);
      return calls.map((c) => ({ result: { method: c.method, echo: c.params } }));
    },
  };
}

/**
 * A TCP proxy in front of a server, to cut connections from either side and to swallow
 * server -> client bytes. Each accepted client socket gets its own upstream socket.
 */
export class CutProxy {
  port = 0;
  dropReplies = false;
  private readonly pairs = new Set<{ down: net.Socket; up: net.Socket }>();
  private readonly server: net.Server;

  constructor(private readonly upstreamPort: number) {
    this.server = net.createServer((down) => {
      const up = net.connect({ host: '127.0.0.1', port: this.upstreamPort });
      const pair = { down, up };
      this.pairs.add(pair);
      const kill = (): void => {
        this.pairs.delete(pair);
        down.destroy();
        up.destroy();
      };
      down.on('data', (b) => up.write(b));
      up.on('data', (b) => { if (!this.dropReplies) down.write(b); });
      for (const s of [down, up]) {
        s.on('error', kill);
        s.on('close', kill);
      }
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Cuts every connection, destroying the server-side or the client-side socket first. */
  cut(side: 'server' | 'client'): void {
    for (const pair of this.pairs) (side === 'server' ? pair.up : pair.down).destroy();
  }

  async close(): Promise<void> {
    this.cut('client');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
