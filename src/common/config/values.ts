/**
 * Value parsers: one per key type. Each returns the typed value or a problem sentence that the
 * loader prefixes with file, line, section and key.
 */
import path from 'node:path';
import type { ConfigValue, KeySpec } from './types.js';

export type Parsed = { ok: true; value: ConfigValue } | { ok: false; problem: string };

const ok = (value: ConfigValue): Parsed => ({ ok: true, value });
const bad = (problem: string): Parsed => ({ ok: false, problem });
const q = (raw: string): string => JSON.stringify(raw);

/** The reference's escapes, applied to every value after reading: \u002C or \u002c -> ',', \u0020 -> ' '. */
export function unescapeValue(raw: string): string {
  return raw.replace(/\\u002[cC]/g, ',').replace(/\\u0020/g, ' ');
}

const DURATION_UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};
const DURATION_PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/**
 * Go duration syntax ('100ms', '1h30m', '1.5s', '250us', bare '0') to milliseconds, fractional
 * below one millisecond. Negative durations are rejected. Returns undefined when malformed.
 */
export function parseDuration(text: string): number | undefined {
  let rest = text.startsWith('+') ? text.slice(1) : text;
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let ms = 0;
  while (rest !== '') {
    const m = DURATION_PART.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(ms * 1e6) / 1e6;
}

const BYTE_SUFFIX: Record<string, number> = {
  '': 1, b: 1,
  k: 2 ** 10, kib: 2 ** 10, kb: 1e3,
  m: 2 ** 20, mib: 2 ** 20, mb: 1e6,
  g: 2 ** 30, gib: 2 ** 30, gb: 1e9,
  t: 2 ** 40, tib: 2 ** 40, tb: 1e12,
  p: 2 ** 50, pib: 2 ** 50, pb: 1e15,
};

/**
 * A byte count: an integer with an optional suffix (case-insensitive). K, KiB = 1024;
 * KB = 1000; likewise M/MiB/MB, G/GiB/GB, T/TiB/TB, P/PiB/PB. Undefined when malformed or unsafe.
 */
export function parseBytes(text: string): number | undefined {
  const m = /^(\d+)\s*([A-Za-z]*)$/.exec(text);
  if (!m) return undefined;
  const mult = BYTE_SUFFIX[m[2]!.toLowerCase()];
  if (mult === undefined) return undefined;
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) ? n : undefined;
}

const BOOLS: Record<string, boolean> = { yes: true, true: true, on: true, no: false, false: false, off: false };

export function parseBool(text: string): boolean | undefined {
  return BOOLS[text.toLowerCase()];
}

export function parseInt10(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function parseFloat10(text: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function parseNumber(spec: KeySpec, raw: string): Parsed {
  let n: number | undefined;
  switch (spec.type) {
    case 'int':
      n = parseInt10(raw);
      if (n === undefined) return bad(`${q(raw)} is not an integer`);
      break;
    case 'float':
      n = parseFloat10(raw);
      if (n === undefined) return bad(`${q(raw)} is not a number`);
      break;
    case 'bytes':
      n = parseBytes(raw);
      if (n === undefined) {
        return bad(`${q(raw)} is not a byte size (expected an integer with optional suffix ` +
          'K/M/G/T, KiB/MiB/GiB/TiB = powers of 1024, or KB/MB/GB/TB = powers of 1000)');
      }
      break;
    default:
      if (raw.startsWith('-')) return bad(`${q(raw)}: a duration must not be negative`);
      n = parseDuration(raw);
      if (n === undefined) {
        return bad(`${q(raw)} is not a duration (expected e.g. 0, 250ms, 10s, 1h30m; units ns, us, ms, s, m, h)`);
      }
  }
  const unit = spec.type === 'duration' ? ' ms' : spec.type === 'bytes' ? ' bytes' : '';
  if (spec.min !== undefined && n < spec.min) return bad(`${q(raw)} is below the minimum of ${spec.min}${unit}`);
  if (spec.max !== undefined && n > spec.max) return bad(`${q(raw)} is above the maximum of ${spec.max}${unit}`);
  return ok(n);
}

function parseUrl(spec: KeySpec, raw: string): Parsed {
  const schemes = spec.urlSchemes ?? [];
  const expected = schemes.map((s) => `${s}://`).join(', ');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(`${q(raw)} is not a URL (expected one of ${expected})`);
  }
  if (!schemes.includes(url.protocol.slice(0, -1))) {
    return bad(`${q(raw)} has an unsupported scheme (expected one of ${expected})`);
  }
  return ok(raw);
}

/**
 * Parses one unescaped, trimmed value. baseDir resolves relative paths (the config file's
 * directory for file values and defaults, the working directory for command-line overrides).
 */
export function parseValue(spec: KeySpec, raw: string, baseDir: string): Parsed {
  switch (spec.type) {
    case 'string':
      if (spec.urlSchemes !== undefined && raw !== '') return parseUrl(spec, raw);
      if (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern.regex})$`).test(raw)) return bad(`${q(raw)} is not ${spec.pattern.means}`);
      return ok(raw);
    case 'path':
      return ok(raw === '' ? '' : path.resolve(baseDir, raw));
    case 'bool': {
      const b = parseBool(raw);
      return b === undefined ? bad(`${q(raw)} is not a boolean (expected yes/no, true/false or on/off)`) : ok(b);
    }
    case 'enum': {
      const values = spec.values ?? [];
      return values.includes(raw) ? ok(raw) : bad(`${q(raw)} is not one of ${values.join(', ')}`);
    }
    case 'int':
    case 'float':
    case 'bytes':
    case 'duration':
      return parseNumber(spec, raw);
  }
}
