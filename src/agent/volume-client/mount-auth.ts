/**
 * What the agent proves to proxyfsd about its access to the volume's store (docs/SECURITY.md
 * §4.1): the authToken of Mount and RenewMount, made from the credentials its plug-in gave it
 * (Swift: the token; S3: a presigned HEAD of the bucket, common/objectstore auth-token.ts).
 * fresh() is for a token proxyfsd refused: from the current credentials when they make a token
 * other than the one refused (the store's 401 path renewed them meanwhile, or an S3 presigned
 * request is simply made again), else, or when `renew` says so, from credentials the plug-in
 * renews (the CredentialSource's renew, shared with the store's own renewals).
 * Tokens are secrets: never logged.
 */
import type { CredentialSource, Credentials } from '../../common/auth/index.js';
import { errorCode, PfsError } from '../../common/errors/index.js';
import { makeAuthToken, type StoreLocation } from '../../common/objectstore/index.js';

export interface MountAuth {
  /** Whether the volume checks tokens (DescribeVolume's authTokenRequired). */
  readonly required: boolean;
  /** A token from the current credentials (undefined when none is required). */
  current(): Promise<string | undefined>;
  /** A token after proxyfsd refused the last one sent (see file comment). */
  fresh(renew: boolean): Promise<string>;
}

export function createMountAuth(opts: { required: boolean; where: StoreLocation; credentials?: CredentialSource }): MountAuth {
  const { required, where, credentials } = opts;
  let sent: { creds: Credentials; token: string } | undefined;

  function source(): CredentialSource {
    if (!credentials) throw new PfsError('PFS_ERR_CONFIG', `the volume checks object-store tokens but its ${where.kind} store has no auth plug-in here`);
    return credentials;
  }

  async function make(creds: Credentials): Promise<string> {
    const token = await makeAuthToken(creds, where);
    sent = { creds, token };
    return token;
  }

  return {
    required,
    async current() {
      return required ? make(await source().get()) : undefined;
    },
    async fresh(renew) {
      const src = source();
      let creds = await src.get();
      if (renew || (sent?.creds === creds && sent.token === (await makeAuthToken(creds, where)))) creds = await src.renew(creds);
      return make(creds);
    },
  };
}

/**
 * Mount with the current token; when proxyfsd refuses it, once more with credentials the plug-in
 * renewed. `send` makes the Mount call with the token (undefined: the volume checks none).
 */
export async function mountWithToken<T>(auth: MountAuth, send: (authToken: string | undefined) => Promise<T>): Promise<T> {
  try {
    return await send(await auth.current());
  } catch (err) {
    if (!auth.required || errorCode(err) !== 'PFS_ERR_AUTH_TOKEN_REJECTED') throw err;
    return send(await auth.fresh(true));
  }
}
