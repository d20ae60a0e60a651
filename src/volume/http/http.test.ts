import assert from 'node:assert/strict';
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../common/config/index.js';
import { versionInfo } from '../../common/http/index.js';
import { createVolumeMetrics } from '../../common/metrics/index.js';
import { parseExposition, sampleValue } from '../../common/metrics/test-support.js';
import { volumeServerSchema } from '../config-schema.js';
import type { VolumeServer } from '../server/index.js';
import { buildAdminServer, shownStoreUrl, startAdminServer, type VolumeHttpOptions } from './index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(path.join(tmpdir(), 'pfs-volume-http-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const confFile = path.join(dir, 'proxyfsd.conf');
writeFileSync(confFile, '[Volume:V]\nMetadataPath: meta.db\nObjectStoreURL: file:///tmp/objects\n[HTTPServer]\nTCPPort: 0\n');
const config = loadConfig(volumeServerSchema, confFile, []);

const gcStats = { rounds: 3, deletedObjects: 2, expiredObjects: 0, compactionRuns: 1, compactedObjects: 1, compactedBytes: 10, storeErrors: 0, checksumErrors: 0, running: false };
let dbHealthy = true;
const volume = {
  name: 'V',
  settings: { objectStoreUrl: 's3://user:pw@bucket/x?endpoint=http://e&secret=1', deadObjectDeleteDelayMs: 10_000, gcIntervalMs: 1000, compactionIntervalMs: 60_000 },
  md: { db: { prepare: () => ({ get: () => { if (!dbHealthy) throw new Error('disk I/O error'); return { 1: 1 }; } }) } },
  gc: { stats: () => ({ ...gcStats }) },
  leases: { stats: () => leaseStats, held: (id: string) => (id === 'm1' ? { shared: [2, 255], exclusive: [16] } : { shared: [], exclusive: [] }) },
  locks: { stats: () => lockStats, held: (id: string) => (id === 'm1' ? { posix: 2, flock: 1 } : { posix: 0, flock: 0 }) },
  reclaim: { stats: () => reclaimStats },
  dirLeases: { stats: () => dirLeaseStats },
};
const leaseStats = { leases: 3, shared: 2, exclusive: 1, waiting: 1, interruptsSent: 4, evictions: 1, denials: 0, limitRevocations: 0 };
const lockStats = { posixLocks: 2, flockLocks: 1, waiting: 0, deadlocks: 0, waitTimeouts: 0 };
const reclaimStats = { reclaiming: false, waitingFor: 0, late: 1 };
const dirLeaseStats = { dirLeases: 3, breaks: 1, cooling: 0 };
const mountList = [
  { mountId: 'm1', volume: 'V', clientId: 'c1', connected: true, evicted: false },
  { mountId: 'm2', volume: 'V', clientId: 'c2', connected: false, evicted: true },
];
const server = {
  volumes: new Map([['V', volume]]),
  mounts: { list: () => mountList, openFiles: (id: string) => (id === 'm1' ? { inodes: 2, opens: 3 } : { inodes: 0, opens: 0 }) },
  rpc: { port: 32356, connectedClients: () => ['c1'] },
} as unknown as VolumeServer;
const metrics = createVolumeMetrics();
metrics.attach({ gc: () => [{ volume: 'V', stats: volume.gc.stats() }], mounts: () => mountList, connectedClients: () => 1 });
after(() => metrics.close());
let serving = true;

function options(over: Partial<VolumeHttpOptions> = {}): VolumeHttpOptions {
  return { host: '127.0.0.1', port: 0, log: quiet, metrics, server, version: versionInfo('proxyfsd'), config, schema: volumeServerSchema, serving: () => serving, ...over };
}

test('volumes, mounts with open files, leases and locks, gc, config, version, index', async () => {
  const app = buildAdminServer(options());
  const index = await app.inject('/');
  for (const p of ['/volumes', '/mounts', '/leases', '/gc', '/metrics', '/stats', '/health', '/config', '/version']) assert.ok(index.body.includes(`href="${p}"`), p);
  assert.deepEqual((await app.inject('/volumes')).json(), [{ name: 'V', objectStore: 's3://bucket/x', mounts: 1, gc: gcStats }], 'evicted mounts do not count');
  assert.deepEqual((await app.inject('/mounts')).json(), [
    { mountId: 'm1', volume: 'V', clientId: 'c1', connected: true, evicted: false, openFiles: { inodes: 2, opens: 3 } },
    { mountId: 'm2', volume: 'V', clientId: 'c2', connected: false, evicted: true, openFiles: { inodes: 0, opens: 0 } },
  ]);
  assert.deepEqual((await app.inject('/leases')).json(), {
    enabled: true,
    volumes: { V: { leases: leaseStats, dirLeases: dirLeaseStats, locks: lockStats, reclaim: reclaimStats } },
    mounts: [
      { mountId: 'm1', volume: 'V', evicted: false, shared: ['0000000000000002', '00000000000000FF'], exclusive: ['0000000000000010'], locks: { posix: 2, flock: 1 } },
      { mountId: 'm2', volume: 'V', evicted: true, shared: [], exclusive: [], locks: { posix: 0, flock: 0 } },
    ],
  });
  assert.deepEqual((await app.inject('/gc')).json(), { V: { ...gcStats, deadObjectDeleteDelayMs: 10_000, gcIntervalMs: 1000, compactionIntervalMs: 60_000 } });
  const cfg = (await app.inject('/config?compact')).json() as { sections: Record<string, Record<string, unknown>> };
  assert.equal(cfg.sections.HTTPServer!.IPAddr, '127.0.0.1');
  assert.equal((await app.inject('/version')).json().program, 'proxyfsd');
  await app.close();
});

test('health: ready while serving and every database answers; 503 otherwise', async () => {
  const app = buildAdminServer(options());
  assert.deepEqual((await app.inject('/health')).json(), { status: 'ready', volumes: ['V'], rpcPort: 32356 });
  dbHealthy = false;
  const sick = await app.inject('/health');
  assert.equal(sick.statusCode, 503);
  assert.match((sick.json() as { reason: string }).reason, /volume V: metadata database does not answer: disk I\/O error/);
  dbHealthy = true;
  serving = false;
  assert.deepEqual((await app.inject('/health')).json(), { status: 'unavailable', reason: 'shutting down' });
  serving = true;
  await app.close();
});

test('metrics and stats; 405 and 404', async () => {
  metrics.dispatch.onCall('GetAttr', 0.0001, undefined);
  metrics.dispatch.onBatch(1, 0.0002, 1);
  const app = buildAdminServer(options());
  const fams = parseExposition((await app.inject('/metrics')).body);
  assert.equal(sampleValue(fams, 'proxyfsd_rpc_calls_total', { method: 'GetAttr', result: 'ok' }), 1);
  assert.equal(sampleValue(fams, 'proxyfsd_gc_deleted_objects_total', { volume: 'V' }), 2);
  assert.equal(sampleValue(fams, 'proxyfsd_mounts', { volume: 'V', connected: 'false' }), 1);
  const stats = (await app.inject('/stats')).json() as { rpc: { batches: { commits: number } }; gc: Record<string, unknown> };
  assert.equal(stats.rpc.batches.commits, 1);
  assert.ok(stats.gc.V);
  const wrong = await app.inject({ method: 'POST', url: '/volumes' });
  assert.equal(wrong.statusCode, 405);
  assert.equal(wrong.headers.allow, 'GET, HEAD');
  assert.equal((await app.inject('/volumes/V')).statusCode, 404);
  await app.close();
});

test('object-store URLs are shown without user info or query', () => {
  assert.equal(shownStoreUrl('swift://u:p@container/prefix?token=t#f'), 'swift://container/prefix');
  assert.equal(shownStoreUrl('file:///var/lib/pfs'), 'file:///var/lib/pfs');
  assert.equal(shownStoreUrl('not a url'), '(unparsable URL)');
});

test('a real port on loopback; port 0 starts nothing', async () => {
  assert.equal(await startAdminServer(options({ port: 0 })), undefined);
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const admin = await startAdminServer(options({ port }));
  try {
    const r = await fetch(`http://127.0.0.1:${port}/mounts?compact`);
    assert.equal(r.status, 200);
    assert.equal((await r.json() as unknown[]).length, 2);
  } finally {
    await admin!.close();
  }
});
