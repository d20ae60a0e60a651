/**
 * The agent's proof that it may use a volume's store, sent as `authToken` in Mount and
 * RenewMount (docs/SECURITY.md §4.1):
 * - Swift: the X-Auth-Token its plug-in gave it;
 * - S3: a presigned HEAD of the volume's bucket (path style, SigV4 query signature), valid
 *   AUTH_TOKEN_PRESIGN_SECONDS. The secret key stays here; the URL is good for that one request.
 * A token is a secret: never logged, never put in an error message.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Credentials } from '../auth/types.js';
import { PfsError } from '../errors/index.js';
import { newS3Client, s3Target } from './s3.js';
import type { StoreLocation } from './url.js';

/** Life of an S3 presigned token; the agent sends a fresh one every third of it. */
export const AUTH_TOKEN_PRESIGN_SECONDS = 15 * 60;

/** The authToken for a store at `where` made from `creds` (Swift: the token itself; S3: a presigned HEAD bucket). */
export async function makeAuthToken(creds: Credentials, where: StoreLocation): Promise<string> {
  if (where.kind === 'swift' && creds.kind === 'swift') return creds.authToken;
  if (where.kind === 's3' && creds.kind === 's3') {
    const client = newS3Client(creds, s3Target(creds, where), { maxAttempts: 1 });
    try {
      return await getSignedUrl(client, new HeadBucketCommand({ Bucket: where.bucket }), { expiresIn: AUTH_TOKEN_PRESIGN_SECONDS });
    } finally {
      client.destroy();
    }
  }
  throw new PfsError('PFS_ERR_CONFIG', `no auth token for a ${where.kind} store from ${creds.kind} credentials`);
}
