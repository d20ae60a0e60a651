/**
 * Configuration: INI files in the reference's format plus `Section.Key=Value` overrides,
 * validated against a per-program Schema (plain data declared beside each program).
 *
 * Parts: read-ini (line scanner with line numbers, then the `ini` package), values (one parser
 * per key type), load (schema checks, defaults, freezing), describe (markdown for
 * docs/CONFIGURATION.md), redact (secrets out of logs).
 * Invariants: a returned Config is deeply frozen and holds every key of every section present
 * (defaults filled in), with typed values (durations in ms, sizes in bytes, paths absolute);
 * every problem is a PfsError('PFS_ERR_CONFIG') whose message names file:line, [section] and key.
 * Only main.ts calls loadConfig.
 */
export type { Config, ConfigSection, ConfigValue, KeySpec, KeyType, Schema, SectionSpec } from './types.js';
export { loadConfig } from './load.js';
export { describeSchema } from './describe.js';
export { redact, REDACTED } from './redact.js';
export { parseBytes, parseDuration } from './values.js';
