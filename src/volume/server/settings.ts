/** Reads proxyfsd's validated config into the settings the server components take. */
import type { Config } from '../../common/config/index.js';
import { PfsError } from '../../common/errors/index.js';
import { storeAccessFrom } from '../../common/objectstore/config-keys.js';
import type { PeerPolicy, ServerLimits } from '../../common/rpc/index.js';
import type { LeaseSettings } from '../leases/index.js';
import type { VolumeSettings } from './volume.js';

export interface RpcServerSettings {
  host: string;
  port: number;
  certFilePath?: string;
  keyFilePath?: string;
  /** CA(s) of agent certificates: TLS asks peers for one (docs/SECURITY.md §2). */
  clientCaFilePath?: string;
  replyCacheTtlMs: number;
  keepAliveMs: number;
  maxFrameBytes: number;
  /** Which peers are served (docs/SECURITY.md §2); default root and our own uid on loopback. */
  peers?: PeerPolicy;
  /** What peers can make the server hold (docs/SECURITY.md §6); default DEFAULT_SERVER_LIMITS. */
  limits?: Partial<ServerLimits>;
}

export function volumeSettingsFromConfig(config: Config): VolumeSettings[] {
  return Object.entries(config.sections)
    .filter(([section]) => section.startsWith('Volume:'))
    .map(([section, k]) => ({
      name: section.slice('Volume:'.length),
      metadataPath: k.MetadataPath as string,
      objectStoreUrl: k.ObjectStoreURL as string,
      storeAccess: storeAccessFrom(k.ObjectStoreURL as string, k),
      deadObjectDeleteDelayMs: k.DeadObjectDeleteDelay as number,
      gcIntervalMs: k.GCInterval as number,
      compactionIntervalMs: k.CompactionInterval as number,
      compactionLiveRatio: k.CompactionLiveRatio as number,
      compactionMaxBytesPerRun: k.CompactionMaxBytesPerRun as number,
      provisionedObjectTtlMs: k.ProvisionedObjectTTL as number,
      mountGracePeriodMs: k.MountGracePeriod as number,
      checkAuthTokens: k.CheckAuthTokens as boolean,
      authTokenCheckPeriodMs: k.AuthTokenCheckPeriod as number,
      capacityBytes: k.Capacity as number,
      inodeLimit: k.InodeLimit as number,
    }));
}

export function rpcServerSettingsFromConfig(config: Config): RpcServerSettings {
  const k = config.sections.RPCServer ?? {};
  const certFilePath = (k.CertFilePath as string) || undefined;
  const keyFilePath = (k.KeyFilePath as string) || undefined;
  const clientCaFilePath = (k.ClientCAFilePath as string) || undefined;
  if (!certFilePath !== !keyFilePath) throw new PfsError('PFS_ERR_CONFIG', `${config.file}: [RPCServer] CertFilePath and KeyFilePath go together: set both (TLS) or neither`);
  if (clientCaFilePath && !certFilePath) throw new PfsError('PFS_ERR_CONFIG', `${config.file}: [RPCServer] ClientCAFilePath needs TLS: set CertFilePath and KeyFilePath too`);
  return {
    host: k.IPAddr as string,
    port: k.TCPPort as number,
    certFilePath,
    keyFilePath,
    clientCaFilePath,
    replyCacheTtlMs: k.ReplyCacheTTL as number,
    keepAliveMs: k.KeepAlivePeriod as number,
    maxFrameBytes: k.MaxFrameSize as number,
    peers: peerPolicy(k.AllowedUIDs as string, k.AllowUnauthenticatedTCP as boolean),
    limits: {
      maxConnections: k.MaxConnections as number,
      maxConnectionsPerPeer: k.MaxConnectionsPerPeer as number,
      frameDeadlineMs: k.FrameDeadline as number,
      replyCacheBytesPerClient: k.ReplyCacheSizePerClient as number,
    },
  };
}

export interface LeaseServerSettings extends LeaseSettings {
  /** The longest a Lease request may wait; the start-up check below keeps the worst case under it. */
  maxLeaseWaitMs: number;
  /** After a start, how long mounts from before it may claim their leases and locks (docs/LEASES.md §8). */
  reclaimPeriodMs: number;
}

/** The documented defaults (tests that start a server without a config). */
export const DEFAULT_LEASE_SETTINGS: LeaseServerSettings = {
  minLeaseDurationMs: 250, interruptIntervalMs: 250, interruptLimit: 20, maxLeases: 100_000, maxLeaseWaitMs: 30_000,
  reclaimPeriodMs: 10_000,
};

/** The longest a Lease request can wait: MinLeaseDuration, then LeaseInterruptLimit sends and one more interval. */
export function leaseWaitBoundMs(s: LeaseSettings): number {
  return s.minLeaseDurationMs + s.interruptLimit * s.interruptIntervalMs;
}

/** [Leases]; PFS_ERR_CONFIG when the worst-case lease wait exceeds MaxLeaseWait. */
export function leaseSettingsFromConfig(config: Config): LeaseServerSettings {
  const k = config.sections.Leases ?? {};
  const s: LeaseServerSettings = {
    minLeaseDurationMs: (k.MinLeaseDuration as number | undefined) ?? DEFAULT_LEASE_SETTINGS.minLeaseDurationMs,
    interruptIntervalMs: (k.LeaseInterruptInterval as number | undefined) ?? DEFAULT_LEASE_SETTINGS.interruptIntervalMs,
    interruptLimit: (k.LeaseInterruptLimit as number | undefined) ?? DEFAULT_LEASE_SETTINGS.interruptLimit,
    maxLeases: (k.MaxLeases as number | undefined) ?? DEFAULT_LEASE_SETTINGS.maxLeases,
    maxLeaseWaitMs: (k.MaxLeaseWait as number | undefined) ?? DEFAULT_LEASE_SETTINGS.maxLeaseWaitMs,
    reclaimPeriodMs: (k.ReclaimPeriod as number | undefined) ?? DEFAULT_LEASE_SETTINGS.reclaimPeriodMs,
  };
  const bound = leaseWaitBoundMs(s);
  if (bound > s.maxLeaseWaitMs) {
    throw new PfsError('PFS_ERR_CONFIG', `${config.file}: [Leases] a lease request may wait MinLeaseDuration + LeaseInterruptLimit × LeaseInterruptInterval = ` +
      `${s.minLeaseDurationMs} + ${s.interruptLimit} × ${s.interruptIntervalMs} = ${bound} ms, more than MaxLeaseWait (${s.maxLeaseWaitMs} ms); ` +
      'lower the interrupt settings or raise MaxLeaseWait (and the agents\' RetryRPCDeadlineIO with it)');
  }
  return s;
}

/** AllowedUIDs (already checked against its pattern) plus root and our own uid. */
export function peerPolicy(allowedUids: string, allowUnauthenticated: boolean): PeerPolicy {
  const listed = allowedUids.split(',').map((u) => u.trim()).filter((u) => u !== '').map(Number);
  return { allowedUids: [...new Set([0, process.geteuid?.() ?? 0, ...listed])], allowUnauthenticated };
}
