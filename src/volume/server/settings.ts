/** Reads proxyfsd's validated config into the settings the server components take. */
import type { Config } from '../../common/config/index.js';
import { storeAccessFrom } from '../../common/objectstore/config-keys.js';
import type { VolumeSettings } from './volume.js';

export interface RpcServerSettings {
  host: string;
  port: number;
  certFilePath?: string;
  keyFilePath?: string;
  replyCacheTtlMs: number;
  keepAliveMs: number;
  maxFrameBytes: number;
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
    }));
}

export function rpcServerSettingsFromConfig(config: Config): RpcServerSettings {
  const k = config.sections.RPCServer ?? {};
  return {
    host: k.IPAddr as string,
    port: k.TCPPort as number,
    certFilePath: (k.CertFilePath as string) || undefined,
    keyFilePath: (k.KeyFilePath as string) || undefined,
    replyCacheTtlMs: k.ReplyCacheTTL as number,
    keepAliveMs: k.KeepAlivePeriod as number,
    maxFrameBytes: k.MaxFrameSize as number,
  };
}
