/**
 * pfs stats URL [--count N] [--interval SECONDS]: a live view of one agent, from its /stats,
 * one line per interval (like `juicefs stats`): FUSE ops/s, MiB/s read and written, read-cache
 * hit ratio, dirty data and segments in flight, RPCs/s with their p50/p99 latency (from the
 * histogram buckets of the interval), object-store requests/s.
 * On a terminal: aligned columns under a header repeated every 20 lines. Otherwise: plain
 * `name=value` lines. --count N prints N lines and exits. Exit codes: 0, 1 (agent unreachable),
 * 2 (usage).
 */
import { mergeHistograms, quantile, type AgentStats } from '../common/metrics/index.js';

export interface StatsIo {
  out: { write(s: string): unknown; isTTY?: boolean };
  err: { write(s: string): unknown };
}

const USAGE = 'usage: pfs stats URL [--count N] [--interval SECONDS]   (URL: the agent\'s HTTP server, e.g. http://127.0.0.1:9090)\n';

export interface Row {
  time: string;
  opsPerSec: number;
  readMiBPerSec: number;
  writeMiBPerSec: number;
  /** Percent of read-cache lookups that hit during the interval; undefined without lookups. */
  hitPercent?: number;
  dirtyMiB: number;
  segmentsInFlight: number;
  rpcPerSec: number;
  rpcP50Ms?: number;
  rpcP99Ms?: number;
  storePerSec: number;
}

const MiB = 1 << 20;
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const fuseOps = (s: AgentStats): number => sum(Object.values(s.fuse.ops).map((o) => o.count));
const rpcCalls = (s: AgentStats): number => sum(Object.values(s.rpc.methods).map((m) => m.calls));
const storeRequests = (s: AgentStats): number => sum(Object.values(s.objectStore).flatMap((ops) => Object.values(ops).map((o) => o.requests)));

/** The figures of the interval between two /stats documents. */
export function rowBetween(prev: AgentStats, cur: AgentStats): Row {
  const dt = Math.max(0.001, (cur.timeMs - prev.timeMs) / 1000);
  const rate = (a: number, b: number): number => Math.max(0, b - a) / dt;
  const lookups = (cur.readCache ? cur.readCache.hits + cur.readCache.misses : 0) - (prev.readCache ? prev.readCache.hits + prev.readCache.misses : 0);
  const hits = (cur.readCache?.hits ?? 0) - (prev.readCache?.hits ?? 0);
  const rpcNow = mergeHistograms(Object.values(cur.rpc.methods).map((m) => m.seconds));
  const rpcBefore = mergeHistograms(Object.values(prev.rpc.methods).map((m) => m.seconds));
  const ms = (q: number): number | undefined => {
    const v = quantile(q, rpcNow, rpcBefore);
    return v === undefined ? undefined : v * 1000;
  };
  return {
    time: new Date(cur.timeMs).toTimeString().slice(0, 8),
    opsPerSec: rate(fuseOps(prev), fuseOps(cur)),
    readMiBPerSec: rate(prev.fuse.readBytes, cur.fuse.readBytes) / MiB,
    writeMiBPerSec: rate(prev.fuse.writtenBytes, cur.fuse.writtenBytes) / MiB,
    hitPercent: lookups > 0 ? (100 * hits) / lookups : undefined,
    dirtyMiB: (cur.writeback?.dirtyBytes ?? 0) / MiB,
    segmentsInFlight: cur.writeback?.segmentsInFlight ?? 0,
    rpcPerSec: rate(rpcCalls(prev), rpcCalls(cur)),
    rpcP50Ms: ms(0.5),
    rpcP99Ms: ms(0.99),
    storePerSec: rate(storeRequests(prev), storeRequests(cur)),
  };
}

const COLUMNS: [title: string, key: string, width: number, value: (r: Row) => string][] = [
  ['time', 'time', 8, (r) => r.time],
  ['ops/s', 'ops', 8, (r) => r.opsPerSec.toFixed(0)],
  ['read MiB/s', 'read_mib_s', 10, (r) => r.readMiBPerSec.toFixed(2)],
  ['write MiB/s', 'write_mib_s', 11, (r) => r.writeMiBPerSec.toFixed(2)],
  ['hit%', 'cache_hit_pct', 5, (r) => (r.hitPercent === undefined ? '-' : r.hitPercent.toFixed(0))],
  ['dirty MiB', 'dirty_mib', 9, (r) => r.dirtyMiB.toFixed(1)],
  ['segs', 'segments_in_flight', 4, (r) => String(r.segmentsInFlight)],
  ['rpc/s', 'rpc', 7, (r) => r.rpcPerSec.toFixed(0)],
  ['p50 ms', 'rpc_p50_ms', 7, (r) => (r.rpcP50Ms === undefined ? '-' : r.rpcP50Ms.toFixed(2))],
  ['p99 ms', 'rpc_p99_ms', 7, (r) => (r.rpcP99Ms === undefined ? '-' : r.rpcP99Ms.toFixed(2))],
  ['obj/s', 'objectstore', 6, (r) => r.storePerSec.toFixed(0)],
];

export function header(): string {
  return COLUMNS.map(([title, , w]) => title.padStart(w)).join(' ');
}

/** One row as aligned columns (terminal) or as `name=value` pairs (anything else). */
export function formatRow(r: Row, tty: boolean): string {
  return tty
    ? COLUMNS.map(([, , w, v]) => v(r).padStart(w)).join(' ')
    : COLUMNS.map(([, key, , v]) => `${key}=${v(r)}`).join(' ');
}

/** The /stats URL for what the user typed: a base URL, host:port, or the /stats URL itself. */
export function statsUrl(arg: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(arg) ? arg : `http://${arg}`;
  const u = new URL(withScheme);
  if (!u.pathname.replace(/\/+$/, '').endsWith('/stats')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/stats`;
  u.searchParams.set('compact', '1');
  return u.toString();
}

async function fetchStats(url: string): Promise<AgentStats> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as AgentStats;
}

function parseArgs(args: string[]): { url: string; count?: number; intervalMs: number } | string {
  let url: string | undefined;
  let count: number | undefined;
  let intervalMs = 1000;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.startsWith('--') ? a.split('=', 2) as [string, string | undefined] : [a, undefined];
    const value = (): string => inline ?? args[++i] ?? '';
    if (flag === '--count') {
      count = Number(value());
      if (!Number.isInteger(count) || count < 1) return '--count needs a positive integer';
    } else if (flag === '--interval') {
      const s = Number(value());
      if (!(s >= 0.1 && s <= 3600)) return '--interval needs seconds between 0.1 and 3600';
      intervalMs = Math.round(s * 1000);
    } else if (flag.startsWith('-')) {
      return `unknown option ${flag}`;
    } else if (url === undefined) {
      url = a;
    } else {
      return `unexpected argument ${a}`;
    }
  }
  if (url === undefined) return 'missing URL';
  return { url, count, intervalMs };
}

export async function runStats(args: string[], io: StatsIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.out.write(USAGE);
    return 0;
  }
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    io.err.write(`pfs stats: ${parsed}\n${USAGE}`);
    return 2;
  }
  let url: string;
  try {
    url = statsUrl(parsed.url);
  } catch {
    io.err.write(`pfs stats: ${parsed.url} is not a URL\n${USAGE}`);
    return 2;
  }
  const tty = io.out.isTTY === true;
  let prev: AgentStats;
  try {
    prev = await fetchStats(url);
  } catch (err) {
    io.err.write(`pfs stats: cannot read ${url}: ${(err as Error).message}\n`);
    return 1;
  }
  for (let n = 0; parsed.count === undefined || n < parsed.count; n++) {
    await new Promise((r) => setTimeout(r, parsed.intervalMs));
    let cur: AgentStats;
    try {
      cur = await fetchStats(url);
    } catch (err) {
      io.err.write(`pfs stats: cannot read ${url}: ${(err as Error).message}\n`);
      return 1;
    }
    if (tty && n % 20 === 0) io.out.write(`${header()}\n`);
    io.out.write(`${formatRow(rowBetween(prev, cur), tty)}\n`);
    prev = cur;
  }
  return 0;
}
