/** The per-inode record of the lease manager and what waits in its queue. */
import type { Ino, LeaseInterruptAction } from '../../common/protocol/index.js';
import type { LeaseGuard, LeaseMode, LeaseState, LeaseTransition } from './types.js';

export interface Acquire {
  kind: 'acquire';
  mode: LeaseMode;
  resolve(g: LeaseGuard): void;
  reject(err: unknown): void;
}

export interface Revoke {
  kind: 'revoke';
  action: LeaseInterruptAction;
  /** The server asked (an interrupt): it is answered even when there is nothing to give up. */
  answer: boolean;
  started: boolean;
  waiters: (() => void)[];
}

export type Item = Acquire | Revoke;

export interface Entry {
  readonly ino: Ino;
  state: LeaseState;
  epoch: number;
  /** False from the start of a release: caches tagged with epoch are no longer trusted. */
  valid: boolean;
  /** True from the grant until the Lease release call is sent: answers fetched meanwhile were current. */
  serverHeld: boolean;
  /** Wakes a release waiting for the kernel's invalidation when an operation queues on the inode. */
  wake?: () => void;
  busy?: LeaseTransition;
  running?: Revoke;
  shared: number;
  exclusive: number;
  queue: Item[];
  detached: boolean;
}

export const users = (e: Entry): number => e.shared + e.exclusive;
/** No guard, no server call, nothing waiting: a lease the limits may take. */
export const idle = (e: Entry): boolean => !e.busy && e.queue.length === 0 && users(e) === 0;
/** The revocation running or waiting for e, if any. */
export const revocationOf = (e: Entry): Revoke | undefined => e.running ?? e.queue.find((i): i is Revoke => i.kind === 'revoke');
