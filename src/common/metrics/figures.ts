/**
 * prom-client metrics read back as plain JSON figures (for /stats), so that /metrics and /stats
 * come from the same handles and never disagree.
 */
import type { Counter, Gauge, Histogram } from 'prom-client';

/** One histogram series: observation count, sum (seconds or the unit of the metric), cumulative buckets [le, count]. */
export interface HistogramFigures {
  count: number;
  sum: number;
  buckets: [le: string, count: number][];
}

type Labels = Record<string, string | number | undefined>;
interface Sample { value: number; labels: Labels; metricName?: string }

async function samples(m: Counter<string> | Gauge<string> | Histogram<string>): Promise<Sample[]> {
  return (await m.get()).values as Sample[];
}

/** Counter or gauge: the sum of its samples. */
export async function total(m: Counter<string> | Gauge<string>): Promise<number> {
  return (await samples(m)).reduce((s, v) => s + v.value, 0);
}

/** Counter or gauge: samples summed by the value of one label. */
export async function byLabel(m: Counter<string> | Gauge<string>, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of await samples(m)) {
    const k = String(v.labels[label] ?? '');
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

/** Counter or gauge: samples by two labels, outer then inner. */
export async function byLabels(m: Counter<string> | Gauge<string>, outer: string, inner: string): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const v of await samples(m)) {
    const o = (out[String(v.labels[outer] ?? '')] ??= {});
    const i = String(v.labels[inner] ?? '');
    o[i] = (o[i] ?? 0) + v.value;
  }
  return out;
}

/** Histogram: one HistogramFigures per value of the key labels (joined with '/'). */
export async function histogramsBy(h: Histogram<string>, keyLabels: string[]): Promise<Record<string, HistogramFigures>> {
  const out: Record<string, HistogramFigures> = {};
  for (const v of await samples(h)) {
    const key = keyLabels.map((l) => String(v.labels[l] ?? '')).join('/');
    const f = (out[key] ??= { count: 0, sum: 0, buckets: [] });
    if (v.metricName?.endsWith('_bucket')) f.buckets.push([String(v.labels.le), v.value]);
    else if (v.metricName?.endsWith('_sum')) f.sum = v.value;
    else if (v.metricName?.endsWith('_count')) f.count = v.value;
  }
  return out;
}

/**
 * The q-quantile (0..1) of the observations between two readings of a histogram (before may be
 * undefined: since start), interpolated linearly inside the bucket as Prometheus'
 * histogram_quantile does. undefined when nothing was observed in between.
 */
export function quantile(q: number, now: HistogramFigures, before?: HistogramFigures): number | undefined {
  const prev = new Map(before?.buckets ?? []);
  const deltas = now.buckets.map(([le, c]) => [le === '+Inf' ? Infinity : Number(le), c - (prev.get(le) ?? 0)] as const);
  const n = deltas.at(-1)?.[1] ?? 0;
  if (n <= 0) return undefined;
  const rank = q * n;
  let lower = 0;
  let below = 0;
  for (const [le, cum] of deltas) {
    if (cum >= rank) {
      if (le === Infinity) return lower;
      const inBucket = cum - below;
      return inBucket <= 0 ? le : lower + (le - lower) * ((rank - below) / inBucket);
    }
    lower = le;
    below = cum;
  }
  return lower;
}

/** Sums histogram series with identical buckets (e.g. every RPC method into one). */
export function mergeHistograms(list: HistogramFigures[]): HistogramFigures {
  const out: HistogramFigures = { count: 0, sum: 0, buckets: [] };
  const at = new Map<string, number>();
  for (const h of list) {
    out.count += h.count;
    out.sum += h.sum;
    for (const [le, c] of h.buckets) {
      const i = at.get(le);
      if (i === undefined) {
        at.set(le, out.buckets.length);
        out.buckets.push([le, c]);
      } else {
        out.buckets[i]![1] += c;
      }
    }
  }
  return out;
}
