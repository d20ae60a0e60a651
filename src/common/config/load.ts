/**
 * loadConfig: read the file, apply overrides, check every section and key against the schema,
 * parse values, fill defaults, freeze. All problems found are reported together in one
 * PfsError('PFS_ERR_CONFIG'), one line each.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PfsError } from '../errors/index.js';
import { applyOverrides, readIniText, type RawSection } from './read-ini.js';
import type { Config, ConfigValue, KeySpec, Schema, SectionSpec } from './types.js';
import { parseValue, unescapeValue } from './values.js';

/** The spec of a section name: an exact match first, then a 'Prefix:*' pattern. */
export function findSectionSpec(schema: Schema, name: string): SectionSpec | undefined {
  const exact = schema.sections.find((s) => !isPattern(s) && s.name === name);
  if (exact) return exact;
  return schema.sections.find((s) => isPattern(s) && name.startsWith(s.name.slice(0, -1)) &&
    name.length > s.name.length - 1);
}

export const isPattern = (spec: SectionSpec): boolean => spec.name.endsWith(':*');

const hasKey = (spec: SectionSpec, key: string): boolean => Object.hasOwn(spec.keys, key);

function suggestion(candidates: Iterable<string>, name: string): string {
  for (const c of candidates) if (c.toLowerCase() === name.toLowerCase()) return ` (did you mean ${c}?)`;
  return '';
}

function parseDefault(schema: Schema, section: string, key: string, spec: KeySpec, baseDir: string): ConfigValue {
  const parsed = parseValue(spec, spec.default!, baseDir);
  if (!parsed.ok) {
    const where = `schema ${schema.program}: [${section}] ${key}`;
    throw new PfsError('PFS_ERR_INTERNAL', `${where}: bad default: ${parsed.problem}`);
  }
  return parsed.value;
}

/** How secrets may be given (docs/SECURITY.md §7). */
interface SecretRules {
  /** The config file is readable by every user (a daemon refuses secrets in it then). */
  fileWorldReadable: boolean;
  file: string;
}

function checkSection(
  schema: Schema, name: string, spec: SectionSpec, raw: RawSection, baseDir: string, errors: string[], secrets?: SecretRules,
): Record<string, ConfigValue> {
  const values: Record<string, ConfigValue> = {};
  for (const [key, entry] of raw.entries) {
    if (!hasKey(spec, key)) {
      errors.push(`${entry.where}: [${name}] ${key}: unknown key${suggestion(Object.keys(spec.keys), key)}`);
      continue;
    }
    const keySpec = spec.keys[key]!;
    const value = unescapeValue(entry.value);
    if (keySpec.secret && value !== '') {
      if (entry.fromCommandLine) {
        // Not entry.where: it quotes the override, secret and all.
        errors.push(`command line override ${name}.${key}: a secret is never taken from the command line (every user can read it in /proc/PID/cmdline); put it in the config file, readable by its owner only, or leave it empty and give the plug-in's variable through the environment`);
        continue;
      }
      if (secrets?.fileWorldReadable) {
        errors.push(`${entry.where}: [${name}] ${key}: holds a secret, but ${secrets.file} is readable by every user; make it private (chmod 600) or leave ${key} empty and give the plug-in's variable through the environment`);
        continue;
      }
    }
    if (keySpec.required && value === '') {
      errors.push(`${entry.where}: [${name}] ${key}: required key has an empty value`);
      continue;
    }
    const parsed = parseValue(keySpec, value, entry.baseDir);
    if (parsed.ok) values[key] = parsed.value;
    else errors.push(`${entry.where}: [${name}] ${key}: ${parsed.problem}`);
  }
  const ordered: Record<string, ConfigValue> = {};
  for (const [key, keySpec] of Object.entries(spec.keys)) {
    if (Object.hasOwn(values, key)) ordered[key] = values[key]!;
    else if (raw.entries.has(key)) continue; // already reported
    else if (keySpec.required) errors.push(`${raw.where}: [${name}] ${key}: required key is missing`);
    else if (keySpec.default !== undefined) ordered[key] = parseDefault(schema, name, key, keySpec, baseDir);
  }
  return ordered;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Loads `filePath` (named in messages as given), applies `overrides` ('Section.Key=Value'),
 * validates against `schema`. Throws PfsError('PFS_ERR_CONFIG') listing every problem.
 * A secret key (KeySpec.secret) is never taken from an override; with privateSecrets (the
 * daemons), nor from a file every user can read.
 */
export function loadConfig(schema: Schema, filePath: string, overrides: readonly string[], opts: { privateSecrets?: boolean } = {}): Config {
  let text: string;
  let secrets: SecretRules | undefined;
  try {
    text = readFileSync(filePath, 'utf8');
    if (opts.privateSecrets) secrets = { file: filePath, fileWorldReadable: (statSync(filePath).mode & 0o004) !== 0 };
  } catch (err) {
    const problem = `${filePath}: cannot read config file: ${(err as Error).message}`;
    throw new PfsError('PFS_ERR_CONFIG', problem, { cause: err });
  }
  const file = path.resolve(filePath);
  const baseDir = path.dirname(file);
  const errors: string[] = [];
  const raw = readIniText(text, filePath, baseDir, errors);
  applyOverrides(raw, overrides, process.cwd(), errors);

  const sections: Record<string, Record<string, ConfigValue>> = {};
  for (const [name, rawSection] of raw) {
    const spec = findSectionSpec(schema, name);
    if (!spec) {
      const known = schema.sections.map((s) => `[${s.name}]`).join(', ');
      errors.push(`${rawSection.where}: unknown section [${name}] (${schema.program} knows ${known})`);
      continue;
    }
    sections[name] = checkSection(schema, name, spec, rawSection, baseDir, errors, secrets);
  }
  for (const spec of schema.sections) {
    if (isPattern(spec)) {
      const present = [...raw.keys()].some((name) => findSectionSpec(schema, name) === spec);
      if (spec.required && !present) {
        errors.push(`${filePath}: at least one [${spec.name.slice(0, -1)}<name>] section is required`);
      }
    } else if (!raw.has(spec.name)) {
      if (spec.required) errors.push(`${filePath}: missing required section [${spec.name}]`);
      // An absent optional section behaves as if present and empty, unless it needs keys.
      else if (!Object.values(spec.keys).some((k) => k.required)) {
        sections[spec.name] = checkSection(schema, spec.name, spec,
          { where: filePath, entries: new Map() }, baseDir, errors);
      }
    }
  }
  if (errors.length > 0) throw new PfsError('PFS_ERR_CONFIG', errors.join('\n'));
  return deepFreeze({ file, sections });
}
