/**
 * Credentials for an object store, as an auth plug-in hands them over (docs/PLUGINS.md).
 * Swift: a token and the storage URL (http(s)://host/v1/AUTH_account).
 * S3: keys in the AWS credential_process shape, plus where the store is.
 */
export interface SwiftCredentials {
  kind: 'swift';
  authToken: string;
  storageUrl: string;
}

export interface S3Credentials {
  kind: 's3';
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When the keys stop working; the source renews before then. */
  expiration?: Date;
  endpoint?: string;
  region?: string;
  bucket?: string;
}

export type Credentials = SwiftCredentials | S3Credentials;

export interface CredentialSource {
  /**
   * The current credentials. Waits for the first ones; rejects with PFS_ERR_PLUGIN when the
   * plug-in cannot produce any within its retry limits, or PFS_ERR_CONFIG after close().
   */
  get(opts?: { signal?: AbortSignal }): Promise<Credentials>;
  /**
   * Called with credentials the store refused (401, expired token). When newer credentials
   * exist already they are returned at once; otherwise one renewal runs and every caller holding
   * `stale` at that moment shares it.
   */
  renew(stale: Credentials, opts?: { signal?: AbortSignal }): Promise<Credentials>;
  /** Counters for metrics: renewals asked for, plug-in (re)starts. */
  readonly stats: { renewals: number; pluginStarts: number; pluginFailures: number };
  /** Closes the plug-in's stdin (it exits) and rejects later calls. */
  close(): Promise<void>;
}
