/**
 * Reading: config text and command-line overrides to raw (untyped, still escaped) entries, each
 * remembering where it came from ('conf/x.conf:12' or 'command line override "..."').
 *
 * Our own line scanner checks the syntax and records line numbers; it then re-emits every
 * section and entry in a form the `ini` package reads back losslessly, and `ini.parse` does the
 * actual parse. The re-emitted form defuses ini's surprises: dots in section names are escaped
 * (ini would nest 'a.b' as a.b), values are JSON-quoted (ini would cut them at ';' or '#' and
 * strip quotes), key names are restricted to [A-Za-z0-9_] (ini treats a trailing '[]' as an
 * array), and '__proto__', which ini silently drops, is refused. ini still turns "true", "false"
 * and "null" into non-strings; those are turned back.
 */
import ini from 'ini';

export interface RawEntry {
  /** Trimmed, still escaped (\u002C); the loader unescapes it before parsing. */
  value: string;
  where: string;
  /** Relative paths in the value resolve against this directory. */
  baseDir: string;
  /** Given as a command-line override (where then quotes the override: never shown for a secret). */
  fromCommandLine?: boolean;
}

export interface RawSection {
  where: string;
  entries: Map<string, RawEntry>;
}

export type RawConfig = Map<string, RawSection>;

export const KEY_NAME = /^[A-Za-z0-9_]+$/;
export const SECTION_NAME = /^[A-Za-z0-9_.:@+-]+$/;

const SECTION_LINE = /^\[(.*)\]$/;
const ENTRY_LINE = /^([A-Za-z0-9_]+)\s*[:=](.*)$/;

/** Parses config text. Problems are appended to `errors` ('file:line: problem'); parsing goes on. */
export function readIniText(text: string, fileName: string, baseDir: string, errors: string[]): RawConfig {
  interface Scanned { section: string; key: string; line: number }
  const entries: Scanned[] = [];
  const sectionLines = new Map<string, number>();
  const out: string[] = [];
  let section: string | undefined;

  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, i) => {
    const lineNo = i + 1;
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const sm = SECTION_LINE.exec(line);
    if (sm) {
      const name = sm[1]!.trim();
      if (!SECTION_NAME.test(name) || name === '__proto__') {
        errors.push(`${fileName}:${lineNo}: invalid section name ${JSON.stringify(name)} ` +
          '(allowed characters: letters, digits and _ . : @ + -)');
        section = undefined;
        return;
      }
      section = name;
      if (!sectionLines.has(name)) sectionLines.set(name, lineNo);
      out.push(`[${name.replace(/\./g, '\\.')}]`);
      return;
    }
    const em = ENTRY_LINE.exec(line);
    if (!em || em[1] === '__proto__') {
      errors.push(`${fileName}:${lineNo}: cannot parse ${JSON.stringify(line)} ` +
        '(expected "[Section]", "Key: value", "Key = value" or a comment starting with # or ;)');
      return;
    }
    if (section === undefined) {
      if (sectionLines.size === 0) errors.push(`${fileName}:${lineNo}: key ${em[1]} appears before any [Section]`);
      return; // otherwise it belongs to a section already reported as invalid
    }
    entries.push({ section, key: em[1]!, line: lineNo });
    out.push(`${em[1]}=${JSON.stringify(em[2]!.trim())}`);
  });

  const parsed = ini.parse(out.join('\n')) as Record<string, Record<string, unknown>>;
  const raw: RawConfig = new Map();
  for (const [name, line] of sectionLines) {
    raw.set(name, { where: `${fileName}:${line}`, entries: new Map() });
  }
  for (const { section: name, key, line } of entries) {
    const value = parsed[name]?.[key];
    if (typeof value !== 'string' && typeof value !== 'boolean' && value !== null) {
      throw new Error(`ini did not read back [${name}] ${key} (got ${typeof value})`);
    }
    // A repeated key replaces the earlier one (and its line), as ini does.
    raw.get(name)!.entries.set(key, { value: String(value), where: `${fileName}:${line}`, baseDir });
  }
  return raw;
}

/**
 * Applies `Section.Key=Value` overrides on top of `raw`. The section is everything before the
 * last '.' that precedes the first '=' (so 'Volume:X.MetadataPath=/m' works); an override may
 * create a section.
 */
export function applyOverrides(raw: RawConfig, overrides: readonly string[], baseDir: string, errors: string[]): void {
  for (const text of overrides) {
    const where = `command line override ${JSON.stringify(text)}`;
    const eq = text.indexOf('=');
    const lhs = eq < 0 ? '' : text.slice(0, eq).trim();
    const dot = lhs.lastIndexOf('.');
    const section = lhs.slice(0, dot);
    const key = lhs.slice(dot + 1);
    const valid = eq > 0 && dot > 0 && KEY_NAME.test(key) && SECTION_NAME.test(section) &&
      key !== '__proto__' && section !== '__proto__';
    if (!valid) {
      errors.push(`${where}: expected Section.Key=Value (e.g. Agent.MaxFlushTime=500ms)`);
      continue;
    }
    let target = raw.get(section);
    if (!target) {
      target = { where, entries: new Map() };
      raw.set(section, target);
    }
    target.entries.set(key, { value: text.slice(eq + 1).trim(), where, baseDir, fromCommandLine: true });
  }
}
