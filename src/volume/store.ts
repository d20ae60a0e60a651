/** A volume's object store, reached with the volume's own plug-in and retry settings. */
import type { Logger } from '../common/log/index.js';
import { connectObjectStore, withMetrics, type ConnectedStore, type StoreAccess, type StoreObserver } from '../common/objectstore/index.js';

export interface VolumeStoreSettings {
  name: string;
  objectStoreUrl: string;
  /** From the [Volume:NAME] plug-in and Swift* keys; absent means the keys' defaults. */
  storeAccess?: StoreAccess;
}

/** The defaults of the [Volume:NAME] store keys (config-keys.ts), for settings built in code. */
export function defaultStoreAccess(url: string): StoreAccess {
  return {
    url,
    plugIn: { path: 'pfsagentd-swift-auth-plugin', envName: 'SwiftAuthBlob' },
    timeoutMs: 60_000,
    poolSize: 200,
    retry: { limit: 10, delayMs: 1000, variancePercent: 25, expBackoff: 1.4 },
  };
}

/** proxyfsd's metrics of its object-store calls (the agent has its own). */
export interface StoreMetrics {
  observer: StoreObserver;
  onRetry(op: string, backend: string): void;
}

export async function connectVolumeStore(s: VolumeStoreSettings, log: Logger, opts: { create?: boolean; metrics?: StoreMetrics } = {}): Promise<ConnectedStore> {
  const access = s.storeAccess ?? defaultStoreAccess(s.objectStoreUrl);
  let backend = '';
  const m = opts.metrics;
  const connected = await connectObjectStore(access, { log, create: opts.create, hooks: m && { onRetry: (op) => m.onRetry(op, backend) } });
  backend = connected.backend;
  return m ? { ...connected, store: withMetrics(connected.store, connected.backend, m.observer) } : connected;
}
