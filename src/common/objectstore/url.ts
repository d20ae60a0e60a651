/** Object store URLs: file:///dir, swift://CONTAINER, s3://BUCKET[?endpoint=URL&region=R]. */
import { fileURLToPath } from 'node:url';
import { PfsError } from '../errors/index.js';

export type StoreLocation =
  | { kind: 'local'; dir: string }
  | { kind: 'swift'; container: string }
  | { kind: 's3'; bucket: string; endpoint?: string; region?: string };

/** Where `url` points, or PFS_ERR_CONFIG saying what is wrong with it. Never echoes credentials. */
export function parseStoreUrl(url: string): StoreLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new PfsError('PFS_ERR_CONFIG', 'the object store URL is not a URL (expected file:///dir, swift://CONTAINER or s3://BUCKET)', { cause: err });
  }
  const shown = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (parsed.username || parsed.password) throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: credentials do not belong in the URL; the auth plug-in supplies them`);
  switch (parsed.protocol) {
    case 'file:':
      if (parsed.host !== '' && parsed.host !== 'localhost') throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: file URLs must name a local absolute directory (file:///dir)`);
      return { kind: 'local', dir: fileURLToPath(parsed) };
    case 'swift:': {
      const container = decodeURIComponent(parsed.host);
      if (container === '' || (parsed.pathname !== '' && parsed.pathname !== '/')) throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: expected swift://CONTAINER (the account comes from the auth plug-in's StorageURL)`);
      return { kind: 'swift', container };
    }
    case 's3:': {
      const bucket = parsed.host;
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || (parsed.pathname !== '' && parsed.pathname !== '/')) {
        throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: expected s3://BUCKET with a DNS-compatible bucket name (3-63 lower-case letters, digits, dots, hyphens)`);
      }
      for (const name of parsed.searchParams.keys()) {
        if (name !== 'endpoint' && name !== 'region') throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: unknown parameter ${name} (endpoint, region)`);
      }
      return { kind: 's3', bucket, endpoint: parsed.searchParams.get('endpoint') ?? undefined, region: parsed.searchParams.get('region') ?? undefined };
    }
    default:
      throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: unsupported scheme ${parsed.protocol} (expected file:, swift: or s3:)`);
  }
}

