/** Schema and result types of the config loader. Schemas are plain data, declared by each program. */

export type KeyType = 'string' | 'int' | 'float' | 'bool' | 'duration' | 'bytes' | 'path' | 'enum';

export interface KeySpec {
  type: KeyType;
  /** The default as it would be written in a config file ('10m', '1048576', 'yes'). */
  default?: string;
  /** The key must be present with a non-empty value. */
  required?: boolean;
  /** Inclusive bounds on the parsed number (milliseconds for durations, bytes for sizes). */
  min?: number;
  max?: number;
  /** The accepted values of an enum key (case-sensitive). */
  values?: string[];
  /** For string keys holding a URL: the accepted schemes, without '://' ('file', 's3'). */
  urlSchemes?: string[];
  /** For string keys: a regular expression the whole value must match, and what it means ('a list of uids'). */
  pattern?: { regex: string; means: string };
  /** Replaced by '[REDACTED]' by redact(); never logged. */
  secret?: boolean;
  /** Parsed and validated, but only used by a later feature, named here. */
  reserved?: string;
  /** What the key does, with units. Rendered into docs/CONFIGURATION.md. */
  doc: string;
}

export interface SectionSpec {
  /** An exact name ('Agent'), or a prefix pattern ending in ':*' ('Volume:*'). */
  name: string;
  /** Exact: the section must be present. Pattern: at least one matching section must be present. */
  required?: boolean;
  doc: string;
  keys: Record<string, KeySpec>;
}

export interface Schema {
  program: string;
  sections: SectionSpec[];
}

export type ConfigValue = string | number | boolean;

export type ConfigSection = Readonly<Record<string, ConfigValue>>;

/** A loaded, validated and deeply frozen configuration. */
export interface Config {
  /** Absolute path of the config file. */
  readonly file: string;
  /** Keyed by the actual section name ('Agent', 'Volume:CommonVolume'). */
  readonly sections: Readonly<Record<string, ConfigSection>>;
}
