import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { AgentStats } from '../common/metrics/index.js';
import { formatRow, header, rowBetween, runStats, statsUrl } from './stats.js';

const hist = (buckets: [string, number][]) => ({ count: buckets.at(-1)![1], sum: 0, buckets });

function sample(t: number, k: number): AgentStats {
  return {
    timeMs: 1_700_000_000_000 + t * 1000,
    process: { uptimeSeconds: t, residentMemoryBytes: 1, heapUsedBytes: 1, eventLoopDelay: { p50Seconds: 0, p99Seconds: 0, maxSeconds: 0, meanSeconds: 0 } },
    fuse: { ops: { read: { count: 100 * k, errors: {}, seconds: hist([['+Inf', 100 * k]]) } }, readBytes: k * 2 * (1 << 20), writtenBytes: k * (1 << 20) },
    rpc: {
      methods: { Lookup: { calls: 10 * k, errors: {}, seconds: hist([['0.001', 5 * k], ['0.01', 10 * k], ['+Inf', 10 * k]]), resends: 0, deadlineExpired: 0 } },
      reconnects: 0,
    },
    objectStore: { local: { get: { requests: 4 * k, errors: {}, bytes: 0, retries: 0, seconds: hist([['+Inf', 4 * k]]) } } },
    readCache: { hits: 3 * k, misses: k, bytesFetched: 0, lines: 0, checksumErrors: 0 },
    writeback: { dirtyBytes: 1 << 20, segmentsInFlight: 2, segmentsOpen: 0, segmentsWritten: 0, bytesWritten: 0, segmentsFailed: 0, putRetries: 0, segmentsReprovisioned: 0, segmentsMarkedUnstored: 0, writesRefusedFull: 0 },
  };
}

test('a row is the rates of the interval between two /stats documents', () => {
  const r = rowBetween(sample(0, 1), sample(2, 3));
  assert.equal(r.opsPerSec, 100);
  assert.equal(r.readMiBPerSec, 2);
  assert.equal(r.writeMiBPerSec, 1);
  assert.equal(r.hitPercent, 75);
  assert.equal(r.dirtyMiB, 1);
  assert.equal(r.segmentsInFlight, 2);
  assert.equal(r.rpcPerSec, 10);
  assert.ok(Math.abs(r.rpcP50Ms! - 1) < 1e-9, String(r.rpcP50Ms));
  assert.ok(r.rpcP99Ms! > 9 && r.rpcP99Ms! <= 10);
  assert.equal(r.storePerSec, 4);
  const idle = rowBetween(sample(0, 1), sample(1, 1));
  assert.equal(idle.hitPercent, undefined);
  assert.equal(idle.rpcP50Ms, undefined);
  assert.match(formatRow(idle, false), /^time=\S+ ops=0 read_mib_s=0\.00 .* cache_hit_pct=- .* rpc_p50_ms=- /);
  assert.equal(formatRow(r, true).length, header().length);
});

test('statsUrl accepts a base URL, host:port or the /stats URL', () => {
  assert.equal(statsUrl('http://127.0.0.1:9090'), 'http://127.0.0.1:9090/stats?compact=1');
  assert.equal(statsUrl('127.0.0.1:9090/'), 'http://127.0.0.1:9090/stats?compact=1');
  assert.equal(statsUrl('http://h:1/stats'), 'http://h:1/stats?compact=1');
});

test('runStats --count N prints N lines (name=value when not a terminal; a header on one); usage and unreachable agents', async () => {
  let k = 0;
  const server = createServer((req, res) => {
    assert.match(req.url!, /^\/stats\?compact=1$/);
    k++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(sample(k * 0.1, k)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const capture = (isTTY: boolean) => {
      const out: string[] = [];
      const err: string[] = [];
      return { out, err, io: { out: { isTTY, write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } } };
    };
    const plain = capture(false);
    assert.equal(await runStats([url, '--count', '2', '--interval', '0.1'], plain.io), 0);
    const lines = plain.out.join('').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    for (const l of lines) assert.match(l, /^time=\d\d:\d\d:\d\d ops=\d+ read_mib_s=[\d.]+ write_mib_s=[\d.]+ cache_hit_pct=\S+ dirty_mib=[\d.]+ segments_in_flight=\d+ rpc=\d+ rpc_p50_ms=\S+ rpc_p99_ms=\S+ objectstore=\d+$/);
    const tty = capture(true);
    assert.equal(await runStats([url, '--count=1', '--interval=0.1'], tty.io), 0);
    assert.deepEqual(tty.out.join('').trimEnd().split('\n').map((l) => l.length), [header().length, header().length]);

    const usage = capture(false);
    assert.equal(await runStats(['--count', '0', url], usage.io), 2);
    assert.match(usage.err.join(''), /--count needs a positive integer/);
    assert.equal(await runStats([], usage.io), 2);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  let downErr = '';
  const down = { out: { write: () => true }, err: { write: (s: string) => { downErr += s; } } };
  assert.equal(await runStats([url, '--count', '1'], down), 1);
  assert.match(downErr, /cannot read http:\/\/127\.0\.0\.1:\d+\/stats\?compact=1/);
});
