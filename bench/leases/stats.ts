/** bench/leases: latency summaries, timing and the text tables the report prints. */

export interface Latency {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function latency(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  return {
    n: s.length,
    p50Ms: pct(s, 0.5),
    p99Ms: pct(s, 0.99),
    maxMs: s.at(-1) ?? NaN,
    meanMs: s.reduce((a, b) => a + b, 0) / (s.length || NaN),
  };
}

export function median(xs: number[]): number {
  return pct([...xs].sort((a, b) => a - b), 0.5);
}

/** Milliseconds with three significant digits (0.0412, 1.23, 251). */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3);
}

export function fmtRate(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function timedMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Figures right-aligned; the first column and text columns (header '' or 'target') left-aligned. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const left = header.map((h, i) => i === 0 || h === '' || h === 'target');
  const line = (r: string[]) => r.map((c, i) => (left[i] ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [rule, line(header), rule, ...rows.map(line), rule];
}

/** A latency row: label, n, p50, p99, max (ms). */
export function latencyRow(label: string, l: Latency, note = ''): string[] {
  return [label, String(l.n), fmtMs(l.p50Ms), fmtMs(l.p99Ms), fmtMs(l.maxMs), note];
}
export const LATENCY_HEADER = ['', 'n', 'p50 ms', 'p99 ms', 'max ms', ''];
