/**
 * For tests: a strict parser of the Prometheus text exposition format 0.0.4 (what /metrics
 * serves). It throws, naming the line, on anything a Prometheus server would reject or that
 * breaks the format's rules: bad HELP/TYPE lines, an unknown type, a TYPE after the family's
 * first sample, a family whose samples are not contiguous, bad metric or label names, bad
 * escapes, bad values, duplicate series, histogram buckets that are not cumulative or whose
 * +Inf bucket differs from _count, negative counters.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help?: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** As Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf/Infinity in any case (prom-client writes 'Nan'). */
function parseValue(s: string, where: string): number {
  const special = s.toLowerCase();
  if (special === 'nan') return NaN;
  if (special === 'inf' || special === '+inf' || special === 'infinity' || special === '+infinity') return Infinity;
  if (special === '-inf' || special === '-infinity') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`${where}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

function unescapeHelp(s: string, where: string): string {
  return s.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`${where}: bad escape \\${c} in HELP`);
  });
}

/** Parses `{a="1",b="x\"y"}` starting at text[i] === '{'; returns labels and the index after '}'. */
function parseLabels(text: string, i: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  i++; // '{'
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!nameMatch) throw new Error(`${where}: bad label name at column ${i + 1}`);
    const name = nameMatch[0];
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`${where}: expected ="..." after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`${where}: unterminated value of label ${name}`);
      if (c === '"') { i++; break; }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${e ?? ''} in label ${name}`);
        i += 2;
        continue;
      }
      if (c === '\n') throw new Error(`${where}: raw newline in label ${name}`);
      value += c;
      i++;
    }
    if (Object.hasOwn(labels, name)) throw new Error(`${where}: label ${name} twice`);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: reserved or bad label name ${name}`);
    labels[name] = value;
    if (text[i] === ',') { i++; continue; }
    if (text[i] !== '}') throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const f = families.get(sampleName.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const closed = new Set<Family>();
  const typed = new Set<Family>();
  let current: Family | undefined;
  const declare = (name: string, where: string): Family => {
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${JSON.stringify(name)}`);
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    if (f.samples.length > 0) throw new Error(`${where}: HELP/TYPE for ${name} after its samples`);
    return f;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a comment
      const f = declare(m[2]!, where);
      if (m[1] === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${f.name}`);
        f.help = unescapeHelp(m[3] ?? '', where);
      } else {
        const t = (m[3] ?? '').trim();
        if (!TYPES.has(t)) throw new Error(`${where}: unknown type ${JSON.stringify(t)} for ${f.name}`);
        if (typed.has(f)) throw new Error(`${where}: second TYPE for ${f.name}`);
        typed.add(f);
        f.type = t as Family['type'];
      }
      if (current && current !== f) closed.add(current);
      current = f;
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`${where}: bad sample line ${JSON.stringify(line)}`);
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, where));
    const rest = line.slice(i);
    const vm = /^ +(\S+)(?: +(-?\d+))? *$/.exec(rest);
    if (!vm) throw new Error(`${where}: expected " value [timestamp]" after ${name}, got ${JSON.stringify(rest)}`);
    const value = parseValue(vm[1]!, where);
    let f = familyOf(name, families);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    if (closed.has(f)) throw new Error(`${where}: samples of ${f.name} are not contiguous`);
    if (current && current !== f) closed.add(current);
    current = f;
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSeries.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    seenSeries.add(key);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: counter ${name} is ${value}`);
    if (f.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) throw new Error(`${where}: bucket without le`);
    if (f.type === 'summary' && name === f.name && labels.quantile === undefined) throw new Error(`${where}: summary sample without quantile`);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples) {
    const e = series.get(keyOf(s.labels)) ?? { buckets: [] };
    series.set(keyOf(s.labels), e);
    if (s.name.endsWith('_bucket')) e.buckets.push([parseValue(s.labels.le!, `${f.name} le`), s.value]);
    else if (s.name.endsWith('_count')) e.count = s.value;
    else if (!s.name.endsWith('_sum')) throw new Error(`histogram ${f.name}: unexpected sample ${s.name}`);
  }
  for (const [key, e] of series) {
    const sorted = [...e.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`histogram ${f.name}${key}: buckets are not cumulative`);
    }
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new Error(`histogram ${f.name}${key}: no +Inf bucket`);
    if (e.count !== inf[1]) throw new Error(`histogram ${f.name}${key}: +Inf bucket ${inf[1]} != _count ${e.count}`);
  }
}

/** The value of the one sample of `name` whose labels include `labels` (0 when absent); throws when several match. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const matches = [...families.values()].flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${matches.length} samples`);
  return matches[0]?.value ?? 0;
}

/** Sum of every sample of `name` whose labels include `labels`. */
export function sampleSum(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  return [...families.values()].flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
