/**
 * The schemas against their documentation and samples: docs/CONFIGURATION.md embeds
 * describeSchema() of each program, and conf/*.conf list every key with its default and load.
 * (The one place in common/ that imports the programs' schemas: it checks repository files.)
 * PFS_UPDATE_DOCS=1 rewrites the generated blocks of docs/CONFIGURATION.md instead of failing.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { agentSchema } from '../../agent/config-schema.js';
import { volumeServerSchema } from '../../volume/config-schema.js';
import { describeSchema, loadConfig, redact, type Config, type Schema } from './index.js';
import { findSectionSpec } from './load.js';
import { parseValue } from './values.js';

/** The repository root: the nearest ancestor holding package.json (this file also runs from dist/). */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    assert.notEqual(up, dir, 'package.json not found above the test file');
    dir = up;
  }
  return dir;
}

const root = findRoot();
const docsPath = path.join(root, 'docs/CONFIGURATION.md');
const confDir = path.join(root, 'conf');

const programs: { schema: Schema; sample: string }[] = [
  { schema: volumeServerSchema, sample: 'proxyfsd.conf' },
  { schema: agentSchema, sample: 'pfsagentd.conf' },
];

function generatedBlock(docs: string, program: string): { start: number; end: number } {
  const begin = new RegExp(`<!-- BEGIN GENERATED ${program}:[^\\n]*-->\\n`).exec(docs);
  const endMarker = `<!-- END GENERATED ${program} -->`;
  assert.ok(begin, `docs/CONFIGURATION.md lacks the BEGIN GENERATED ${program} marker`);
  const end = docs.indexOf(endMarker);
  assert.ok(end > begin.index, `docs/CONFIGURATION.md lacks the END GENERATED ${program} marker`);
  return { start: begin.index + begin[0].length, end };
}

test('docs/CONFIGURATION.md embeds the current describeSchema() of each program', () => {
  let docs = readFileSync(docsPath, 'utf8');
  for (const { schema } of programs) {
    const { start, end } = generatedBlock(docs, schema.program);
    const want = describeSchema(schema);
    if (process.env.PFS_UPDATE_DOCS === '1') docs = docs.slice(0, start) + want + docs.slice(end);
    else {
      assert.equal(docs.slice(start, end), want,
        `docs/CONFIGURATION.md is stale for ${schema.program}; run: PFS_UPDATE_DOCS=1 node --import tsx --test src/common/config/docs.test.ts`);
    }
  }
  if (process.env.PFS_UPDATE_DOCS === '1') writeFileSync(docsPath, docs);
});

test('docs/CONFIGURATION.md documents every section and key', () => {
  const docs = readFileSync(docsPath, 'utf8');
  for (const { schema } of programs) {
    const { start, end } = generatedBlock(docs, schema.program);
    const block = docs.slice(start, end);
    for (const section of schema.sections) {
      const title = section.name.endsWith(':*') ? `${section.name.slice(0, -1)}<name>` : section.name;
      const at = block.indexOf(`### \`[${title}]\``);
      assert.ok(at >= 0, `${schema.program}: section [${section.name}] is not documented`);
      const next = block.indexOf('\n### ', at + 1);
      const table = block.slice(at, next < 0 ? undefined : next);
      for (const key of Object.keys(section.keys)) {
        assert.ok(table.includes(`| \`${key}\` |`), `${schema.program}: [${section.name}] ${key} is not documented`);
      }
    }
  }
});

/** Key -> raw value of the `Key: value` lines of one section of a sample file. */
function sampleEntries(text: string, schema: Schema, sectionName: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const sm = /^\[(.+)\]$/.exec(line.trim());
    if (sm) current = sm[1];
    const em = /^([A-Za-z0-9_]+):(.*)$/.exec(line);
    if (em && current !== undefined && findSectionSpec(schema, current)?.name === sectionName) {
      out.set(em[1]!, em[2]!.trim());
    }
  }
  return out;
}

for (const { schema, sample } of programs) {
  test(`conf/${sample} lists every key of ${schema.program} with its default, in Key: value layout`, () => {
    const text = readFileSync(path.join(confDir, sample), 'utf8');
    for (const section of schema.sections) {
      const entries = sampleEntries(text, schema, section.name);
      for (const [key, spec] of Object.entries(section.keys)) {
        const raw = entries.get(key);
        assert.ok(raw !== undefined, `conf/${sample}: [${section.name}] ${key} is missing`);
        if (spec.default === undefined) continue;
        const got = parseValue(spec, raw, confDir);
        const want = parseValue(spec, spec.default, confDir);
        assert.deepEqual(got, want, `conf/${sample}: [${section.name}] ${key} is not the default ${spec.default}`);
      }
    }
  });

  test(`conf/${sample} loads with the ${schema.program} schema`, () => {
    const config = loadConfig(schema, path.join(confDir, sample), []);
    for (const section of schema.sections) {
      const names = Object.keys(config.sections).filter((n) => findSectionSpec(schema, n) === section);
      assert.ok(names.length > 0, `conf/${sample}: no [${section.name}]`);
    }
  });
}

test('conf/pfsagentd-reference.conf (the README example) loads with the agent schema', () => {
  const config: Config = loadConfig(agentSchema, path.join(confDir, 'pfsagentd-reference.conf'), []);
  const agent = config.sections.Agent!;
  assert.equal(agent.FUSEVolumeName, 'CommonVolume');
  assert.equal(agent.FUSEMountPointPath, path.join(confDir, 'AgentMountPoint'));
  assert.equal(agent.SwiftTimeout, 600_000);
  assert.equal(agent.MaxFlushSize, 10_485_760);
  assert.equal(agent.MaxFlushTime, 200);
  assert.equal(agent.LogFilePath, '/var/log/pfsagentd.log');
  assert.equal(agent.FUSECongestionThreshhold, 0);
  assert.equal(agent.RetryRPCPort, 32356);
  assert.deepEqual(JSON.parse(agent.PlugInEnvValue as string), {
    AuthURL: 'http://localhost:8080/auth/v1.0', AuthUser: 'test:tester', AuthKey: 'testing', Account: 'AUTH_test',
  });
  assert.equal(redact(config, agentSchema).sections.Agent!.PlugInEnvValue, '[REDACTED]');
  // Every key of the reference example is a schema key (no unknown-key errors above), and the
  // example sets every agent key except the ones pfs added.
  const added = ['FUSEAllowOther', 'FUSEMaxRead', 'RetryRPCCACertFilePath', 'RetryRPCCertFilePath', 'RetryRPCKeyFilePath', 'DirtyFileLimit', 'ObjectStoreURL', 'FUSESession', 'HTTPServerAdminTokenFile', 'ShutdownFlushTimeout'];
  const text = readFileSync(path.join(confDir, 'pfsagentd-reference.conf'), 'utf8');
  for (const key of Object.keys(agentSchema.sections[0]!.keys)) {
    if (!added.includes(key)) assert.match(text, new RegExp(`^${key}:`, 'm'), `reference lacks ${key}`);
  }
});

test('the HTTP server stays off the network by default: schema default and sample config bind loopback, with no admin token', () => {
  const keys = agentSchema.sections[0]!.keys;
  assert.equal(keys.HTTPServerIPAddr!.default, '127.0.0.1');
  assert.equal(keys.HTTPServerAdminTokenFile!.default, '');
  const agent = loadConfig(agentSchema, path.join(confDir, 'pfsagentd.conf'), []).sections.Agent!;
  assert.equal(agent.HTTPServerIPAddr, '127.0.0.1');
  assert.equal(agent.HTTPServerAdminTokenFile, '');
});

test('schema defaults parse and respect their own bounds; reserved keys name an issue', () => {
  for (const { schema } of programs) {
    for (const section of schema.sections) {
      assert.ok(section.doc.length > 0, `${schema.program} [${section.name}] has no doc`);
      for (const [key, spec] of Object.entries(section.keys)) {
        const where = `${schema.program} [${section.name}] ${key}`;
        assert.ok(spec.doc.length > 10, `${where} has no doc`);
        assert.ok(spec.required || spec.default !== undefined, `${where} has neither a default nor required`);
        if (spec.default !== undefined) assert.equal(parseValue(spec, spec.default, '/').ok, true, where);
        if (spec.reserved) assert.match(spec.reserved, /\(issue \d+\)$/, where);
      }
    }
  }
});
