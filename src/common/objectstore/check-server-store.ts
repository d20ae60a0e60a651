/**
 * Which object store an agent uses when the volume server's Mount reply names one
 * (docs/SECURITY.md §1, "a spoofed volume server"). The agent signs requests to that store and
 * sends it every file's data, so the server's word alone must not pick it.
 *
 * With the agent's own ObjectStoreURL set, the reply must name the same store (sameStore: the
 * same kind; container, bucket or directory; S3 endpoint and region; after normalisation) and
 * the agent's own URL is used. Otherwise (the default) the reply is accepted only where it
 * cannot send data or signatures anywhere the agent's own settings do not already allow:
 *   - swift://CONTAINER: the account and its proxy come from the agent's own plug-in's
 *     StorageURL; the server picks only a container there;
 *   - s3://BUCKET with no endpoint parameter (AWS's endpoint for the region, or the endpoint the
 *     agent's own plug-in names, which wins over the URL's) and a plain region name;
 *   - file:///DIR only from a volume server reached on loopback (the same machine), and only
 *     when DIR (after symlinks) is an existing directory that is not a system directory, and it
 *     and every directory above it belong to root or the agent's user and are writable by nobody
 *     else (sticky directories above it excepted).
 * Anything else is refused with PfsError PFS_ERR_CONFIG naming both locations (URLs never hold
 * credentials: parseStoreUrl refuses them; an endpoint's user part is not shown).
 */
import { realpathSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { PfsError } from '../errors/index.js';
import { othersCanChange } from './owner-check.js';
import { parseStoreUrl, type StoreLocation } from './url.js';

export interface ServerStoreContext {
  /** The agent's own ObjectStoreURL; '' when not set. */
  configuredUrl: string;
  /** The volume server's address as the agent dialled it (RetryRPCPublicIPAddr). */
  serverHost: string;
}

/** The URL the agent should open for `serverUrl`, or PFS_ERR_CONFIG saying why it must not. */
export function checkServerStore(serverUrl: string, ctx: ServerStoreContext): string {
  let named: StoreLocation;
  try {
    named = parseStoreUrl(serverUrl);
  } catch (err) {
    throw new PfsError('PFS_ERR_CONFIG', `the volume server named an object store the agent cannot use: ${(err as Error).message}`);
  }
  if (ctx.configuredUrl) {
    const own = parseStoreUrl(ctx.configuredUrl);
    if (sameStore(own, named)) return ctx.configuredUrl;
    throw new PfsError('PFS_ERR_CONFIG', `the volume server names object store ${describeStore(named)}, but [Agent] ObjectStoreURL is ` +
      `${describeStore(own)}: refusing to mount (a spoofed or misconfigured volume server would get this agent's data and signed requests; ` +
      'fix whichever side is wrong)');
  }
  const problem = defaultRefusal(named, ctx.serverHost);
  if (problem === undefined) return serverUrl;
  throw new PfsError('PFS_ERR_CONFIG', `the volume server names object store ${describeStore(named)}, which this agent does not use ` +
    `unless its own [Agent] ObjectStoreURL names it too: ${problem}`);
}

/** Whether two locations are the same store. */
export function sameStore(a: StoreLocation, b: StoreLocation): boolean {
  if (a.kind === 'local' && b.kind === 'local') return sameDir(a.dir, b.dir);
  if (a.kind === 'swift' && b.kind === 'swift') return a.container === b.container;
  if (a.kind === 's3' && b.kind === 's3') {
    return a.bucket === b.bucket && normalEndpoint(a.endpoint) === normalEndpoint(b.endpoint) && (a.region ?? DEFAULT_REGION) === (b.region ?? DEFAULT_REGION);
  }
  return false;
}

/** A location as a URL for messages (an endpoint's user and password left out). */
export function describeStore(loc: StoreLocation): string {
  switch (loc.kind) {
    case 'local':
      return `file://${loc.dir}`;
    case 'swift':
      return `swift://${loc.container}`;
    case 's3': {
      const params = [loc.endpoint !== undefined && `endpoint=${normalEndpoint(loc.endpoint)}`, loc.region !== undefined && `region=${loc.region}`].filter(Boolean);
      return `s3://${loc.bucket}${params.length ? `?${params.join('&')}` : ''}`;
    }
  }
}

/** As s3.ts: no region means us-east-1. */
const DEFAULT_REGION = 'us-east-1';

function normalEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  try {
    const u = new URL(endpoint); // lower-cases scheme and host, drops a default port
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}${u.search}`;
  } catch {
    return '(not a URL)';
  }
}

function sameDir(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function defaultRefusal(named: StoreLocation, serverHost: string): string | undefined {
  switch (named.kind) {
    case 'swift':
      return undefined;
    case 's3':
      if (named.endpoint !== undefined) return 'an S3 endpoint named by the volume server is used only when the agent\'s ObjectStoreURL names the same one';
      if (named.region !== undefined && !/^[a-z0-9-]{1,64}$/.test(named.region)) return 'its region is not a region name';
      return undefined;
    case 'local':
      if (!isLoopback(serverHost)) return `a file:// store is accepted by default only from a volume server on this machine (RetryRPCPublicIPAddr ${serverHost} is not a loopback address)`;
      return localDirRefusal(named.dir);
  }
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return isIP(h) === 6 && (h === '::1' || /^::ffff:127\./.test(h));
}

/** Directories (exactly) and trees (and everything below) an agent never writes objects into. */
const SYSTEM_DIRS = ['/', '/home', '/media', '/mnt', '/opt', '/root', '/run', '/srv', '/tmp', '/var', '/var/lib', '/var/log', '/var/run', '/var/tmp'];
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr'];

function localDirRefusal(dir: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return `${dir} does not exist`;
  }
  if (!statSync(real).isDirectory()) return `${real} is not a directory`;
  if (SYSTEM_DIRS.includes(real) || SYSTEM_TREES.some((t) => real === t || real.startsWith(`${t}/`))) return `${real} is a system directory`;
  for (let d = real; ; d = path.dirname(d)) {
    const problem = othersCanChange(d, { stickyOk: d !== real, user: 'this agent\'s user' });
    if (problem) return `${d} ${problem}`;
    if (d === path.dirname(d)) return undefined;
  }
}
