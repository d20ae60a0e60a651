/**
 * proxyfsd's server: opens every configured volume, starts the RPC listener and wires the
 * dispatcher (group commit, durable replies) and the mount table. close() stops accepting,
 * finishes in-flight batches, stops GC and closes the databases.
 * Parts: volume.ts (one volume composed), mounts.ts, handlers.ts, dispatcher.ts, reply-store.ts,
 * settings.ts (config -> settings).
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '../../common/clock/index.js';
import { createRpcServer, type Logger, type RpcServer } from '../../common/rpc/index.js';
import { createDispatcher, type DispatchObserver } from './dispatcher.js';
import { createMounts, type Mounts } from './mounts.js';
import type { StoreMetrics } from '../store.js';
import { openVolume, type Volume, type VolumeSettings } from './volume.js';

export type { VolumeSettings } from './volume.js';
export type { DispatchObserver } from './dispatcher.js';
export type { Mounts } from './mounts.js';
export { volumeSettingsFromConfig, rpcServerSettingsFromConfig, type RpcServerSettings } from './settings.js';
import type { RpcServerSettings } from './settings.js';

export interface VolumeServer {
  readonly port: number;
  readonly volumes: ReadonlyMap<string, Volume>;
  readonly mounts: Mounts;
  readonly rpc: RpcServer;
  close(): Promise<void>;
}

export interface VolumeServerOptions {
  volumes: VolumeSettings[];
  rpc: RpcServerSettings;
  clock: Clock;
  log: Logger;
  /** Metrics of each RPC and batch; default none. */
  observer?: DispatchObserver;
  /** Counts the volumes' object-store calls and retries (proxyfsd's /metrics). */
  storeMetrics?: StoreMetrics;
}

export async function startVolumeServer(opts: VolumeServerOptions): Promise<VolumeServer> {
  const volumes = new Map<string, Volume>();
  try {
    for (const s of opts.volumes) volumes.set(s.name, await openVolume(s, opts.clock, opts.log, opts.storeMetrics));
  } catch (err) {
    await Promise.all([...volumes.values()].map((v) => v.close()));
    throw err;
  }
  let rpc: RpcServer | undefined;
  const mounts = createMounts(volumes.values(), opts.clock, opts.log, (clientId) => rpc?.connectedClients().includes(clientId) ?? false);
  const dispatcher = createDispatcher({ volumes, mounts, clock: opts.clock, log: opts.log, replyTtlMs: opts.rpc.replyCacheTtlMs, observer: opts.observer });
  try {
    rpc = await createRpcServer({
      host: opts.rpc.host,
      port: opts.rpc.port,
      tls: opts.rpc.certFilePath ? { certPem: readFileSync(opts.rpc.certFilePath), keyPem: readFileSync(opts.rpc.keyFilePath ?? '') } : undefined,
      keepAliveMs: opts.rpc.keepAliveMs,
      replyCacheTtlMs: opts.rpc.replyCacheTtlMs,
      maxFrameBytes: opts.rpc.maxFrameBytes,
      log: opts.log,
    }, dispatcher);
  } catch (err) {
    mounts.close();
    await Promise.all([...volumes.values()].map((v) => v.close()));
    throw err;
  }
  const server = rpc;
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    volumes,
    mounts,
    rpc: server,
    close() {
      closing ??= (async () => {
        await server.close();
        mounts.close();
        await Promise.all([...volumes.values()].map((v) => v.close()));
      })();
      return closing;
    },
  };
}
