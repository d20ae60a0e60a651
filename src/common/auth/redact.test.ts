import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printedForms, REDACTED, Redactor } from './redact.js';

const SECRET = 'Tok3n/with+odd=chars é"\\ x';

function redactor(...secrets: (string | undefined)[]): Redactor {
  const r = new Redactor();
  r.add(...secrets);
  return r;
}

test('the secret in every printed form is replaced', () => {
  const r = redactor(SECRET);
  const bytes = Buffer.from(SECRET);
  const printed = [
    SECRET, SECRET.toUpperCase(), SECRET.toLowerCase(),
    bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex'), bytes.toString('hex').toUpperCase(),
    encodeURIComponent(SECRET), encodeURIComponent(SECRET).toLowerCase(), encodeURIComponent(SECRET).replace(/%20/g, '+'),
    [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
    JSON.stringify(SECRET), JSON.stringify(SECRET).replace(/\//g, '\\/'), JSON.stringify(SECRET).replace('é', '\\u00e9'),
  ];
  for (const p of printed) {
    const out = r.redact(`before ${p} after`);
    assert.match(out, /^before .*\[REDACTED\].* after$/, p);
    assert.ok(!out.includes(p), `${p} -> ${out}`);
  }
});

test('the secret inside a longer base64 blob is caught at each of the three alignments', () => {
  const secret = 'sk-9f8e7d6c5b4a39281706';
  const r = redactor(secret);
  for (const before of ['', 'a', 'ab', 'abc', '{"AuthToken":"']) {
    for (const after of ['', 'z', 'zy', '","more":1}']) {
      for (const encoding of ['base64', 'base64url'] as const) {
        const blob = Buffer.from(`${before}${secret}${after}`).toString(encoding);
        const out = r.redact(`blob=${blob}`);
        assert.ok(out.includes(REDACTED), `${encoding} ${JSON.stringify(before)}: ${out}`);
        // What is left of the blob around the marker is at most the edge characters and the neighbours' encoding.
        const left = out.replace('blob=', '').split(REDACTED).join('');
        const maxLeft = Math.ceil(((before.length + after.length) * 8) / 6) + 4;
        assert.ok(left.length <= maxLeft, `${left.length} > ${maxLeft}: ${out}`);
      }
    }
  }
});

test('the strings under secret-looking keys of a JSON value are secrets too, in their forms', () => {
  const r = redactor('{"AuthUser":"me","AuthKey":"key-sekrit-123","nested":{"Password":"pw-0987"}}');
  const out = r.redact(`user me ${Buffer.from('key-sekrit-123').toString('base64')} ${'PW-0987'}`);
  assert.equal(out, `user me ${REDACTED} ${REDACTED}`);
});

test('short strings are not secrets; short base64 fragments are not used', () => {
  const r = redactor('abc', undefined, '');
  assert.equal(r.redact('abc ABC YWJj'), 'abc ABC YWJj');
  // A 4-character secret: its own forms, but no fragments of 2-5 characters that ordinary base64 would match.
  const four = redactor('w0rd');
  assert.equal(four.redact('w0rd W0RD dzByZA 77307264'), `${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED}`);
  assert.ok(printedForms('w0rd').every((f) => f.length >= 4));
  assert.equal(four.redact('MHJk aGVsbG8gd29ybGQ='), 'MHJk aGVsbG8gd29ybGQ=');
});

test('a secret containing another is replaced whole; text without secrets is returned unchanged', () => {
  const r = redactor('abcd', 'abcdefgh');
  assert.equal(r.redact('xx abcdefgh yy abcd'), `xx ${REDACTED} yy ${REDACTED}`);
  assert.equal(r.redact('nothing here'), 'nothing here');
  assert.equal(new Redactor().redact('nothing here'), 'nothing here');
});

test('redacting is fast: an 8 KiB line against a few long secrets in well under a millisecond on average', () => {
  const r = redactor('{"AuthKey":"k-' + 'x'.repeat(40) + '"}', 'tok-' + 'y'.repeat(60), 'AKIA' + 'Z'.repeat(16), 's'.repeat(40), 'st-' + 'q'.repeat(800));
  const line = 'some ordinary log text with words and numbers 12345 '.repeat(160).slice(0, 8192);
  r.redact(line);
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) r.redact(line);
  const perLineMs = (performance.now() - t0) / 200;
  assert.ok(perLineMs < 2, `${perLineMs} ms per line`);
});
