/**
 * The object-store tokens of mounts (docs/SECURITY.md §4.1), held in memory only: a token is a
 * secret, and after a restart every mount of a checked volume is asked for a fresh one.
 *
 * - admit(): a token offered in Mount or RenewMount is tried against the store before the answer,
 *   unless the same token (its SHA-256, per volume) was found valid within the check period.
 * - check(): before each call of a mount; O(1), never waits. Throws PFS_ERR_AUTH_TOKEN_REJECTED
 *   when the mount has no token or the store refused it; when the last check is older than the
 *   period it starts one re-check in the background and lets the call through.
 * - Unverifiable (store unreachable, 5xx, proxyfsd's plug-in down) is not a refusal: the mount
 *   keeps its rights and is tried again after RETRY_SHARE of the period (at least 1 s).
 * Bounds: one background check per mount at a time; renewals of one mount run one after the
 * other; at most CHECKS_PER_VOLUME checks per volume reach the store at once (the rest queue);
 * at most MAX_VERDICTS valid verdicts are remembered.
 */
import { createHash } from 'node:crypto';
import { PfsError } from '../../common/errors/index.js';
import { shortId } from '../../common/log/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { TokenVerdict } from '../../common/objectstore/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { Volume } from './volume.js';

export type TokenCheckResult = TokenVerdict['result'];

export interface MountTokens {
  /** Whether mounts of `volume` need a token. */
  required(volume: Volume): boolean;
  /** The check period stated in the Mount reply (undefined when the volume checks no tokens). */
  periodMs(volume: Volume): number | undefined;
  /**
   * Tries `token` for a mount of `volume` (mountId, when it is a renewal, for the log): undefined when
   * it is admitted at once (found valid within the period); else a promise of admission (valid, or
   * unverifiable now) that rejects with PFS_ERR_AUTH_TOKEN_REJECTED.
   */
  admit(volume: Volume, token: string, mountId?: string): Promise<TokenCheckResult> | undefined;
  /** Records the token of a mount (after admit; `result` 'unverified' makes the next check come early). */
  set(mountId: string, volume: Volume, token: string, result?: TokenCheckResult): void;
  /** RenewMount: admit, then set; one renewal of a mount at a time. undefined: done at once. */
  renew(mountId: string, volume: Volume, token: string): Promise<void> | undefined;
  /** Before a call of the mount: throws PFS_ERR_AUTH_TOKEN_REJECTED or lets it through (see file comment). */
  check(mountId: string, volume: Volume): void;
  forget(mountId: string): void;
}

export const DEFAULT_CHECK_PERIOD_MS = 60_000;
const CHECKS_PER_VOLUME = 8;
const MAX_VERDICTS = 4096;
const RETRY_SHARE = 0.1;
const MIN_RETRY_MS = 1000;

interface Held {
  volume: Volume;
  token: string;
  /** When the next check is due (Infinity: none, period 0). */
  dueMs: number;
  /** Why the store refused the token; set: the mount's calls are refused. */
  rejected?: string;
  checking: boolean;
}

export interface MountTokensOptions {
  clock: Clock;
  log: Logger;
  /** Whether the mount still exists (a renewal that ends after an Unmount records nothing). */
  isLive: (mountId: string) => boolean;
  /** Each check that reached the store, by volume and result (metrics). */
  onCheck?: (volume: string, result: TokenCheckResult) => void;
}

export function createMountTokens({ clock, log, isLive, onCheck }: MountTokensOptions): MountTokens {
  const held = new Map<string, Held>();
  /** key (volume + token hash) -> valid until (ms); insertion order = age. */
  const verdicts = new Map<string, number>();
  const slots = new Map<Volume, { running: number; waiting: (() => void)[] }>();
  const renewals = new Map<string, Promise<void>>();

  const periodOf = (v: Volume): number => v.settings.authTokenCheckPeriodMs ?? DEFAULT_CHECK_PERIOD_MS;
  const retryMs = (v: Volume): number => Math.max(MIN_RETRY_MS, periodOf(v) * RETRY_SHARE);
  const keyOf = (v: Volume, token: string): string => createHash('sha256').update(v.name).update('\0').update(token).digest('hex');

  function knownValid(v: Volume, token: string): boolean {
    const key = keyOf(v, token);
    const until = verdicts.get(key);
    if (until === undefined) return false;
    if (until > clock.nowMs()) return true;
    verdicts.delete(key);
    return false;
  }

  function remember(v: Volume, token: string, result: TokenCheckResult): void {
    const key = keyOf(v, token);
    verdicts.delete(key);
    if (result !== 'valid') return;
    verdicts.set(key, clock.nowMs() + (periodOf(v) || DEFAULT_CHECK_PERIOD_MS));
    if (verdicts.size > MAX_VERDICTS) verdicts.delete(verdicts.keys().next().value!);
  }

  /** One check against the store, under the volume's concurrency bound; logs what is not valid. */
  async function tryToken(v: Volume, token: string, mountId: string | undefined): Promise<TokenVerdict> {
    let slot = slots.get(v);
    if (!slot) slots.set(v, (slot = { running: 0, waiting: [] }));
    if (slot.running >= CHECKS_PER_VOLUME) await new Promise<void>((resolve) => slot.waiting.push(resolve));
    slot.running++;
    let verdict: TokenVerdict;
    try {
      verdict = await v.tokenChecker!.check(token);
    } finally {
      slot.running--;
      slot.waiting.shift()?.();
    }
    remember(v, token, verdict.result);
    onCheck?.(v.name, verdict.result);
    const fields = { volume: v.name, ...(mountId ? { mountId: shortId(mountId) } : {}) };
    if (verdict.result === 'rejected') log.warn({ ...fields, why: verdict.why }, 'auth token rejected: the mount\'s calls are refused until its agent renews the token');
    if (verdict.result === 'unverified') log.warn({ ...fields, why: verdict.why, retryInMs: retryMs(v) }, 'auth token could not be checked (not a rejection); trying again later');
    return verdict;
  }

  function rejectedError(v: Volume, why: string): PfsError {
    return new PfsError('PFS_ERR_AUTH_TOKEN_REJECTED', `the object store of volume ${v.name} refused the mount's token (${why}); renew it through the auth plug-in (RenewMount)`);
  }

  const tokens: MountTokens = {
    required: (v) => v.tokenChecker !== undefined,
    periodMs: (v) => (v.tokenChecker ? periodOf(v) : undefined),
    admit(v, token, mountId) {
      if (knownValid(v, token)) return undefined;
      return tryToken(v, token, mountId).then((verdict) => {
        if (verdict.result === 'rejected') throw rejectedError(v, verdict.why);
        return verdict.result;
      });
    },
    set(mountId, v, token, result = 'valid') {
      const period = periodOf(v);
      const dueMs = result === 'valid' ? (period > 0 ? clock.nowMs() + period : Infinity) : clock.nowMs() + retryMs(v);
      held.set(mountId, { volume: v, token, dueMs, checking: false });
    },
    renew(mountId, v, token) {
      const before = renewals.get(mountId);
      if (!before && knownValid(v, token)) {
        tokens.set(mountId, v, token);
        return undefined;
      }
      const run = (before ?? Promise.resolve()).catch(() => undefined).then(async () => {
        const result = await (tokens.admit(v, token, mountId) ?? 'valid');
        if (isLive(mountId)) tokens.set(mountId, v, token, result); // else unmounted meanwhile
      });
      const done = run.finally(() => { if (renewals.get(mountId) === done) renewals.delete(mountId); });
      renewals.set(mountId, done);
      return done;
    },
    check(mountId, v) {
      if (!v.tokenChecker) return;
      const h = held.get(mountId);
      if (!h) throw new PfsError('PFS_ERR_AUTH_TOKEN_REJECTED', `proxyfsd holds no object-store token for mount ${String(shortId(mountId))} of volume ${v.name} (it restarted since); renew it (RenewMount)`);
      if (h.rejected !== undefined) throw rejectedError(v, h.rejected);
      if (h.checking || clock.nowMs() < h.dueMs) return;
      h.checking = true;
      const recheck = knownValid(v, h.token) ? Promise.resolve<TokenVerdict>({ result: 'valid' }) : tryToken(v, h.token, mountId);
      void recheck.then((verdict) => {
        h.checking = false;
        if (held.get(mountId) !== h) return; // renewed or gone meanwhile
        if (verdict.result === 'rejected') h.rejected = verdict.why;
        else h.dueMs = verdict.result === 'valid' ? (periodOf(v) > 0 ? clock.nowMs() + periodOf(v) : Infinity) : clock.nowMs() + retryMs(v);
      });
    },
    forget(mountId) {
      held.delete(mountId);
    },
  };
  return tokens;
}
