/**
 * The config keys that say how to reach a swift:// or s3:// store: the auth plug-in and the
 * reference's Swift* request keys (which govern the S3 backend too). The agent has them in
 * [Agent]; proxyfsd in each [Volume:NAME]. storeAccessFrom reads them back into settings.
 */
import type { KeySpec } from '../config/index.js';
import type { StoreAccess } from './open.js';

export const plugInKeys: Record<string, KeySpec> = {
  PlugInPath: {
    type: 'string', default: 'pfsagentd-swift-auth-plugin',
    doc: 'The auth plug-in program (docs/PLUGINS.md), started when the volume\'s object store is `swift://` ' +
      'or `s3://` (not for `file://`), with `PlugInEnvName` as its first argument; it prints credentials as ' +
      'JSON and renews them on each byte read from stdin. A bare name is one of pfs\'s own plug-ins in its `bin/` ' +
      '(`pfsagentd-swift-auth-plugin`, `pfsagentd-s3-auth-plugin`; never looked up on PATH); any other plug-in ' +
      'is given by absolute path. The program and its directory must belong to root or to the daemon\'s user and ' +
      'be writable by nobody else (a sticky directory is fine), or the daemon refuses to start.',
  },
  PlugInEnvName: {
    type: 'string', default: 'SwiftAuthBlob',
    doc: 'Name of the environment variable from which the plug-in reads its credentials blob.',
  },
  PlugInEnvValue: {
    type: 'string', default: '', secret: true,
    doc: 'If set, the plug-in\'s environment variable `PlugInEnvName` is set to this value (write commas ' +
      'as `\\u002C`); empty keeps the inherited environment (systemd `EnvironmentFile=`). A secret: never logged ' +
      'or shown, refused as a command-line override, and refused in a config file every user can read (chmod 600).',
  },
};

export const storeAccessKeys: Record<string, KeySpec> = {
  SwiftTimeout: {
    type: 'duration', default: '1m', min: 1,
    doc: 'Timeout of one object-store request (connect, headers and body), Swift or S3; a request that ' +
      'times out is retried. The reference\'s default of 10m let one stalled request hold a file for ten ' +
      'minutes; 1m is ample for a log segment.',
  },
  SwiftRetryLimit: {
    type: 'int', default: '10', min: 0,
    doc: 'Retries of a failed object-store request (5xx, timeouts and transport errors; a 401 first renews ' +
      'the credentials through the plug-in). When they run out the application gets EIO.',
  },
  SwiftRetryDelay: { type: 'duration', default: '1s', doc: 'Delay before the first retry.' },
  SwiftRetryDelayVariance: {
    type: 'int', default: '25', min: 1, max: 100,
    doc: 'Each retry delay is shortened by a random share of up to this many percent (jitter).',
  },
  SwiftRetryExpBackoff: {
    type: 'float', default: '1.4', min: 1,
    doc: 'Factor by which the retry delay grows after each retry.',
  },
  SwiftConnectionPoolSize: {
    type: 'int', default: '200', min: 1,
    doc: 'Maximum concurrent (and idle kept-alive) connections to the object store.',
  },
};

/** The StoreAccess for `url` from a section holding plugInKeys and storeAccessKeys. */
export function storeAccessFrom(url: string, k: Record<string, unknown>): StoreAccess {
  return {
    url,
    plugIn: { path: k.PlugInPath as string, envName: k.PlugInEnvName as string, envValue: (k.PlugInEnvValue as string) || undefined },
    timeoutMs: k.SwiftTimeout as number,
    poolSize: k.SwiftConnectionPoolSize as number,
    retry: {
      limit: k.SwiftRetryLimit as number,
      delayMs: k.SwiftRetryDelay as number,
      variancePercent: k.SwiftRetryDelayVariance as number,
      expBackoff: k.SwiftRetryExpBackoff as number,
    },
  };
}
