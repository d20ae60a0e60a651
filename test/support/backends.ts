/**
 * Test support: which object store a test's volume lives in. `PFS_TEST_BACKEND` (local | swift |
 * s3, default local) picks it for every proxyfsd that test/support starts in this process; the
 * e2e files *-swift.test.ts and *-s3.test.ts set it and then import the local test file, so the
 * same tests run against all three backends.
 *
 * swift and s3 volumes live in the one-node Swift that scripts/swift-aio.sh runs on 127.0.0.1
 * (test/support/swift.ts), each in a fresh container or bucket, reached through the shipped
 * auth plug-ins — the same path a user's volume takes.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { StoreAccess } from '../../src/common/objectstore/index.js';
import { useSwift } from './swift.js';

export type Backend = 'local' | 'swift' | 's3';

export function testBackend(): Backend {
  const b = process.env.PFS_TEST_BACKEND ?? 'local';
  if (b !== 'local' && b !== 'swift' && b !== 's3') throw new Error(`PFS_TEST_BACKEND=${b}: expected local, swift or s3`);
  return b;
}

/** The repository (this file runs from dist/test/support); not imported from proxyfsd.ts, which imports this file. */
const REPO = resolve(import.meta.dirname, '../../..');

export const SWIFT_PLUGIN = join(REPO, 'plugins/pfsagentd-swift-auth-plugin/pfsagentd-swift-auth-plugin');
export const S3_PLUGIN = join(REPO, 'plugins/pfsagentd-s3-auth-plugin/pfsagentd-s3-auth-plugin');

/** An INI value: commas and spaces escaped as the reference does. */
function iniValue(v: string): string {
  return v.replace(/,/g, '\\u002C').replace(/ /g, '\\u0020');
}

export interface BackendKeys {
  /** ObjectStoreURL for the [Volume:NAME] section. */
  objectStoreUrl: string;
  /** Plug-in and request keys as INI text values, for [Volume:NAME] and for [Agent] alike. */
  keys: Record<string, string>;
  /** The same, parsed: for opening the store from a test or bench process. */
  access: StoreAccess;
}

/** Keys for a fresh container or bucket on `backend`; undefined for local (the caller's directory). */
export async function remoteBackendKeys(backend: Exclude<Backend, 'local'>, opts: { proxyPort?: number; retryLimit?: number } = {}): Promise<BackendKeys> {
  const started = await useSwift();
  // Another proxy of the same Swift (a test that stops it) answers auth with its own StorageURL.
  const swap = (url: string) => (opts.proxyPort ? url.replace(/:\d+(\/|$)/, `:${opts.proxyPort}$1`) : url);
  const aio = { ...started, authUrl: swap(started.authUrl), s3Endpoint: swap(started.s3Endpoint) };
  const name = `pfs-test-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  // 10 retries from 500 ms growing by 1.4: ~35 s, enough to ride out a loaded CI machine's
  // 503s (the proxy's node_timeout) and a restarting proxy.
  const retryLimit = opts.retryLimit ?? 10;
  const common = { SwiftTimeout: '30s', SwiftRetryLimit: String(retryLimit), SwiftRetryDelay: '500ms', SwiftConnectionPoolSize: '64' };
  const plugIn = backend === 'swift'
    ? { path: SWIFT_PLUGIN, envName: 'SwiftAuthBlob', envValue: JSON.stringify({ AuthURL: aio.authUrl, AuthUser: aio.user, AuthKey: aio.key, Account: aio.account }) }
    : { path: S3_PLUGIN, envName: 'S3AuthBlob', envValue: JSON.stringify({ AccessKeyId: aio.s3AccessKey, SecretAccessKey: aio.s3SecretKey, Endpoint: aio.s3Endpoint, Region: aio.region }) };
  const objectStoreUrl = `${backend}://${name}`;
  return {
    objectStoreUrl,
    keys: { ...common, PlugInPath: plugIn.path, PlugInEnvName: plugIn.envName, PlugInEnvValue: iniValue(plugIn.envValue) },
    access: {
      url: objectStoreUrl, plugIn, timeoutMs: 30_000, poolSize: 64,
      retry: { limit: retryLimit, delayMs: 500, variancePercent: 25, expBackoff: 1.4 },
    },
  };
}

export function keysToIni(keys: Record<string, string>): string {
  return Object.entries(keys).map(([k, v]) => `${k}: ${v}`).join('\n');
}
