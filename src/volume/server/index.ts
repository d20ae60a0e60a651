/**
 * proxyfsd's server: opens every configured volume, starts the RPC listener and wires the
 * dispatcher (group commit, durable replies), the mount table and each volume's lease manager
 * and lock table (interrupts go out as LeaseInterrupt upcalls; an eviction fences the mount).
 * close() stops accepting, finishes in-flight batches, stops GC and closes the databases;
 * requests still waiting for a lease or lock are left unanswered (clients resend them).
 * Parts: volume.ts (one volume composed), mounts.ts, mount-tokens.ts (object-store tokens of
 * mounts, docs/SECURITY.md §4.1), handlers.ts (namespace and data),
 * coordination.ts (Lease, Lock, GetLock), dispatcher.ts, reply-store.ts, settings.ts.
 */
import type { Clock } from '../../common/clock/index.js';
import type { UpcallParams } from '../../common/protocol/index.js';
import { timerScheduler, type Scheduler } from '../leases/index.js';
import { createRpcServer, readPemFile, readPrivateKeyFile, type Logger, type RpcServer, type RpcServerOptions } from '../../common/rpc/index.js';
import { createDispatcher, type DispatchObserver } from './dispatcher.js';
import { createMounts, type Mounts } from './mounts.js';
import { createMountTokens } from './mount-tokens.js';
import type { StoreMetrics } from '../store.js';
import { openVolume, type Volume, type VolumeSettings } from './volume.js';

export type { VolumeSettings } from './volume.js';
export type { DispatchObserver } from './dispatcher.js';
export type { Mounts } from './mounts.js';
export type { MountInfo } from './mounts.js';
export {
  volumeSettingsFromConfig, rpcServerSettingsFromConfig, leaseSettingsFromConfig, leaseWaitBoundMs, DEFAULT_LEASE_SETTINGS,
  type RpcServerSettings, type LeaseServerSettings,
} from './settings.js';
import { DEFAULT_LEASE_SETTINGS, type LeaseServerSettings, type RpcServerSettings } from './settings.js';

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
  /** [Leases]; default DEFAULT_LEASE_SETTINGS. */
  leases?: LeaseServerSettings;
  /** Timers of leases and locks; default real timers (tests pass a manual one). */
  scheduler?: Scheduler;
  /** Longest hold of a blocking Lock; default LOCK_WAIT_CAP_MS (tests shorten it). */
  lockWaitCapMs?: number;
}

export async function startVolumeServer(opts: VolumeServerOptions): Promise<VolumeServer> {
  const volumes = new Map<string, Volume>();
  let rpc: RpcServer | undefined;
  let mounts: Mounts | undefined;
  const coordination = {
    settings: opts.leases ?? DEFAULT_LEASE_SETTINGS,
    scheduler: opts.scheduler ?? timerScheduler(),
    lockWaitCapMs: opts.lockWaitCapMs,
    reclaimPeriodMs: (opts.leases ?? DEFAULT_LEASE_SETTINGS).reclaimPeriodMs,
    hooks: {
      interrupt(mountId: string, ino: number, action: UpcallParams<'LeaseInterrupt'>['action']): boolean {
        const clientId = mounts?.clientOf(mountId);
        const params: UpcallParams<'LeaseInterrupt'> = { ino, action };
        return clientId !== undefined && (rpc?.upcall(clientId, 'LeaseInterrupt', params) ?? false);
      },
      evict(mountId: string, ino: number): void {
        mounts?.evict(mountId, ino);
      },
    },
  };
  try {
    for (const s of opts.volumes) volumes.set(s.name, await openVolume(s, opts.clock, opts.log, coordination, opts.storeMetrics));
  } catch (err) {
    await Promise.all([...volumes.values()].map((v) => v.close()));
    throw err;
  }
  const observer = opts.observer;
  const tokens = createMountTokens({
    clock: opts.clock, log: opts.log,
    isLive: (mountId) => mounts?.clientOf(mountId) !== undefined,
    onCheck: observer?.onTokenCheck && ((volume, result) => observer.onTokenCheck!(volume, result)),
  });
  const mountTable = createMounts(volumes.values(), opts.clock, opts.log, (clientId) => rpc?.connectedClients().includes(clientId) ?? false, (mountId) => tokens.forget(mountId));
  mounts = mountTable;
  const dispatcher = createDispatcher({ volumes, mounts: mountTable, tokens, clock: opts.clock, log: opts.log, replyTtlMs: opts.rpc.replyCacheTtlMs, observer });
  try {
    rpc = await createRpcServer({
      host: opts.rpc.host,
      port: opts.rpc.port,
      tls: rpcTls(opts.rpc),
      keepAliveMs: opts.rpc.keepAliveMs,
      replyCacheTtlMs: opts.rpc.replyCacheTtlMs,
      maxFrameBytes: opts.rpc.maxFrameBytes,
      log: opts.log,
      peers: opts.rpc.peers,
      limits: opts.rpc.limits,
    }, dispatcher);
  } catch (err) {
    mountTable.close();
    await Promise.all([...volumes.values()].map((v) => v.close()));
    throw err;
  }
  const server = rpc;
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    volumes,
    mounts: mountTable,
    rpc: server,
    close() {
      closing ??= (async () => {
        await server.close();
        mountTable.close();
        await Promise.all([...volumes.values()].map((v) => v.close()));
      })();
      return closing;
    },
  };
}

/** The TLS files of [RPCServer], read (the private key only when no group or other user may access it). */
function rpcTls(s: RpcServerSettings): RpcServerOptions['tls'] {
  if (!s.certFilePath) return undefined;
  return {
    certPem: readPemFile(s.certFilePath, '[RPCServer] CertFilePath'),
    keyPem: readPrivateKeyFile(s.keyFilePath ?? '', '[RPCServer] KeyFilePath'),
    ...(s.clientCaFilePath && { clientCaPem: readPemFile(s.clientCaFilePath, '[RPCServer] ClientCAFilePath') }),
  };
}
