/**
 * pfsagentd: mounts one volume.  Usage: pfsagentd CONF [Agent.Key=Value ...]
 * Composition root: config, logger, metrics, RPC client, DescribeVolume, object store and its
 * plug-in, Mount with an object-store token (docs/SECURITY.md §4.1), read cache,
 * writeback, VFS, FUSE mount, HTTP server (after the mount; closed before the unmount), signals.
 * Start-up failures leave nothing mounted.
 * Exit codes: 0 after a clean SIGTERM/SIGINT (everything flushed, unmounted); 2 bad config or
 * usage; 1 any other failure (volume server unreachable, unknown volume, mount point missing or
 * busy, HTTP server address unusable, data that could not be flushed at shutdown).
 */
import { statSync } from 'node:fs';
import { loadConfig, type ConfigSection } from '../common/config/index.js';
import { createLogger } from '../common/log/index.js';
import { errorCode, PfsError } from '../common/errors/index.js';
import { systemClock } from '../common/clock/index.js';
import { createRpcClient, readPemFile, readPrivateKeyFile, type RpcClientOptions } from '../common/rpc/index.js';
import { AUTH_TOKEN_PRESIGN_SECONDS, checkServerStore, connectObjectStore, parseStoreUrl, withMetrics, type ConnectedStore } from '../common/objectstore/index.js';
import { storeAccessFrom } from '../common/objectstore/config-keys.js';
import { validateUpcall, type MountResult, type VolumeDescription } from '../common/protocol/index.js';
import { agentSchema } from './config-schema.js';
import { createMountAuth, createVolumeClient, mountWithToken } from './volume-client/index.js';
import { createReadCache } from './readcache/index.js';
import { createWriteback, pooledProvision } from './writeback/index.js';
import { createVfs } from './vfs/index.js';
import { createOps } from './fuse/ops.js';
import { createLlOps } from './fuse/ll-ops.js';
import { createLowLevelSession, type LowLevelSession } from './fuse/binding/lowlevel/index.js';
import { createFuseMount, isMounted, LIBFUSE2_MAX_WRITE_BYTES, MAX_REQUEST_BYTES } from './fuse/binding/index.js';
import { unmountWithRetry } from './fuse/unmount.js';
import { createAgentMetrics } from '../common/metrics/index.js';
import { versionInfo } from '../common/http/index.js';
import { startHttpServer, type HttpServerHandle } from './http/index.js';
import { createLeaseManager, createMountRecovery, createReclaimer, inoHex, systemTimers } from './lease/index.js';
import { processCred } from './vfs/creds.js';

/** A start-up failure that is not the config's fault: exit code 1. */
class StartupError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [file, ...overrides] = argv;
  if (!file || file === '-h' || file === '--help') {
    process.stderr.write('usage: pfsagentd CONF [Agent.Key=Value ...]\n');
    return 2;
  }
  // Everything this daemon writes (database, WAL, objects, logs) is private (docs/SECURITY.md §5).
  process.umask(0o077);
  const config = loadConfig(agentSchema, file, overrides, { privateSecrets: true });
  const a = config.sections.Agent as ConfigSection;
  const volume = a.FUSEVolumeName as string;
  const mnt = a.FUSEMountPointPath as string;
  const ownStoreUrl = a.ObjectStoreURL as string;
  if (ownStoreUrl) {
    try {
      parseStoreUrl(ownStoreUrl);
    } catch (err) {
      throw new PfsError('PFS_ERR_CONFIG', `${file}: [Agent] ObjectStoreURL: ${(err as Error).message}`);
    }
  }
  const lowLevel = a.FUSESession === 'lowlevel';
  if (a.ReadDirPlusEnabled) {
    throw new PfsError('PFS_ERR_CONFIG', `${file}: [Agent] ReadDirPlusEnabled: true is not supported yet: libfuse 2.9 never offers READDIRPLUS to either session (the own FUSE channel, docs/FUSE-BINDING.md 8.7 step 2, will); leave it false`);
  }
  checkMountPoint(mnt);
  const tls = rpcTls(file, a);
  const adminToken = readAdminToken(file, a);
  if (await isMounted(mnt)) throw new StartupError(`mount point ${mnt} is busy: something is already mounted there`);

  const { logger: log, reopen, close: closeLog } = createLogger({
    name: `pfsagentd[${volume}]`,
    filePath: (a.LogFilePath as string) || undefined,
    toConsole: a.LogToConsole as boolean,
    trace: a.TraceEnabled as boolean,
  });
  const clock = systemClock();
  const deadlineMs = a.RetryRPCDeadlineIO as number;
  const metrics = createAgentMetrics();
  const rpc = createRpcClient({
    host: a.RetryRPCPublicIPAddr as string,
    port: a.RetryRPCPort as number,
    tls,
    deadlineMs,
    keepAliveMs: a.RetryRPCKeepAlivePeriod as number,
    reconnectDelayMs: 50,
    reconnectDelayCapMs: 2000,
    maxFrameBytes: 64 << 20,
    log,
    hooks: metrics.rpc,
  });
  // Where the volume's objects live comes first: the Mount carries a token for that store
  // (docs/SECURITY.md §4.1), made from this agent's own plug-in credentials.
  let described: VolumeDescription;
  let storeUrl: string;
  let connected: ConnectedStore;
  try {
    await rpc.connected(deadlineMs).catch((err) => {
      throw new PfsError('PFS_ERR_RPC_DEADLINE', `volume server ${a.RetryRPCPublicIPAddr}:${a.RetryRPCPort} unreachable for ${deadlineMs} ms (RetryRPCDeadlineIO): ${(err as Error).message}`);
    });
    described = await rpc.call('DescribeVolume', { volume }) as VolumeDescription;
    // The server's word alone does not pick where data and signed requests go (docs/SECURITY.md §1).
    storeUrl = checkServerStore(described.objectStoreUrl, { configuredUrl: ownStoreUrl, serverHost: a.RetryRPCPublicIPAddr as string });
    connected = await connectObjectStore(storeAccessFrom(storeUrl, a), { log, hooks: { onRetry: (op) => metrics.onRetry(op, parseStoreUrl(storeUrl).kind) } });
  } catch (err) {
    await rpc.close(0);
    await closeLog();
    throw err;
  }
  const where = parseStoreUrl(storeUrl);
  const auth = createMountAuth({ required: described.authTokenRequired, where, credentials: connected.credentials });
  const mount = () => mountWithToken(auth, async (authToken) => await rpc.call('Mount', { volume, ...(authToken !== undefined ? { authToken } : {}) }) as MountResult);
  let mounted: MountResult;
  try {
    mounted = await mount();
  } catch (err) {
    await connected.store.close();
    await rpc.close(0);
    await closeLog();
    throw err;
  }
  const lineSize = a.ReadCacheLineSize as number;
  if (lineSize % mounted.checksumBlockSizeBytes !== 0) {
    await connected.store.close();
    await rpc.close(0);
    throw new PfsError('PFS_ERR_CONFIG', `${file}: [Agent] ReadCacheLineSize: ${lineSize} must be a multiple of the volume's checksum block size ${mounted.checksumBlockSizeBytes}`);
  }
  // Exactly once holds only while every resend comes before the server forgets the reply.
  const replyTtl = mounted.replyCacheTtlMs;
  if (Number.isSafeInteger(replyTtl) && deadlineMs >= replyTtl) {
    await rpc.call('Unmount', { mountId: mounted.mountId }).catch(() => undefined); // else dropped after its grace period
    await connected.store.close();
    await rpc.close(0);
    await closeLog();
    throw new PfsError('PFS_ERR_CONFIG', `${file}: [Agent] RetryRPCDeadlineIO: ${deadlineMs} ms is not below the volume server's ReplyCacheTTL (${replyTtl} ms): a call resent after the server forgot its reply would run twice; lower RetryRPCDeadlineIO or raise [RPCServer] ReplyCacheTTL on proxyfsd`);
  }
  // Pooled object numbers are used only within half of this (writeback/object-pool.ts).
  let provisionedObjectTtlMs = provisionedTtlOf(mounted, log);
  // An evicted mount is replaced (docs/LEASES.md §3); `recovery` is made once its parts exist.
  const client = createVolumeClient(rpc, mounted.mountId, {
    onMountLost: (id, err) => recovery.recover(id, err),
    renewToken: auth.required ? (id) => renewToken(id) : undefined,
  });
  /** proxyfsd refused the mount's token: a fresh one, then one from renewed credentials (mount-auth.ts). */
  const renewToken = async (mountId: string): Promise<void> => {
    for (let renew = false; ; renew = true) {
      try {
        await rpc.call('RenewMount', { mountId, authToken: await auth.fresh(renew) });
        log.info({ mountId }, 'object-store token renewed with proxyfsd');
        return;
      } catch (err) {
        if (errorCode(err) !== 'PFS_ERR_AUTH_TOKEN_REJECTED') throw err; // a lost mount: the volume client swaps it
        if (renew) {
          log.error({ mountId, err: (err as Error).message }, 'proxyfsd refused this agent\'s object-store token, also after a renewal through the auth plug-in');
          throw err;
        }
      }
    }
  };
  // An S3 token is a presigned request that expires: proxyfsd gets a fresh one well before.
  const tokenRefresh = auth.required && where.kind === 's3'
    ? setInterval(() => client.renewToken().catch(() => undefined), AUTH_TOKEN_PRESIGN_SECONDS * 1000 / 3)
    : undefined;
  tokenRefresh?.unref();
  // Outside the retries: counts operations as the agent sees them (retries count apart).
  const store = withMetrics(connected.store, connected.backend, metrics.objectStore);
  const readCache = createReadCache({ store, lineSizeBytes: lineSize, lineCount: a.ReadCacheLineCount as number, log });
  const ownCred = processCred();
  const writeback = createWriteback({
    store, clock, log,
    server: {
      provision: pooledProvision(async (count) => (await client.call('ProvisionObject', { count })).objects, {
        batchSize: 64, nowMs: () => clock.nowMs(), maxAgeMs: () => provisionedObjectTtlMs / 2, generation: () => client.generation,
      }),
      wrote: (p) => client.call('Wrote', { ...p, cred: ownCred }),
      unstored: (p) => client.call('Unstored', { ...p, cred: ownCred }),
    },
    maxFlushSizeBytes: a.MaxFlushSize as number,
    maxFlushTimeMs: a.MaxFlushTime as number,
    dirtySegmentLimit: a.DirtyLogSegmentLimit as number,
    dirtyFileLimit: a.DirtyFileLimit as number,
    checksumBlockSizeBytes: mounted.checksumBlockSizeBytes,
    // The store already retries per the Swift* keys (common/objectstore/retry.ts).
    retry: { retries: 0, minTimeoutMs: 0, factor: 1 },
  });
  const timers = systemTimers();
  const leaseRetry = {
    limit: a.LeaseRetryLimit as number, delayMs: a.LeaseRetryDelay as number,
    delayVariancePercent: a.LeaseRetryDelayVariance as number, expBackoff: a.LeaseRetryExpBackoff as number,
  };
  const leases = createLeaseManager({
    server: { lease: async (ino, request) => (await client.call('Lease', { ino, request })).granted },
    callbacks: { flush: (ino) => writeback.settle(ino), dropped: (ino) => vfs.leaseDropped(ino) },
    log, timers,
    retry: leaseRetry,
    sharedLimit: a.SharedLeaseLimit as number,
    exclusiveLimit: a.ExclusiveLeaseLimit as number,
  });
  rpc.onUpcall((method, params) => {
    if (method !== 'LeaseInterrupt') return;
    try {
      validateUpcall('LeaseInterrupt', params);
    } catch (err) {
      log.warn({ method, err: (err as Error).message }, 'malformed upcall ignored');
      return;
    }
    // A file leased here (only files are demoted), or else a directory lease (docs/LEASES.md §5;
    // also answers for an inode this agent does not think it holds, with a release).
    if (params.action === 'demote' || leases.known(params.ino)) leases.interrupt(params.ino, params.action);
    else vfs.dirLeases.interrupted(params.ino);
  });
  let invalidateKernel: ((path: string) => Promise<boolean>) | undefined;
  let fuseRef: { callerContext(): { uid: number; gid: number; pid: number; umask: number } | null; forgetCapabilityAbsence(): void } | undefined;
  // Inode-based session (FUSESession lowlevel): node ids are inode numbers.
  let llSession: LowLevelSession | undefined;
  const capabilityMarked = new Set<number>();
  const forgetCapabilityMarks = (ino?: number) => {
    for (const one of ino === undefined ? [...capabilityMarked] : capabilityMarked.has(ino) ? [ino] : []) {
      capabilityMarked.delete(one);
      llSession?.clearCapability(one);
    }
  };
  const recovery = createMountRecovery({
    log, timers, retryDelayMs: 1000, attempts: 60,
    mount: async () => {
      const again = await mount();
      provisionedObjectTtlMs = provisionedTtlOf(again, log);
      return again.mountId;
    },
    onLost: () => {
      writeback.failAll('the mount was evicted before this data was written back');
      leases.reset();
      vfs.mountLost();
    },
  });
  const vfs = createVfs({
    client, readCache, writeback, log, clock, leases,
    ...(lowLevel
      ? {
        invalidateNode: async (ino: number) => llSession?.invalidateInode(ino).catch(() => false),
        invalidateEntry: async (parent: number, name: string) => llSession?.invalidateEntry(parent, name).catch(() => false),
        forgetCapabilityAbsence: (ino?: number) => forgetCapabilityMarks(ino),
      }
      : {
        invalidateKernel: async (path: string) => invalidateKernel?.(path).catch(() => undefined),
        forgetCapabilityAbsence: () => fuseRef?.forgetCapabilityAbsence(),
      }),
    readdirMaxEntries: a.ReaddirMaxEntries as number,
    readAheadBytes: Math.min(8 * lineSize, Math.floor(lineSize * (a.ReadCacheLineCount as number) / 4)),
    xattrEnabled: a.XAttrEnabled as boolean,
    fetchExtentsFrom: a.FetchExtentsFromFileOffset as number,
    fetchExtentsBefore: a.FetchExtentsBeforeFileOffset as number,
    extentMapEntryLimit: a.ExtentMapEntryLimit as number,
    pathCacheEntries: 200_000,
    // Names other agents change are seen within EntryDuration (docs/LEASES.md §5). At 0 the
    // kernel revalidates every name on every use, each revalidation a Lookup that renews the
    // entry, so the cache needs no age limit of its own.
    pathCacheMaxAgeMs: (a.EntryDuration as number) > 0 ? a.EntryDuration as number : Infinity,
  });
  metrics.attach({ readCache, writeback, credentials: connected.credentials, leases });
  // proxyfsd restarted (docs/LEASES.md §8): claim what this mount holds before anything resent.
  const reclaimer = createReclaimer({
    log, timers, retry: leaseRetry, leases, locks: () => vfs.lockClaims(),
    send: (params) => client.call('Reclaim', params),
  });
  // Directory leases are not claimed: the new instance holds none, so they all go first.
  rpc.onServerChange(() => {
    void vfs.dirLeases.dropAll();
    reclaimer.reclaim();
  });
  const maxWrite = requestBytes(a.FUSEMaxWrite as number, 'FUSEMaxWrite', log);
  const maxRead = requestBytes(a.FUSEMaxRead as number, 'FUSEMaxRead', log);
  const congestion = a.FUSECongestionThreshhold as number;
  const common = {
    fsname: `pfs:${volume.replace(/[^A-Za-z0-9._:@/+=-]/g, '_')}`,
    subtype: 'pfs',
    allowOther: a.FUSEAllowOther as boolean,
    defaultPermissions: true,
    autoUnmount: true,
    bigWrites: true,
    maxReadBytes: maxRead,
    // Buffered reads come in read-ahead requests; at the kernel's 128 KiB window, max_read is moot.
    readAheadBytes: maxRead,
    maxBackground: a.FUSEMaxBackground as number,
    ...(congestion > 0 ? { congestionThreshold: congestion } : {}),
    onHandlerError: (op: string, err: unknown) => log.error({ op, err: (err as Error)?.message ?? String(err) }, 'FUSE handler mistake'),
  };
  let fuse: { readonly mountPoint: string; readonly maxRequestBytes: number; readonly readAhead: { bytes: number; error?: string } | null; mount(): Promise<void>; unmount(): Promise<void> };
  let hasCallerContext = true;
  if (lowLevel) {
    const { ops } = createLlOps({
      vfs, log, trace: a.TraceEnabled as boolean, blockSizeBytes: a.AttrBlockSize as number, observer: metrics.fuse,
      attrTimeoutMs: a.AttrDuration as number, entryTimeoutMs: a.EntryDuration as number,
      capabilityAbsent: (ino) => {
        if (capabilityMarked.size >= 100_000) forgetCapabilityMarks();
        capabilityMarked.add(ino);
        llSession?.markCapabilityAbsent(ino);
      },
    });
    llSession = createLowLevelSession(mnt, ops, { ...common, maxWriteBytes: maxWrite });
    fuse = llSession;
  } else {
    const { ops } = createOps({ vfs, log, trace: a.TraceEnabled as boolean, blockSizeBytes: a.AttrBlockSize as number, callerContext: () => fuseRef?.callerContext() ?? null, observer: metrics.fuse });
    const hl = createFuseMount(mnt, ops, {
      ...common,
      useIno: true,
      hardRemove: true,
      maxWriteBytes: maxWrite,
      attrTimeoutMs: a.AttrDuration as number,
      entryTimeoutMs: a.EntryDuration as number,
    });
    fuseRef = hl;
    fuse = hl;
    hasCallerContext = hl.hasCallerContext;
    if (hl.canInvalidate) invalidateKernel = (path) => hl.invalidateInode(path);
    else log.warn('the pfs_fuse_context addon cannot invalidate kernel caches: a file kept open here may read stale pages after another agent wrote it');
  }
  /** gaveUp: resolves when the stop's flush deadline passed; then buffered data is not waited for. */
  const teardown = async (gaveUp?: Promise<void>) => {
    clearInterval(tokenRefresh);
    const closed = writeback.close().catch((err) => log.error({ err: (err as Error).message }, 'flush at shutdown failed'));
    await (gaveUp ? Promise.race([closed, gaveUp]) : closed);
    await leases.close(); // the leases themselves go with the Unmount
    await client.call('Unmount', {}).catch(() => undefined);
    await rpc.close(2000);
    await readCache.close();
    await store.close();
    metrics.close();
  };
  if (!hasCallerContext) {
    await teardown();
    throw new StartupError('the pfs_fuse_context addon is not built (run make build): without it pfsagentd cannot tell which user makes each request');
  }
  try {
    await fuse.mount();
  } catch (err) {
    await teardown();
    throw new StartupError(`cannot mount ${mnt}: ${(err as Error).message}`);
  }
  let http: HttpServerHandle | undefined;
  try {
    http = await startHttpServer({
      host: a.HTTPServerIPAddr as string, port: a.HTTPServerTCPPort as number, volume, log, metrics,
      config, schema: agentSchema, version: versionInfo('pfsagentd'), adminToken,
      leases: {
        snapshot: () => Object.fromEntries(Object.entries(leases.snapshot()).map(([state, inos]) => [state, inos.map(inoHex)])) as never,
        demoteAll: () => leases.demoteAll(),
        releaseAll: () => leases.releaseAll(),
      },
      health: { mounted: () => isMounted(mnt), ping: async (timeoutMs) => { await rpc.call('Ping', {}, { deadlineMs: timeoutMs }); } },
    });
  } catch (err) {
    await unmountWithRetry(fuse, { delayMs: a.FUSEUnMountRetryDelay as number, attempts: a.FUSEUnMountRetryCap as number, log });
    await teardown();
    await closeLog();
    throw new StartupError((err as Error).message);
  }
  log.info({ volume, mnt, mountId: mounted.mountId, objectStore: storeUrl, authTokenCheckPeriodMs: mounted.authTokenCheckPeriodMs, maxRequestBytes: fuse.maxRequestBytes, readAheadBytes: fuse.readAhead?.bytes }, 'mounted');
  if (fuse.readAhead?.error) log.warn({ FUSEMaxRead: maxRead, readAheadBytes: fuse.readAhead.bytes, err: fuse.readAhead.error }, 'could not raise the mount\'s kernel read-ahead to FUSEMaxRead; reads come in smaller requests');
  if (maxWrite > fuse.maxRequestBytes) {
    log.warn({ FUSEMaxWrite: maxWrite, maxRequestBytes: fuse.maxRequestBytes }, 'the kernel takes smaller requests than FUSEMaxWrite (FUSE_MAX_PAGES needs Linux 4.20+; fs.fuse.max_pages_limit caps it)');
  }
  process.stdout.write(`pfsagentd: mounted ${volume} at ${mnt}\n`);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    // The flushes of a stop are bounded by ShutdownFlushTimeout, or cut short by a second signal:
    // then buffered writes are given up (failAll logs nothing per inode; this does).
    let giveUpNow!: () => void;
    const gaveUp = new Promise<void>((resolve) => { giveUpNow = resolve; });
    let given = false;
    void gaveUp.then(() => {
      given = true;
      const lost = writeback.failAll('the agent stopped before they could be stored');
      if (lost.length > 0) log.error({ inodes: lost.slice(0, 100), count: lost.length }, 'shutdown: giving up buffered writes that were not stored in time; they are lost');
    });
    const flushBounded = async (): Promise<boolean> => {
      try {
        await Promise.race([vfs.flushAll(), gaveUp.then(() => { throw new Error('gave up waiting for the flush'); })]);
        return true;
      } catch (err) {
        log.error({ err: (err as Error).message }, 'flushing dirty data failed');
        return false;
      }
    };
    const stop = async (signal: string) => {
      if (stopping) {
        // Only a second signal cuts the flush short (not the end of the session that the
        // unmount itself brings).
        if (signal !== 'SIGTERM' && signal !== 'SIGINT') return;
        if (!given) log.warn({ signal }, 'second signal while stopping: not waiting for buffered writes any longer');
        giveUpNow();
        return;
      }
      stopping = true;
      const limitMs = a.ShutdownFlushTimeout as number;
      setTimeout(() => {
        if (!given) log.error({ ShutdownFlushTimeout: limitMs }, 'buffered writes did not reach the object store within ShutdownFlushTimeout');
        giveUpNow();
      }, limitMs).unref();
      log.info({ signal }, 'shutting down: flushing, unmounting');
      await http?.close().catch((err) => log.error({ err: (err as Error).message }, 'closing the HTTP server failed'));
      let code = (await flushBounded()) ? 0 : 1;
      await unmountWithRetry(fuse, { delayMs: a.FUSEUnMountRetryDelay as number, attempts: a.FUSEUnMountRetryCap as number, log });
      if (!(await flushBounded())) code = 1;
      await teardown(gaveUp);
      log.info({ code }, 'pfsagentd stopped');
      await closeLog();
      resolveExit(code);
    };
    // Unmounted from outside (`umount DIR`, `fusermount -u`): write back what is held and exit.
    // The inode-based session says when the kernel ended it; the path-based one is watched.
    if (llSession) {
      void llSession.ended.then(() => stop('unmounted'));
    } else {
      const watch = setInterval(() => {
        if (stopping) return clearInterval(watch);
        isMounted(mnt).then((mounted) => { if (!mounted) void stop('unmounted'); }, () => undefined);
      }, 1000);
      watch.unref();
    }
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => reopen());
  });
}

/**
 * FUSEMaxWrite/FUSEMaxRead as a request size the binding takes: at most MAX_REQUEST_BYTES, and
 * above libfuse's 128 KiB a whole number of pages (docs/FUSE-BINDING.md 2.8).
 */
function requestBytes(value: number, key: string, log: { warn(o: object, msg: string): void }): number {
  let bytes = Math.min(value, MAX_REQUEST_BYTES);
  if (bytes > LIBFUSE2_MAX_WRITE_BYTES) bytes -= bytes % 4096;
  if (bytes !== value) log.warn({ [key]: value, using: bytes }, `${key}: requests are at most ${MAX_REQUEST_BYTES} bytes, and above ${LIBFUSE2_MAX_WRITE_BYTES} whole 4096-byte pages`);
  return bytes;
}

/** Pooled numbers' age limit when the server does not state its ProvisionedObjectTTL (an older proxyfsd). */
const UNSTATED_PROVISIONED_TTL_MS = 10 * 60_000;

/**
 * The ProvisionedObjectTTL the Mount reply states. An older proxyfsd states none: pooled numbers
 * then age out after a cautious guess, and a refused number is still re-provisioned (upload.ts).
 */
function provisionedTtlOf(m: MountResult, log: { warn(o: object, msg: string): void }): number {
  const ttl = m.provisionedObjectTtlMs;
  if (Number.isSafeInteger(ttl) && ttl > 0) return ttl;
  log.warn({ provisionedObjectTtlMs: ttl, assumedMs: UNSTATED_PROVISIONED_TTL_MS }, 'the volume server stated no ProvisionedObjectTTL in its Mount reply (an older proxyfsd?): assuming a short one');
  return UNSTATED_PROVISIONED_TTL_MS;
}

/** The TLS settings of [Agent], read; the client key only when no group or other user may access it. */
function rpcTls(file: string, a: ConfigSection): RpcClientOptions['tls'] {
  const caPath = a.RetryRPCCACertFilePath as string;
  const certPath = a.RetryRPCCertFilePath as string;
  const keyPath = a.RetryRPCKeyFilePath as string;
  if (!certPath !== !keyPath) throw new PfsError('PFS_ERR_CONFIG', `${file}: [Agent] RetryRPCCertFilePath and RetryRPCKeyFilePath go together: set both (mutual TLS) or neither`);
  if (certPath && !caPath) throw new PfsError('PFS_ERR_CONFIG', `${file}: [Agent] RetryRPCCertFilePath needs TLS: set RetryRPCCACertFilePath to the volume's CA certificate too`);
  if (!caPath) return undefined;
  return {
    caPem: readPemFile(caPath, `${file}: [Agent] RetryRPCCACertFilePath`),
    ...(certPath && {
      certPem: readPemFile(certPath, `${file}: [Agent] RetryRPCCertFilePath`),
      keyPem: readPrivateKeyFile(keyPath, `${file}: [Agent] RetryRPCKeyFilePath`),
    }),
  };
}

/** The HTTP server's admin token ([Agent] HTTPServerAdminTokenFile): owner-only file, one line of 16+ characters. */
function readAdminToken(file: string, a: ConfigSection): string | undefined {
  const path = a.HTTPServerAdminTokenFile as string;
  if (!path) return undefined;
  const setting = `${file}: [Agent] HTTPServerAdminTokenFile`;
  const token = readPrivateKeyFile(path, setting, 'the token file').toString('utf8').replace(/\r?\n$/, '');
  if (token.length < 16 || /\s/.test(token)) throw new PfsError('PFS_ERR_CONFIG', `${setting}: the token in ${path} must be one line of at least 16 characters without spaces`);
  return token;
}

function checkMountPoint(mnt: string): void {
  let st;
  try {
    st = statSync(mnt);
  } catch {
    throw new StartupError(`mount point ${mnt} does not exist (FUSEMountPointPath must name an existing directory)`);
  }
  if (!st.isDirectory()) throw new StartupError(`mount point ${mnt} is not a directory`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`pfsagentd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(!(err instanceof StartupError) && errorCode(err) === 'PFS_ERR_CONFIG' ? 2 : 1);
  },
);
