/**
 * The agent's typed view of proxyfsd: every RPC of common/protocol with the mount ID filled
 * in. Transport retries, reconnects and deadlines are the RPC client's; this adds types, and
 * the swap of the mount ID when the server refuses it (evicted, or dropped after its grace
 * period, docs/LEASES.md §3): the first call refused for the current mount runs onMountLost
 * (single-flight) and every call refused for it waits for that. A refused call never ran on
 * the server (the fence comes first), so it is sent again under the new mount, except the
 * calls that only make sense under the old one (NOT_RESENT): they fail with the refusal.
 * Once Unmount was sent (shutdown) a refusal is passed on: nothing is mounted again.
 */
import { errorCode } from '../../common/errors/index.js';
import type { RpcClient } from '../../common/rpc/index.js';
import type { Method, Params, Result } from '../../common/protocol/index.js';

type WithoutMount<P> = P extends { mountId: string } ? Omit<P, 'mountId'> : P;

export interface VolumeClient {
  readonly mountId: string;
  /** 0 for the first mount, one more after each swap: handles opened under an older one are re-opened. */
  readonly generation: number;
  call<M extends Exclude<Method, 'Mount' | 'Ping'>>(method: M, params: WithoutMount<Params<M>>): Promise<Result<M>>;
}

export interface VolumeClientOptions {
  /** The server refused mountId: make a new mount (after dropping what the old one held); resolves with its ID. */
  onMountLost?: (mountId: string, err: unknown) => Promise<string>;
}

/** Data reported under the old mount, its opens, leases and locks: never carried over to a new one. */
const NOT_RESENT: ReadonlySet<string> = new Set(['Wrote', 'Release', 'Lease', 'Lock', 'Reclaim', 'Unmount']);
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

  return {
    get mountId() { return current; },
    get generation() { return generation; },
    async call(method, params) {
      const id = current;
      if (method === 'Unmount') unmounting = true;
      try {
        return await rpc.call(method, { ...params, mountId: id }) as never;
      } catch (err) {
        if (!opts.onMountLost || unmounting || !MOUNT_LOST.has(errorCode(err))) throw err;
        await swap(id, err);
        if (NOT_RESENT.has(method)) throw err;
        return await rpc.call(method, { ...params, mountId: current }) as never;
      }
    },
  };
}
