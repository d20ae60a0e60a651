/** redact: a copy of a config that is safe to log or serve, with secret values hidden. */
import { findSectionSpec } from './load.js';
import type { Config, ConfigValue, Schema } from './types.js';

export const REDACTED = '[REDACTED]';

/** A frozen copy of `config` with every non-empty `secret` value replaced by '[REDACTED]'. */
export function redact(config: Config, schema: Schema): Config {
  const sections: Record<string, Record<string, ConfigValue>> = {};
  for (const [name, values] of Object.entries(config.sections)) {
    const spec = findSectionSpec(schema, name);
    const copy: Record<string, ConfigValue> = {};
    for (const [key, value] of Object.entries(values)) {
      const secret = spec !== undefined && Object.hasOwn(spec.keys, key) && spec.keys[key]!.secret === true;
      copy[key] = secret && value !== '' ? REDACTED : value;
    }
    sections[name] = Object.freeze(copy);
  }
  return Object.freeze({ file: config.file, sections: Object.freeze(sections) });
}
