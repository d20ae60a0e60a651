import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAnswer } from './answer.js';
import { JsonObjectScanner } from './json-stream.js';
import { Redactor } from './redact.js';

const texts = (events: ReturnType<JsonObjectScanner['push']>) => events.map((e) => (e.kind === 'object' ? e.text : `!${e.problem}`));

test('scanner: objects split across chunks, several per chunk, any whitespace or none between', () => {
  const s = new JsonObjectScanner();
  assert.deepEqual(texts(s.push('  {"a":"x}{\\"y')), []);
  assert.deepEqual(texts(s.push('","b":{"c":[1,{}]}}\n\r\t{"d":1}{"e":2}\n{')), ['{"a":"x}{\\"y","b":{"c":[1,{}]}}', '{"d":1}', '{"e":2}']);
  assert.deepEqual(texts(s.push('"f":"\\\\"}')), ['{"f":"\\\\"}']);
  assert.deepEqual(s.end(), []);
});

test('scanner: a UTF-8 character split between chunks', () => {
  const s = new JsonObjectScanner();
  const bytes = Buffer.from('{"t":"é€"}');
  const out = [...s.push(bytes.subarray(0, 7)), ...s.push(bytes.subarray(7, 9)), ...s.push(bytes.subarray(9))];
  assert.deepEqual(texts(out), ['{"t":"é€"}']);
});

test('scanner: text outside an object, a top-level array, an unfinished object, an oversize object', () => {
  assert.deepEqual(texts(new JsonObjectScanner().push('{"a":1} hello')), ['{"a":1}', '!printed text outside a JSON object']);
  assert.deepEqual(texts(new JsonObjectScanner().push('[{"a":1}]')), ['!printed text outside a JSON object']);
  const s = new JsonObjectScanner();
  s.push('{"a":');
  assert.deepEqual(texts(s.end()), ['!stopped in the middle of a JSON object']);
  assert.deepEqual(texts(new JsonObjectScanner(16).push('{"a":"0123456789abcdef"')), ['!printed an object larger than 16 bytes']);
});

test('answers: Swift and S3 shapes, with the problem naming the field but never its value', () => {
  assert.deepEqual(parseAnswer('{"AuthToken":"t1","StorageURL":"http://h/v1/AUTH_a"}'),
    { ok: true, credentials: { kind: 'swift', authToken: 't1', storageUrl: 'http://h/v1/AUTH_a' } });
  const s3 = parseAnswer('{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","SessionToken":"ST","Expiration":"2030-01-02T03:04:05Z","Endpoint":"http://s3:9000","Region":"r","Bucket":"b"}');
  assert.ok(s3.ok && s3.credentials.kind === 's3');
  assert.equal(s3.credentials.expiration?.toISOString(), '2030-01-02T03:04:05.000Z');
  assert.equal(s3.credentials.bucket, 'b');
  const bad: [string, string][] = [
    ['{"AuthToken":"secret-tok"}', 'field "StorageURL" is missing'],
    ['{"AuthToken":7,"StorageURL":"http://h/"}', 'field "AuthToken" must be a non-empty string, got number'],
    ['{"AuthToken":"secret-tok","StorageURL":"ftp://h/"}', 'field "StorageURL" is not an http(s) URL'],
    ['{"AccessKeyId":"AK","SecretAccessKey":""}', 'field "SecretAccessKey" must be a non-empty string, got an empty string'],
    ['{"AccessKeyId":"AK","SecretAccessKey":"secret-tok","Expiration":"tomorrow"}', 'field "Expiration" is not an ISO 8601'],
    ['{"Version":2,"AccessKeyId":"AK","SecretAccessKey":"secret-tok"}', 'field "Version" must be 1, got 2'],
    ['{"token":"secret-tok"}', 'neither "AuthToken"'],
    ['{"AuthToken":"secret-tok",}', 'not valid JSON'],
  ];
  for (const [text, problem] of bad) {
    const r = parseAnswer(text);
    assert.ok(!r.ok, text);
    assert.ok(r.problem.includes(problem), `${r.problem} should say ${problem}`);
    assert.doesNotMatch(r.problem, /secret-tok/);
  }
});

test('redactor: the whole value, strings under secret-looking keys in a JSON value, longest first', () => {
  const r = new Redactor();
  r.add('{"AuthUser":"test:tester","AuthKey":"testing-key","Nested":{"Password":"pw-1234"}}', 'abc', undefined, 'tok-123456');
  assert.equal(r.redact('user test:tester key testing-key pw pw-1234 tok tok-1234567 abc'),
    'user test:tester key [REDACTED] pw [REDACTED] tok [REDACTED]7 abc');
});
