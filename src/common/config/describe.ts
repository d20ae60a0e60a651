/**
 * describeSchema: a schema as markdown, one table per section. docs/CONFIGURATION.md embeds this
 * output verbatim and docs.test.ts checks that it is current.
 */
import type { KeySpec, Schema, SectionSpec } from './types.js';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** A bound in the key's unit: '1 ms', '4 KiB', '100'. */
function bound(spec: KeySpec, n: number): string {
  if (spec.type === 'duration') return `${n} ms`;
  if (spec.type !== 'bytes') return String(n);
  let unit = -1;
  while (unit < BINARY_UNITS.length - 1 && n >= 1024 && n % 1024 === 0) { n /= 1024; unit++; }
  return unit < 0 ? `${n} byte${n === 1 ? '' : 's'}` : `${n} ${BINARY_UNITS[unit]}`;
}

function describeType(spec: KeySpec): string {
  const parts: string[] = [spec.type];
  if (spec.type === 'enum') parts[0] = `enum: ${(spec.values ?? []).join(', ')}`;
  if (spec.urlSchemes) parts[0] = `URL: ${spec.urlSchemes.map((s) => `${s}://`).join(', ')}`;
  if (spec.min !== undefined && spec.max !== undefined) {
    parts.push(`${bound(spec, spec.min)}–${bound(spec, spec.max)}`);
  }
  else if (spec.min !== undefined) parts.push(`≥ ${bound(spec, spec.min)}`);
  else if (spec.max !== undefined) parts.push(`≤ ${bound(spec, spec.max)}`);
  return parts.join(', ');
}

function describeDefault(spec: KeySpec): string {
  if (spec.required) return '*(required)*';
  if (spec.default === undefined) return '*(none)*';
  if (spec.default === '') return '*(empty)*';
  return `\`${spec.default}\``;
}

function describeEffect(spec: KeySpec): string {
  const notes: string[] = [];
  if (spec.reserved) notes.push(`*Reserved for ${spec.reserved}: parsed and validated, not used yet.*`);
  if (spec.secret) notes.push('*Secret: shown as [REDACTED] in logs and status output.*');
  notes.push(spec.doc);
  return notes.join(' ');
}

function describeSection(section: SectionSpec): string {
  const title = section.name.endsWith(':*') ? `${section.name.slice(0, -1)}<name>` : section.name;
  const presence = section.name.endsWith(':*')
    ? (section.required ? 'at least one required' : 'optional, any number')
    : (section.required ? 'required' : 'optional');
  const rows = Object.entries(section.keys).map(([key, spec]) =>
    `| \`${key}\` | ${cell(describeType(spec))} | ${cell(describeDefault(spec))} | ${cell(describeEffect(spec))} |`);
  return [
    `### \`[${title}]\` (${presence})`,
    '',
    section.doc,
    '',
    '| Key | Type | Default | Effect |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** Markdown tables describing every section and key of `schema`. */
export function describeSchema(schema: Schema): string {
  return schema.sections.map(describeSection).join('\n');
}
