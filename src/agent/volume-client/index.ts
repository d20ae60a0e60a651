/**
 * The agent's typed view of proxyfsd: every RPC of common/protocol with the mount ID filled
 * in. Transport retries, reconnects and deadlines are the RPC client's; this adds types, and
 * the swap of the mount ID when the server refuses it (evicted, or dropped after its grace
 * period, docs/LEASES.md §3): the first call refused for the current mount runs onMountLost
 * (single-flight) and every call refused for it waits for that. A refused call never ran on
 * the server (the fence comes first), so it is sent again under the new mount, except the
 * calls that only make sense under the old one (NOT_RESENT): they fail with the refusal.
 * Once Unmount was sent (shutdown) a refusal is passed on: nothing is mounted again.
 * A call refused with PFS_ERR_AUTH_TOKEN_REJECTED (proxyfsd holds no valid object-store token for
 * the mount, docs/SECURITY.md §4.1) never ran either: the first such refusal runs one renewal
 * (renewToken: a fresh token sent with RenewMount; single-flight per mount) and every refused
 * call is sent again once it is done, at most MAX_TOKEN_RENEWALS times per call. A renewal that
 * proxyfsd refuses too fails the calls waiting for it with its error.
 */
import { errorCode } from '../../common/errors/index.js';
import type { RpcClient } from '../../common/rpc/index.js';
import type { Method, Params, Result } from '../../common/protocol/index.js';

export { createMountAuth, mountWithToken, type MountAuth } from './mount-auth.js';

type WithoutMount<P> = P extends { mountId: string } ? Omit<P, 'mountId'> : P;

export interface VolumeClient {
  readonly mountId: string;
  /** 0 for the first mount, one more after each swap: handles opened under an older one are re-opened. */
  readonly generation: number;
  call<M extends Exclude<Method, 'Mount' | 'Ping' | 'DescribeVolume'>>(method: M, params: WithoutMount<Params<M>>): Promise<Result<M>>;
  /** Sends the current mount a fresh object-store token now (S3 presigned ones before they expire); shares a renewal in progress. */
  renewToken(): Promise<void>;
}

export interface VolumeClientOptions {
  /** The server refused mountId: make a new mount (after dropping what the old one held); resolves with its ID. */
  onMountLost?: (mountId: string, err: unknown) => Promise<string>;
  /** proxyfsd refused mountId's object-store token: send it a fresh one (RenewMount); rejects when that is refused too. */
  renewToken?: (mountId: string) => Promise<void>;
}

/** Token renewals one call may wait for before its refusal is passed on. */
const MAX_TOKEN_RENEWALS = 3;

/** Data reported under the old mount, its opens, leases and locks: never carried over to a new one. */
const NOT_RESENT: ReadonlySet<string> = new Set(['Wrote', 'Unstored', 'Release', 'Lease', 'Lock', 'Reclaim', 'Unmount']);
const MOUNT_LOST: ReadonlySet<string | undefined> = new Set(['PFS_ERR_MOUNT_EVICTED', 'PFS_ERR_UNKNOWN_MOUNT']);

export function createVolumeClient(rpc: RpcClient, mountId: string, opts: VolumeClientOptions = {}): VolumeClient {
  let current = mountId;
  let generation = 0;
  let swapping: { lost: string; done: Promise<void> } | undefined;
  let unmounting = false;

  function swap(lost: string, err: unknown): Promise<void> {
    if (lost !== current) return Promise.resolve(); // already swapped
    if (swapping?.lost === lost) return swapping.done;
    const done = opts.onMountLost!(lost, err).then((next) => {
      current = next;
      generation++;
    }).finally(() => {
      if (swapping?.done === done) swapping = undefined;
    });
    swapping = { lost, done };
    return done;
  }

  let renewing: { id: string; done: Promise<void> } | undefined;
  function renew(id: string): Promise<void> {
    if (id !== current) return Promise.resolve(); // swapped meanwhile: resend under the new mount
    if (renewing?.id === id) return renewing.done;
    const done = opts.renewToken!(id).finally(() => {
      if (renewing?.done === done) renewing = undefined;
    });
    renewing = { id, done };
    return done;
  }

  return {
    get mountId() { return current; },
    get generation() { return generation; },
    renewToken: () => (opts.renewToken ? renew(current) : Promise.resolve()),
    async call(method, params) {
      if (method === 'Unmount') unmounting = true;
      let renewals = 0;
      let swapped = false;
      for (;;) {
        const id = current;
        try {
          return await rpc.call(method, { ...params, mountId: id }) as never;
        } catch (refusal) {
          let err = refusal;
          if (errorCode(err) === 'PFS_ERR_AUTH_TOKEN_REJECTED' && opts.renewToken && renewals < MAX_TOKEN_RENEWALS) {
            renewals++;
            try {
              await renew(id);
              continue;
            } catch (renewalErr) {
              err = renewalErr; // the mount may have been lost meanwhile: swapped below
            }
          }
          const code = errorCode(err);
          if (swapped || !opts.onMountLost || unmounting || !MOUNT_LOST.has(code)) throw err;
          await swap(id, err);
          if (NOT_RESENT.has(method)) throw err;
          swapped = true;
        }
      }
    },
  };
}
