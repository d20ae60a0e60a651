/**
 * pfsagentd-swift-auth-plugin: Swift credentials for pfsagentd (plugins/pfsagentd-swift-auth-plugin/README.md).
 *
 * Configuration (JSON in the environment variable named by argv[1]):
 *   v1 / tempauth:  {"AuthURL","AuthUser","AuthKey","Account"?}
 *                   GET AuthURL with X-Auth-User and X-Auth-Key; X-Auth-Token and X-Storage-Url back.
 *   Keystone v3:    {"AuthVersion":3?,"AuthURL","Username","Password","UserDomainName"?,"ProjectName",
 *                    "ProjectDomainName"?,"Region"?,"Interface"?,"Account"?}
 *                   chosen when AuthVersion is 3 or AuthURL ends with /v3; POST {AuthURL}/auth/tokens,
 *                   the token from X-Subject-Token, the storage URL from the catalog's object-store
 *                   endpoint for Region and Interface (default "public").
 * Account, when given and different from the storage URL's last path segment, replaces it.
 * Optional "TimeoutMs" (default 10000) bounds each HTTP attempt.
 * Prints {"AuthToken","StorageURL"}.
 */
import { EXIT_CONFIG, fetchRetrying, field, optionalField, PluginFailure, readConfig, serve } from './runtime.js';

const NAME = 'pfsagentd-swift-auth-plugin';

interface SwiftAnswer {
  AuthToken: string;
  StorageURL: string;
}

type Conf = Record<string, unknown>;

function timeoutOf(conf: Conf): number {
  const t = conf.TimeoutMs ?? 10_000;
  if (typeof t !== 'number' || !(t > 0)) throw new PluginFailure('configuration field "TimeoutMs" must be a positive number', EXIT_CONFIG);
  return t;
}

/** Replaces the storage URL's account (its last path segment) with `account` when they differ. */
function withAccount(storageUrl: string, account: string | undefined): string {
  if (!account) return storageUrl;
  const url = new URL(storageUrl);
  const parts = url.pathname.replace(/\/+$/, '').split('/');
  if (parts[parts.length - 1] === account) return storageUrl;
  parts[parts.length - 1] = account;
  url.pathname = parts.join('/');
  return url.toString();
}

async function authV1(conf: Conf): Promise<SwiftAnswer> {
  const authUrl = field(conf, 'AuthURL');
  const res = await fetchRetrying(authUrl, {
    method: 'GET',
    headers: { 'X-Auth-User': field(conf, 'AuthUser'), 'X-Auth-Key': field(conf, 'AuthKey') },
  }, `GET ${authUrl}`, { timeoutMs: timeoutOf(conf) });
  await res.body?.cancel();
  if (res.status === 401 || res.status === 403) throw new PluginFailure(`GET ${authUrl} refused AuthUser/AuthKey (${res.status})`);
  if (res.status < 200 || res.status > 299) throw new PluginFailure(`GET ${authUrl} answered ${res.status} ${res.statusText}`);
  const token = res.headers.get('x-auth-token') ?? res.headers.get('x-storage-token');
  const storageUrl = res.headers.get('x-storage-url');
  if (!token) throw new PluginFailure(`GET ${authUrl}: the answer has no X-Auth-Token header`);
  if (!storageUrl) throw new PluginFailure(`GET ${authUrl}: the answer has no X-Storage-Url header`);
  return { AuthToken: token, StorageURL: withAccount(storageUrl, optionalField(conf, 'Account')) };
}

interface CatalogEntry {
  type?: string;
  endpoints?: { interface?: string; region?: string; region_id?: string; url?: string }[];
}

async function authV3(conf: Conf): Promise<SwiftAnswer> {
  const base = field(conf, 'AuthURL').replace(/\/+$/, '');
  const url = `${/\/v3$/.test(base) ? base : `${base}/v3`}/auth/tokens`;
  const region = optionalField(conf, 'Region');
  const iface = field(conf, 'Interface', 'public');
  const body = {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: field(conf, 'Username'), domain: { name: field(conf, 'UserDomainName', 'Default') }, password: field(conf, 'Password') } },
      },
      scope: { project: { name: field(conf, 'ProjectName'), domain: { name: field(conf, 'ProjectDomainName', 'Default') } } },
    },
  };
  const res = await fetchRetrying(url, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  }, `POST ${url}`, { timeoutMs: timeoutOf(conf) });
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new PluginFailure(`POST ${url} refused Username/Password for project ${field(conf, 'ProjectName')} (${res.status})`);
  }
  if (res.status < 200 || res.status > 299) {
    await res.body?.cancel();
    throw new PluginFailure(`POST ${url} answered ${res.status} ${res.statusText}`);
  }
  const token = res.headers.get('x-subject-token');
  if (!token) throw new PluginFailure(`POST ${url}: the answer has no X-Subject-Token header`);
  let catalog: CatalogEntry[];
  try {
    catalog = ((await res.json()) as { token?: { catalog?: CatalogEntry[] } }).token?.catalog ?? [];
  } catch {
    throw new PluginFailure(`POST ${url}: the answer's body is not JSON`);
  }
  const endpoint = catalog.filter((e) => e.type === 'object-store').flatMap((e) => e.endpoints ?? [])
    .find((e) => e.interface === iface && (!region || e.region_id === region || e.region === region) && e.url);
  if (!endpoint) {
    throw new PluginFailure(`POST ${url}: the catalog has no object-store endpoint with interface ${iface}${region ? ` in region ${region}` : ''}`);
  }
  return { AuthToken: token, StorageURL: withAccount(endpoint.url!, optionalField(conf, 'Account')) };
}

function isKeystoneV3(conf: Conf): boolean {
  return conf.AuthVersion === 3 || conf.AuthVersion === '3' || /\/v3\/?$/.test(String(conf.AuthURL ?? ''));
}

serve(NAME, () => {
  const conf = readConfig();
  return isKeystoneV3(conf) ? authV3(conf) : authV1(conf);
});
