import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createAgentMetrics, createVolumeMetrics, mergeHistograms, quantile, type HistogramFigures } from './index.js';
import { parseExposition, sampleSum, sampleValue } from './test-support.js';
import { monitorEventLoop } from './event-loop.js';

const agent = createAgentMetrics();
const volume = createVolumeMetrics();
after(() => { agent.close(); volume.close(); });

test('agent: observers move /metrics and /stats alike; the text is valid exposition format with HELP and TYPE', async () => {
  agent.fuse.onOp('getattr', 0.0002);
  agent.fuse.onOp('getattr', 0.003, 'ENOENT');
  agent.fuse.onOp('write', 0.001);
  agent.fuse.onWrite(4096);
  agent.fuse.onRead(100);
  agent.rpc.onCallDone!('Lookup', 0.002, undefined);
  agent.rpc.onCallDone!('Lookup', 0.004, 'ENOENT');
  agent.rpc.onCallDone!('Wrote', 1.5, 'PFS_ERR_RPC_DEADLINE');
  agent.rpc.onDeadline!('Wrote');
  agent.rpc.onResend!('Wrote');
  agent.rpc.onReconnect!();
  agent.objectStore.onCall('swift', 'put', 0.05, 1000);
  agent.objectStore.onCall('swift', 'get', 0.01, 0, 'PFS_ERR_OBJECT_MISSING');
  agent.onRetry('put', 'swift');

  const fams = parseExposition(await agent.metrics());
  for (const [name, f] of fams) {
    if (!name.startsWith('pfsagent_')) continue;
    assert.ok(f.help && f.help.length > 10, `${name} has a HELP text`);
    assert.notEqual(f.type, 'untyped', `${name} has a TYPE`);
  }
  assert.equal(sampleValue(fams, 'pfsagent_fuse_ops_total', { op: 'getattr' }), 2);
  assert.equal(sampleValue(fams, 'pfsagent_fuse_op_errors_total', { op: 'getattr', errno: 'ENOENT' }), 1);
  assert.equal(sampleValue(fams, 'pfsagent_fuse_op_duration_seconds_count', { op: 'getattr' }), 2);
  assert.equal(sampleValue(fams, 'pfsagent_fuse_written_bytes_total'), 4096);
  assert.equal(sampleValue(fams, 'pfsagent_rpc_calls_total', { method: 'Lookup', result: 'ENOENT' }), 1);
  assert.equal(sampleValue(fams, 'pfsagent_rpc_deadline_expired_total', { method: 'Wrote' }), 1);
  assert.equal(sampleValue(fams, 'pfsagent_rpc_reconnects_total'), 1);
  assert.equal(sampleValue(fams, 'pfsagent_objectstore_bytes_total', { backend: 'swift', op: 'put' }), 1000);
  assert.equal(sampleValue(fams, 'pfsagent_objectstore_errors_total', { backend: 'swift', op: 'get', code: 'PFS_ERR_OBJECT_MISSING' }), 1);
  assert.equal(sampleValue(fams, 'pfsagent_objectstore_retries_total', { backend: 'swift', op: 'put' }), 1);
  assert.ok(fams.has('process_resident_memory_bytes'), 'default process metrics');
  assert.ok(fams.has('nodejs_eventloop_lag_p99_seconds'));
  assert.equal(fams.get('pfsagent_event_loop_delay_seconds')?.samples.length, 4);

  const s = await agent.stats();
  assert.equal(s.fuse.ops.getattr!.count, 2);
  assert.deepEqual(s.fuse.ops.getattr!.errors, { ENOENT: 1 });
  assert.equal(s.fuse.ops.getattr!.seconds.count, 2);
  assert.equal(s.fuse.readBytes, 100);
  assert.equal(s.fuse.writtenBytes, 4096);
  assert.deepEqual({ ...s.rpc.methods.Lookup!, seconds: undefined }, { calls: 2, errors: { ENOENT: 1 }, seconds: undefined, resends: 0, deadlineExpired: 0 });
  assert.equal(s.rpc.methods.Wrote!.deadlineExpired, 1);
  assert.equal(s.rpc.methods.Wrote!.resends, 1);
  assert.equal(s.rpc.reconnects, 1);
  assert.equal(s.objectStore.swift!.put!.bytes, 1000);
  assert.equal(s.objectStore.swift!.put!.retries, 1);
  assert.deepEqual(s.objectStore.swift!.get!.errors, { PFS_ERR_OBJECT_MISSING: 1 });
  assert.equal(s.readCache, undefined, 'no source attached yet');
  assert.ok(s.process.residentMemoryBytes > 0);
});

test('agent: read cache, writeback and auth figures are read at scrape time', async () => {
  const rc = { hits: 3, misses: 1, bytesFetched: 1 << 20, lines: 1, checksumErrors: 0 };
  const wb = { dirtyBytes: 500, segmentsInFlight: 2, segmentsOpen: 1, segmentsWritten: 7, bytesWritten: 9000, segmentsFailed: 0, putRetries: 1, segmentsReprovisioned: 0, segmentsMarkedUnstored: 0, writesRefusedFull: 0 };
  const creds = { stats: { renewals: 2, pluginStarts: 1, pluginFailures: 0 } };
  agent.attach({ readCache: { stats: () => rc }, writeback: { stats: () => wb }, credentials: creds });
  rc.hits = 10;
  wb.dirtyBytes = 0;
  creds.stats.renewals = 3;
  const fams = parseExposition(await agent.metrics());
  assert.equal(sampleValue(fams, 'pfsagent_readcache_hits_total'), 10);
  assert.equal(sampleValue(fams, 'pfsagent_writeback_dirty_bytes'), 0);
  assert.equal(sampleValue(fams, 'pfsagent_writeback_segments_in_flight'), 2);
  assert.equal(sampleValue(fams, 'pfsagent_auth_renewals_total'), 3);
  const s = await agent.stats();
  assert.equal(s.readCache!.hits, 10);
  assert.equal(s.writeback!.segmentsWritten, 7);
  assert.deepEqual(s.auth, { renewals: 3, pluginStarts: 1, pluginFailures: 0 });
  // Twice in a row: counters set from sources do not accumulate.
  assert.equal(sampleValue(parseExposition(await agent.metrics()), 'pfsagent_readcache_hits_total'), 10);
});

test('agent: lease figures (held by type, interrupts by action, evictions) are read at scrape time', async () => {
  const l = { shared: 4, exclusive: 2, transitions: 1, interruptsDemote: 5, interruptsRelease: 3, denials: 1, limitRevocations: 7, retries: 0, evictions: 1 };
  agent.attach({ leases: { stats: () => l } });
  l.exclusive = 1;
  const fams = parseExposition(await agent.metrics());
  assert.equal(sampleValue(fams, 'pfsagent_leases_held', { type: 'shared' }), 4);
  assert.equal(sampleValue(fams, 'pfsagent_leases_held', { type: 'exclusive' }), 1);
  assert.equal(sampleValue(fams, 'pfsagent_lease_interrupts_total', { action: 'demote' }), 5);
  assert.equal(sampleValue(fams, 'pfsagent_lease_interrupts_total', { action: 'release' }), 3);
  assert.equal(sampleValue(fams, 'pfsagent_lease_limit_revocations_total'), 7);
  assert.equal(sampleValue(fams, 'pfsagent_mount_evictions_total'), 1);
  assert.deepEqual((await agent.stats()).leases, l);
});

test('volume: dispatch observer, sources and GC counters', async () => {
  volume.dispatch.onCall('Mount', 0.001, undefined);
  volume.dispatch.onCall('Lookup', 0.0005, 'ENOENT');
  volume.dispatch.onBatch(2, 0.004, 1);
  volume.dispatch.onBatch(1, 0.001, 0);
  const gc = { rounds: 4, deletedObjects: 2, expiredObjects: 0, compactionRuns: 1, compactedObjects: 1, compactedBytes: 123, storeErrors: 0, checksumErrors: 0, running: false };
  volume.attach({
    gc: () => [{ volume: 'V', stats: gc }],
    mounts: () => [{ volume: 'V', connected: true }, { volume: 'V', connected: false }],
    connectedClients: () => 1,
  });
  const fams = parseExposition(await volume.metrics());
  for (const [name, f] of fams) if (name.startsWith('proxyfsd_')) assert.ok(f.help && f.type !== 'untyped', name);
  assert.equal(sampleValue(fams, 'proxyfsd_rpc_calls_total', { method: 'Lookup', result: 'ENOENT' }), 1);
  assert.equal(sampleValue(fams, 'proxyfsd_rpc_batch_size_count'), 2);
  assert.equal(sampleValue(fams, 'proxyfsd_rpc_batch_size_sum'), 3);
  assert.equal(sampleValue(fams, 'proxyfsd_commits_total'), 1);
  assert.equal(sampleValue(fams, 'proxyfsd_gc_deleted_objects_total', { volume: 'V' }), 2);
  assert.equal(sampleValue(fams, 'proxyfsd_compacted_bytes_total', { volume: 'V' }), 123);
  assert.equal(sampleSum(fams, 'proxyfsd_mounts', { volume: 'V' }), 2);
  assert.equal(sampleValue(fams, 'proxyfsd_rpc_clients_connected'), 1);
  const s = await volume.stats();
  assert.equal(s.rpc.methods.Lookup!.calls, 1);
  assert.equal(s.rpc.batches.count, 2);
  assert.equal(s.rpc.batches.calls, 3);
  assert.equal(s.rpc.batches.commits, 1);
  assert.deepEqual(s.mounts, { V: { connected: 1, disconnected: 1 } });
  assert.equal(s.gc.V!.deletedObjects, 2);
});

test('quantile() interpolates within buckets over the observations between two readings', () => {
  const h = (b: [string, number][]): HistogramFigures => ({ count: b.at(-1)![1], sum: 0, buckets: b });
  const before = h([['0.001', 10], ['0.01', 10], ['0.1', 10], ['+Inf', 10]]);
  const now = h([['0.001', 10], ['0.01', 60], ['0.1', 110], ['+Inf', 110]]);
  // 100 new observations: 50 in (0.001, 0.01], 50 in (0.01, 0.1].
  assert.ok(Math.abs(quantile(0.5, now, before)! - 0.01) < 1e-12);
  assert.ok(Math.abs(quantile(0.99, now, before)! - (0.01 + 0.09 * (49 / 50))) < 1e-12);
  assert.equal(quantile(0.5, before, before), undefined, 'nothing observed');
  assert.equal(quantile(0.5, h([['1', 0], ['+Inf', 4]])), 1, '+Inf bucket: the highest finite bound');
  assert.deepEqual(mergeHistograms([now, before]).buckets, [['0.001', 20], ['0.01', 70], ['0.1', 120], ['+Inf', 120]]);
});

test('the exposition parser is strict', () => {
  const bad: [string, RegExp][] = [
    ['# TYPE a countr\na 1\n', /unknown type/],
    ['a{b="1} 1\n', /unterminated|expected/],
    ['a{b="\\x"} 1\n', /bad escape/],
    ['a 1\nb 2\na{x="1"} 3\n', /not contiguous/],
    ['a 1\na 2\n', /duplicate/],
    ['a one\n', /bad value/],
    ['# TYPE a counter\na -1\n', /counter/],
    ['a 1\n# TYPE a gauge\n', /after its samples/],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', /_count/],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ['1a 1\n', /bad sample/],
    ['a 1', /newline/],
  ];
  for (const [text, err] of bad) assert.throws(() => parseExposition(text), err, JSON.stringify(text));
  const ok = parseExposition('# HELP a A \\\\ help\\n.\n# TYPE a gauge\na{l="x\\"y\\\\z\\n"} Nan\na{l="2"} +Inf 1700000000000\n# a comment\n');
  assert.equal(ok.get('a')!.help, 'A \\ help\n.');
  assert.equal(ok.get('a')!.samples[0]!.labels.l, 'x"y\\z\n');
});

test('the event-loop monitor reports a blocked loop and stops on close', async () => {
  const m = monitorEventLoop(60_000);
  await new Promise((r) => setTimeout(r, 30));
  const until = Date.now() + 60;
  while (Date.now() < until) { /* block the loop */ }
  await new Promise((r) => setTimeout(r, 30));
  const d = m.read();
  assert.ok(d.maxSeconds >= 0.05, `max ${d.maxSeconds}`);
  m.close();
});
