import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig, redact, type Schema } from './index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pfs-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes a config file and returns its path. */
function conf(text: string): string {
  const file = path.join(dir, `t${n++}.conf`);
  writeFileSync(file, text);
  return file;
}

const schema: Schema = {
  program: 'testd',
  sections: [
    {
      name: 'Agent', required: true, doc: '',
      keys: {
        Name: { type: 'string', default: 'CommonVolume', doc: '' },
        Blob: { type: 'string', default: '', secret: true, doc: '' },
        Size: { type: 'bytes', default: '1MiB', min: 4096, doc: '' },
        Wait: { type: 'duration', default: '200ms', doc: '' },
        Count: { type: 'int', default: '10', min: 1, max: 100, doc: '' },
        Ratio: { type: 'float', default: '1.4', doc: '' },
        On: { type: 'bool', default: 'false', doc: '' },
        Dir: { type: 'path', default: 'mnt', doc: '' },
        Mode: { type: 'enum', default: 'off', values: ['off', 'read-only', 'read-write'], doc: '' },
      },
    },
    {
      name: 'Volume:*', doc: '',
      keys: {
        MetadataPath: { type: 'path', required: true, doc: '' },
        URL: { type: 'string', required: true, urlSchemes: ['file', 's3'], doc: '' },
        Delay: { type: 'duration', default: '10s', doc: '' },
      },
    },
    { name: 'Logging', doc: '', keys: { Trace: { type: 'bool', default: 'no', doc: '' } } },
    { name: 'Needs', doc: '', keys: { X: { type: 'string', required: true, doc: '' } } },
  ],
};

/** Asserts that loading fails with PFS_ERR_CONFIG and a message matching every pattern. */
function assertConfigError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: { code?: string; message: string }) => {
    assert.equal(err.code, 'PFS_ERR_CONFIG');
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('parses every type, fills defaults, resolves paths against the file directory', () => {
  const file = conf([
    '[Agent]',
    'Name:                 MyVolume',
    'Size = 10MiB',
    'Wait: 1h30m',
    'Count: 42',
    'Ratio: 0.5',
    'On: YES',
    'Dir: sub/mnt',
    'Mode: read-only',
  ].join('\n'));
  const config = loadConfig(schema, file, []);
  assert.equal(config.file, file);
  assert.deepEqual(config.sections.Agent, {
    Name: 'MyVolume', Blob: '', Size: 10 * 2 ** 20, Wait: 5_400_000, Count: 42, Ratio: 0.5, On: true,
    Dir: path.join(dir, 'sub/mnt'), Mode: 'read-only',
  });
  // Absent optional exact sections get their defaults, unless they have required keys.
  assert.deepEqual(config.sections.Logging, { Trace: false });
  assert.equal(config.sections.Needs, undefined);
  assert.deepEqual(Object.keys(config.sections), ['Agent', 'Logging']);
});

test('defaults alone: a present but empty section gets every default', () => {
  const config = loadConfig(schema, conf('[Agent]\n'), []);
  assert.deepEqual(config.sections.Agent, {
    Name: 'CommonVolume', Blob: '', Size: 2 ** 20, Wait: 200, Count: 10, Ratio: 1.4, On: false,
    Dir: path.join(dir, 'mnt'), Mode: 'off',
  });
});

test('comments (# and ; at line start only), blank lines, CRLF, escapes, verbatim values', () => {
  const file = conf([
    '# a comment',
    '   ; an indented comment',
    '',
    '[Agent]',
    'Blob: {"AuthURL":"http://h:8080/auth/v1.0"\\u002C"AuthKey":"a;b#c"\\u002c"x":"y\\u0020z"}',
    'Name: name # not a comment',
    '  On  =   true  ',
    'Mode:read-write',
  ].join('\r\n'));
  const agent = loadConfig(schema, file, []).sections.Agent!;
  assert.equal(agent.Blob, '{"AuthURL":"http://h:8080/auth/v1.0","AuthKey":"a;b#c","x":"y z"}');
  assert.deepEqual(JSON.parse(agent.Blob as string), { AuthURL: 'http://h:8080/auth/v1.0', AuthKey: 'a;b#c', x: 'y z' });
  assert.equal(agent.Name, 'name # not a comment');
  assert.equal(agent.On, true);
  assert.equal(agent.Mode, 'read-write');
});

test('values the ini package would mangle survive: quotes, brackets, true/null, backslashes, =', () => {
  const values = ['"quoted"', "'single'", '[x]', 'true', 'null', 'a\\\\b\\c', 'k=v', '', '  '];
  for (const v of values) {
    const got = loadConfig(schema, conf(`[Agent]\nName: ${v}\n`), []).sections.Agent!.Name;
    assert.equal(got, v.trim(), JSON.stringify(v));
  }
});

test('section names with dots and colons are not nested; repeated sections merge, last key wins', () => {
  const file = conf([
    '[Volume:vol.one]',
    'MetadataPath: /m/1',
    'URL: file:///o/1',
    '[Agent]',
    '[Volume:vol.one]',
    'Delay: 1s',
    'Delay: 2s',
    '[Volume:two]',
    'MetadataPath: m2.db',
    'URL: s3://bucket/prefix',
  ].join('\n'));
  const config = loadConfig(schema, file, []);
  assert.deepEqual(config.sections['Volume:vol.one'], { MetadataPath: '/m/1', URL: 'file:///o/1', Delay: 2000 });
  assert.deepEqual(config.sections['Volume:two'], { MetadataPath: path.join(dir, 'm2.db'), URL: 's3://bucket/prefix', Delay: 10_000 });
});

test('overrides: Section.Key=Value, sections with ":" and ".", creating a section, escapes', () => {
  const file = conf('[Agent]\nCount: 5\n[Volume:a.b]\nMetadataPath: /m\nURL: file:///o\n');
  const config = loadConfig(schema, file, [
    'Agent.Count=7',
    'Agent.Name = x\\u002Cy',
    'Volume:a.b.Delay=3s',
    'Volume:X.MetadataPath=rel=a.db',
    'Volume:X.URL=file:///x',
  ]);
  assert.equal(config.sections.Agent!.Count, 7);
  assert.equal(config.sections.Agent!.Name, 'x,y');
  assert.equal(config.sections['Volume:a.b']!.Delay, 3000);
  // Override paths resolve against the working directory, as the shell user typed them.
  assert.deepEqual(config.sections['Volume:X'], { MetadataPath: path.resolve('rel=a.db'), URL: 'file:///x', Delay: 10_000 });
});

test('bad overrides name the override', () => {
  const file = conf('[Agent]\n');
  for (const bad of ['Agent.Count', 'Count=1', '.Count=1', 'Agent.=1', 'Agent.Co unt=1']) {
    assertConfigError(() => loadConfig(schema, file, [bad]),
      new RegExp(`command line override ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected Section.Key=Value`));
  }
  assertConfigError(() => loadConfig(schema, file, ['Agent.Count=lots']),
    /command line override "Agent\.Count=lots": \[Agent\] Count: "lots" is not an integer/);
  assertConfigError(() => loadConfig(schema, file, ['Agent.Nope=1']),
    /command line override "Agent\.Nope=1": \[Agent\] Nope: unknown key/);
  assertConfigError(() => loadConfig(schema, file, ['Other.Key=1']),
    /command line override "Other\.Key=1": unknown section \[Other\]/);
});

test('type errors name file:line, section, key and the problem', () => {
  const cases: [string, RegExp][] = [
    ['Size: 10Q', /:3: \[Agent\] Size: "10Q" is not a byte size \(expected an integer with optional suffix K\/M\/G\/T/],
    ['Wait: 10', /:3: \[Agent\] Wait: "10" is not a duration/],
    ['Wait: -1s', /:3: \[Agent\] Wait: "-1s": a duration must not be negative/],
    ['Count: 1.5', /:3: \[Agent\] Count: "1.5" is not an integer/],
    ['Ratio: fast', /:3: \[Agent\] Ratio: "fast" is not a number/],
    ['On: maybe', /:3: \[Agent\] On: "maybe" is not a boolean \(expected yes\/no, true\/false or on\/off\)/],
    ['Mode: rw', /:3: \[Agent\] Mode: "rw" is not one of off, read-only, read-write/],
    ['Count: 0', /:3: \[Agent\] Count: "0" is below the minimum of 1$/m],
    ['Count: 101', /:3: \[Agent\] Count: "101" is above the maximum of 100/],
    ['Size: 1K', /:3: \[Agent\] Size: "1K" is below the minimum of 4096 bytes/],
  ];
  for (const [line, pattern] of cases) {
    const file = conf(`# header\n[Agent]\n${line}\n`);
    assertConfigError(() => loadConfig(schema, file, []), new RegExp(`^PFS_ERR_CONFIG: ${escape(file)}${pattern.source}`, 'm'));
  }
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('unknown keys and sections, with a hint for a wrong case', () => {
  const file = conf('[Agent]\nname: x\nBogus: 1\n[Other]\nA: 1\n');
  assertConfigError(() => loadConfig(schema, file, []),
    new RegExp(`${escape(file)}:2: \\[Agent\\] name: unknown key \\(did you mean Name\\?\\)`),
    new RegExp(`${escape(file)}:3: \\[Agent\\] Bogus: unknown key$`, 'm'),
    new RegExp(`${escape(file)}:4: unknown section \\[Other\\] \\(testd knows \\[Agent\\], \\[Volume:\\*\\]`));
});

test('missing required sections and keys name the file and the section header line', () => {
  assertConfigError(() => loadConfig(schema, conf('[Logging]\n'), []), /t\d+\.conf: missing required section \[Agent\]/);
  const file = conf('[Agent]\n\n[Volume:v]\nURL: file:///o\n[Needs]\n');
  assertConfigError(() => loadConfig(schema, file, []),
    new RegExp(`${escape(file)}:3: \\[Volume:v\\] MetadataPath: required key is missing`),
    new RegExp(`${escape(file)}:5: \\[Needs\\] X: required key is missing`));
  assertConfigError(() => loadConfig(schema, conf('[Agent]\n[Volume:v]\nMetadataPath:\nURL: file:///o\n'), []),
    /:3: \[Volume:v\] MetadataPath: required key has an empty value/);
  assertConfigError(() => loadConfig(schema, file, ['Volume:w.URL=file:///w']),
    /command line override "Volume:w\.URL=file:\/\/\/w": \[Volume:w\] MetadataPath: required key is missing/);
});

test('a required pattern section needs at least one instance', () => {
  const strict: Schema = { ...schema, sections: schema.sections.map((s) => ({ ...s, required: s.name === 'Volume:*' })) };
  assertConfigError(() => loadConfig(strict, conf('[Agent]\n'), []), /at least one \[Volume:<name>\] section is required/);
  // 'Volume:' alone is not an instance of 'Volume:*'.
  assertConfigError(() => loadConfig(strict, conf('[Volume:]\n'), []), /unknown section \[Volume:\]/);
});

test('syntax errors: unparsable lines, keys before any section, bad section names', () => {
  const file = conf('Stray: 1\n[Agent]\nthis is not a key\n[Bad Name]\nX: 1\n[Agent]\nKey[]: 1\n');
  assertConfigError(() => loadConfig(schema, file, []),
    new RegExp(`${escape(file)}:1: key Stray appears before any \\[Section\\]`),
    new RegExp(`${escape(file)}:3: cannot parse "this is not a key"`),
    new RegExp(`${escape(file)}:4: invalid section name "Bad Name"`),
    new RegExp(`${escape(file)}:7: cannot parse "Key\\[\\]: 1"`));
});

test('a missing file is a config error naming the file', () => {
  assertConfigError(() => loadConfig(schema, path.join(dir, 'nope.conf'), []), /nope\.conf: cannot read config file: ENOENT/);
});

test('prototype keys are not mistaken for schema keys; __proto__ is refused', () => {
  assertConfigError(() => loadConfig(schema, conf('[Agent]\nconstructor: 1\n__proto__: 2\n'), []),
    /:2: \[Agent\] constructor: unknown key/, /:3: cannot parse "__proto__: 2"/);
  assertConfigError(() => loadConfig(schema, conf('[Agent]\n[__proto__]\n'), []), /:2: invalid section name "__proto__"/);
  assertConfigError(() => loadConfig(schema, conf('[Agent]\n'), ['__proto__.X=1']), /expected Section\.Key=Value/);
});

test('the result is deeply frozen', () => {
  const config = loadConfig(schema, conf('[Agent]\n'), []);
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.sections));
  assert.ok(Object.isFrozen(config.sections.Agent));
  assert.throws(() => { (config.sections.Agent as Record<string, unknown>).Count = 1; }, TypeError);
});

test('redact() hides non-empty secrets and leaves the original alone', () => {
  const config = loadConfig(schema, conf('[Agent]\nBlob: {"AuthKey":"testing"}\n'), []);
  const safe = redact(config, schema);
  assert.equal(safe.sections.Agent!.Blob, '[REDACTED]');
  assert.equal(safe.sections.Agent!.Name, 'CommonVolume');
  assert.equal(config.sections.Agent!.Blob, '{"AuthKey":"testing"}');
  assert.ok(Object.isFrozen(safe.sections.Agent));
  assert.equal(redact(loadConfig(schema, conf('[Agent]\n'), []), schema).sections.Agent!.Blob, '');
});

test('a bad default in a schema is an internal error, not a config error', () => {
  const broken: Schema = { program: 'x', sections: [{ name: 'S', doc: '', keys: { K: { type: 'int', default: 'ten', doc: '' } } }] };
  assert.throws(() => loadConfig(broken, conf('[S]\n'), []),
    (err: { code?: string; message: string }) => err.code === 'PFS_ERR_INTERNAL' && /\[S\] K: bad default/.test(err.message));
});

test('a secret is never taken from the command line, and the error does not repeat it', () => {
  const file = conf('[Agent]\n');
  assert.throws(() => loadConfig(schema, file, ['Agent.Blob=hunter2']), (err: { code?: string; message: string }) => {
    assert.equal(err.code, 'PFS_ERR_CONFIG');
    assert.match(err.message, /command line override Agent\.Blob: a secret is never taken from the command line/);
    assert.ok(!err.message.includes('hunter2'), err.message);
    return true;
  });
  assert.equal(loadConfig(schema, file, ['Agent.Blob=']).sections.Agent!.Blob, '', 'an empty one is no secret');
});

test('with privateSecrets, a secret in a file every user can read is refused, naming file, line and key', () => {
  const file = conf('[Agent]\nName: x\nBlob: hunter2\n');
  chmodSync(file, 0o644);
  assert.equal(loadConfig(schema, file, []).sections.Agent!.Blob, 'hunter2', 'tools that only read configs are not held to it');
  assertConfigError(() => loadConfig(schema, file, [], { privateSecrets: true }), /t\d+\.conf:3: \[Agent\] Blob: holds a secret, but .* is readable by every user/);
  chmodSync(file, 0o600);
  assert.equal(loadConfig(schema, file, [], { privateSecrets: true }).sections.Agent!.Blob, 'hunter2');
  const noSecret = conf('[Agent]\nName: x\n');
  chmodSync(noSecret, 0o644);
  assert.equal(loadConfig(schema, noSecret, [], { privateSecrets: true }).sections.Agent!.Name, 'x');
});
