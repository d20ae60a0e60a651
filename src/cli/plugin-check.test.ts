import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { nodePlugin, tempDir, writeScript } from '../common/auth/test-support.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const root = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const tmp = tempDir('pfs-plugin-check-');
after(() => tmp.remove());

function check(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'plugin', 'check', ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (error, out, err) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, out, err });
    });
  });
}

const SECRET = 'check-secret-value';

test('a good plug-in: every step is reported and no secret is printed', async () => {
  const p = nodePlugin(tmp.dir, 'good', `say(swift());`);
  const r = await check([p, 'CHECK_BLOB'], { CHECK_BLOB: SECRET });
  assert.equal(r.code, 0, r.out + r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines[0], `checking auth plug-in ${p} CHECK_BLOB (answer timeout 30000 ms)`);
  assert.equal(lines[1], `environment variable CHECK_BLOB: set, ${SECRET.length} chars`);
  assert.match(lines[2]!, /^started: pid \d+$/);
  assert.match(lines[3]!, /^first answer after \d+ ms: kind=swift storageURL=http:\/\/127\.0\.0\.1:8080\/v1\/AUTH_test token=<\d+ chars, redacted>$/);
  assert.match(lines[4]!, /^renewal 1 ok after \d+ ms \(token changed: yes\)$/);
  assert.match(lines[5]!, /^renewal 2 ok after \d+ ms \(token changed: yes\)$/);
  assert.match(lines[6]!, /^stdin closed → exited with code 0 within \d+ ms$/);
  assert.equal(lines[7], 'plug-in OK');
  assert.doesNotMatch(r.out, /tok-|check-secret/);
});

test('the shell example, with a token that never changes', async () => {
  const r = await check([path.join(root, 'examples/minimal-plugin/plugin.sh'), 'CHECK_BLOB'], { CHECK_BLOB: SECRET });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /token changed: no/);
  assert.doesNotMatch(r.out, /check-secret/);
});

test('failures say exactly what went wrong, with exit code 1', async () => {
  const cases: [string, string, string[]?][] = [
    [path.join(tmp.dir, 'missing'), 'FAILED at start: the plug-in cannot be started: not found (ENOENT'],
    [nodePlugin(tmp.dir, 'garbage', `say('hello');`), 'FAILED at start: the plug-in printed text outside a JSON object'],
    [nodePlugin(tmp.dir, 'nofield', `say(JSON.stringify({ AuthToken: 'x1234' }));`), 'FAILED at start: the plug-in printed an answer whose field "StorageURL" is missing'],
    [nodePlugin(tmp.dir, 'dies', `say(swift()); onByte = () => { process.stderr.write('cannot renew with ' + blob + '\\n'); process.exit(3); };`),
      'plug-in stderr: cannot renew with [REDACTED]\nFAILED at renewal 1: the plug-in exited with code 3'],
    [writeScript(tmp.dir, 'mute', `#!/bin/sh\necho '{"AuthToken":"tok-1234","StorageURL":"http://h/v1/AUTH_a"}'\nexec sleep 1000\n`),
      'FAILED at renewal 1: the plug-in gave no answer to a renewal request within 300 ms and was killed', ['--timeout-ms', '300']],
    [nodePlugin(tmp.dir, 'stays', `say(swift()); process.stdin.removeAllListeners('end'); setInterval(() => {}, 1000);`),
      'FAILED at shutdown: stdin closed, but the plug-in did not exit; killed with SIGTERM after'],
    [nodePlugin(tmp.dir, 'exit1', `say(swift()); process.stdin.removeAllListeners('end'); process.stdin.on('end', () => process.exit(1));`),
      'FAILED at shutdown: stdin closed → exited with code 1'],
  ];
  const results = await Promise.all(cases.map(([p, , extra]) => check([p, 'CHECK_BLOB', ...(extra ?? [])], { CHECK_BLOB: SECRET })));
  results.forEach((r, i) => {
    assert.equal(r.code, 1, r.out);
    assert.ok(r.out.includes(cases[i]![1]), `expected ${JSON.stringify(cases[i]![1])} in:\n${r.out}`);
    assert.doesNotMatch(r.out, /check-secret/);
  });
});

test('usage errors exit 2', async () => {
  assert.equal((await check([])).code, 2);
  assert.equal((await check(['a', 'B', 'C'])).code, 2);
  assert.equal((await check(['a', 'B', '--timeout-ms', 'x'])).code, 2);
});
