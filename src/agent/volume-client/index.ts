/**
 * The agent's typed view of proxyfsd: every RPC of common/protocol with the mount ID filled
 * in. Transport retries, reconnects and deadlines are the RPC client's; this adds types only.
 */
import type { RpcClient } from '../../common/rpc/index.js';
import type { Method, Params, Result } from '../../common/protocol/index.js';

type WithoutMount<P> = P extends { mountId: string } ? Omit<P, 'mountId'> : P;

export interface VolumeClient {
  readonly mountId: string;
  call<M extends Exclude<Method, 'Mount' | 'Ping'>>(method: M, params: WithoutMount<Params<M>>): Promise<Result<M>>;
}

export function createVolumeClient(rpc: RpcClient, mountId: string): VolumeClient {
  return {
    mountId,
    call(method, params) {
      return rpc.call(method, { ...params, mountId }) as never;
    },
  };
}
