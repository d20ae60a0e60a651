/**
 * Opens the store a volume's URL names, with everything it needs around it:
 *   auth plug-in (swift://, s3:// only) -> backend -> retries (-> caller's wrappers).
 * Both processes use it: the agent with its [Agent] keys, proxyfsd with its [Volume:NAME] keys.
 * close() of the result closes the store and then the plug-in (its stdin closes; it exits).
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAuthPlugin } from '../auth/index.js';
import { PfsError } from '../errors/index.js';
import type { CredentialSource } from '../auth/types.js';
import type { Logger } from '../log/index.js';
import { openLocalStore } from './local.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import { othersCanChange } from './owner-check.js';
import { openS3Store } from './s3.js';
import { openSwiftStore } from './swift.js';
import type { ObjectStore } from './types.js';
import { parseStoreUrl } from './url.js';

export interface StoreAccess {
  url: string;
  /** The auth plug-in (ignored for file:// stores). */
  plugIn: { path: string; envName: string; envValue?: string };
  timeoutMs: number;
  poolSize: number;
  retry: RetryPolicy;
}

export interface ConnectedStore {
  /** The store with retries; close() also stops the plug-in. */
  store: ObjectStore;
  /** 'local' | 'swift' | 's3', for metrics and logs. */
  backend: 'local' | 'swift' | 's3';
  /** The plug-in's credential source, when the backend has one (metrics read its stats). */
  credentials?: CredentialSource;
}

/**
 * The plug-in program PlugInPath names, checked before it runs as this daemon's user
 * (docs/SECURITY.md §7): a bare name is one of pfs's own plug-ins in <install>/bin (never looked
 * up on PATH, where anyone who can write a directory of it could plant one); anything else
 * must be an absolute path. The program (after symlinks) must belong to root or to this
 * process's user and be writable by nobody else, and so must its directory (unless sticky).
 * Throws PfsError PFS_ERR_CONFIG saying what is wrong.
 */
export function resolvePlugInPath(name: string): string {
  let p: string;
  if (!name.includes('/')) p = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin', name);
  else if (path.isAbsolute(name)) p = name;
  else throw new PfsError('PFS_ERR_CONFIG', `PlugInPath ${JSON.stringify(name)} is relative: give an absolute path, or the bare name of a plug-in pfs ships`);
  let real: string;
  try {
    real = realpathSync(p);
  } catch (err) {
    throw new PfsError('PFS_ERR_CONFIG', `PlugInPath ${JSON.stringify(name)}: ${p} cannot be found: ${(err as Error).message}`);
  }
  for (const [what, f] of [['the plug-in', real], ['the plug-in\'s directory', path.dirname(real)]] as const) {
    const problem = othersCanChange(f, { stickyOk: true, user: 'this daemon\'s user' });
    if (problem) throw new PfsError('PFS_ERR_CONFIG', `PlugInPath ${JSON.stringify(name)}: ${what} ${f} ${problem}; it would run as this daemon's user`);
  }
  return real;
}

export async function connectObjectStore(access: StoreAccess, opts: { log: Logger; create?: boolean; hooks?: RetryHooks }): Promise<ConnectedStore> {
  const where = parseStoreUrl(access.url);
  if (where.kind === 'local') {
    return { store: withRetry(openLocalStore(where.dir, { create: opts.create }), access.retry, opts.log, opts.hooks), backend: 'local' };
  }
  const credentials = startAuthPlugin({
    path: resolvePlugInPath(access.plugIn.path),
    envName: access.plugIn.envName,
    envValue: access.plugIn.envValue || undefined,
    log: opts.log,
  });
  let backend: ObjectStore;
  try {
    backend = where.kind === 'swift'
      ? await openSwiftStore({ container: where.container, credentials, poolSize: access.poolSize, timeoutMs: access.timeoutMs, create: opts.create, log: opts.log })
      : await openS3Store({ bucket: where.bucket, endpoint: where.endpoint, region: where.region, credentials, poolSize: access.poolSize, timeoutMs: access.timeoutMs, create: opts.create, log: opts.log });
  } catch (err) {
    await credentials.close();
    throw err;
  }
  const retried = withRetry(backend, access.retry, opts.log, opts.hooks);
  return {
    backend: where.kind,
    credentials,
    store: {
      ...retried,
      list: retried.list,
      async close() {
        try {
          await retried.close();
        } finally {
          await credentials.close();
        }
      },
    },
  };
}
