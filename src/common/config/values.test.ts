import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeySpec } from './types.js';
import { parseBool, parseBytes, parseDuration, parseFloat10, parseInt10, parseValue, unescapeValue } from './values.js';

test('parseDuration: Go syntax to milliseconds', () => {
  const cases: [string, number][] = [
    ['0', 0], ['0s', 0], ['100ms', 100], ['1s', 1000], ['10m', 600_000], ['1h', 3_600_000],
    ['1h30m', 5_400_000], ['1m30.5s', 90_500], ['1.5s', 1500], ['.5s', 500], ['250us', 0.25],
    ['250µs', 0.25], ['1000000ns', 1], ['+2s', 2000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  for (const text of ['', '10', '1x', 's', '1 s', '-1s', '1h-30m', '1.2.3s', 'ms', '10Q']) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test('parseBytes: K/M/G/T and KiB.. are powers of 1024, KB.. of 1000', () => {
  const cases: [string, number][] = [
    ['0', 0], ['1048576', 1_048_576], ['4K', 4096], ['4k', 4096], ['4KiB', 4096], ['4KB', 4000],
    ['16M', 16 * 2 ** 20], ['16MiB', 16 * 2 ** 20], ['16MB', 16e6], ['2G', 2 * 2 ** 30], ['2GiB', 2 * 2 ** 30],
    ['2GB', 2e9], ['1T', 2 ** 40], ['1TiB', 2 ** 40], ['1TB', 1e12], ['10B', 10], ['256 MiB', 256 * 2 ** 20],
  ];
  for (const [text, n] of cases) assert.equal(parseBytes(text), n, text);
  for (const text of ['', '10Q', '-1', '1.5M', 'K', '1KiBB', '99999999999P', '0x10']) {
    assert.equal(parseBytes(text), undefined, text);
  }
});

test('parseBool: yes/no, true/false, on/off in any case', () => {
  for (const t of ['yes', 'YES', 'true', 'True', 'on', 'ON']) assert.equal(parseBool(t), true, t);
  for (const t of ['no', 'No', 'false', 'FALSE', 'off', 'Off']) assert.equal(parseBool(t), false, t);
  for (const t of ['', '1', '0', 'y', 'enabled']) assert.equal(parseBool(t), undefined, t);
});

test('parseInt10 and parseFloat10', () => {
  assert.equal(parseInt10('42'), 42);
  assert.equal(parseInt10('-7'), -7);
  assert.equal(parseInt10('+7'), 7);
  for (const t of ['', '1.0', '1e3', '0x10', '9007199254740993', ' 1']) assert.equal(parseInt10(t), undefined, t);
  assert.equal(parseFloat10('1.4'), 1.4);
  assert.equal(parseFloat10('.25'), 0.25);
  assert.equal(parseFloat10('3'), 3);
  assert.equal(parseFloat10('1e-3'), 0.001);
  assert.equal(parseFloat10('-2.5'), -2.5);
  for (const t of ['', 'NaN', 'Infinity', '1e999', '1.2.3', 'abc']) assert.equal(parseFloat10(t), undefined, t);
});

test('unescapeValue: \\u002C, \\u002c and \\u0020', () => {
  assert.equal(unescapeValue('a\\u002Cb\\u002cc\\u0020d'), 'a,b,c d');
  assert.equal(unescapeValue('plain'), 'plain');
});

test('parseValue: paths resolve against the base directory; empty stays empty', () => {
  const spec: KeySpec = { type: 'path', doc: '' };
  assert.deepEqual(parseValue(spec, 'db/x.sqlite', '/etc/pfs'), { ok: true, value: '/etc/pfs/db/x.sqlite' });
  assert.deepEqual(parseValue(spec, '/abs/x', '/etc/pfs'), { ok: true, value: '/abs/x' });
  assert.deepEqual(parseValue(spec, '', '/etc/pfs'), { ok: true, value: '' });
});

test('parseValue: enum, URL schemes, min/max with units', () => {
  const en: KeySpec = { type: 'enum', values: ['off', 'read-only'], doc: '' };
  assert.deepEqual(parseValue(en, 'off', '/'), { ok: true, value: 'off' });
  assert.deepEqual(parseValue(en, 'Off', '/'), { ok: false, problem: '"Off" is not one of off, read-only' });
  const url: KeySpec = { type: 'string', urlSchemes: ['file', 's3'], doc: '' };
  assert.equal(parseValue(url, 'file:///data', '/').ok, true);
  assert.match((parseValue(url, 'http://x', '/') as { problem: string }).problem, /unsupported scheme \(expected one of file:\/\/, s3:\/\/\)/);
  assert.match((parseValue(url, '/data', '/') as { problem: string }).problem, /is not a URL/);
  const dur: KeySpec = { type: 'duration', min: 1, max: 60_000, doc: '' };
  assert.deepEqual(parseValue(dur, '0', '/'), { ok: false, problem: '"0" is below the minimum of 1 ms' });
  assert.deepEqual(parseValue(dur, '2m', '/'), { ok: false, problem: '"2m" is above the maximum of 60000 ms' });
  assert.deepEqual(parseValue(dur, '-1s', '/'), { ok: false, problem: '"-1s": a duration must not be negative' });
  const bytes: KeySpec = { type: 'bytes', min: 65536, doc: '' };
  assert.deepEqual(parseValue(bytes, '64KiB', '/'), { ok: true, value: 65536 });
  assert.deepEqual(parseValue(bytes, '1K', '/'), { ok: false, problem: '"1K" is below the minimum of 65536 bytes' });
  const float: KeySpec = { type: 'float', min: 0, max: 1, doc: '' };
  assert.deepEqual(parseValue(float, '1.5', '/'), { ok: false, problem: '"1.5" is above the maximum of 1' });
});
