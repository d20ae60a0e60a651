import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { startAuthPlugin, type AuthPluginOptions } from './plugin.js';
import { captureLog, isAlive, nodePlugin, pidOf, sleep, tempDir, waitFor, writeScript } from './test-support.js';
import type { Credentials, CredentialSource } from './types.js';

const tmp = tempDir('pfs-plugin-');
after(() => tmp.remove());
const file = (name: string) => path.join(tmp.dir, name);

const sources: CredentialSource[] = [];
after(() => Promise.all(sources.map((s) => s.close())));

function start(pluginPath: string, over: Partial<AuthPluginOptions> = {}) {
  const log = captureLog();
  const source = startAuthPlugin({ path: pluginPath, envName: 'TEST_BLOB', envValue: 'blob-value-secret', log: log.logger, restartDelayMs: 20, answerTimeoutMs: 10_000, ...over });
  sources.push(source);
  return { source, log };
}

const tokenOf = (c: Credentials) => (c.kind === 'swift' ? c.authToken : c.secretAccessKey);

test('start and two renewals give distinct tokens; argv[1] and the env value reach the plug-in', async () => {
  const p = nodePlugin(tmp.dir, 'normal', `
    if (process.argv[2] !== 'TEST_BLOB' || blob !== 'blob-value-secret') { process.stderr.write('bad argv/env'); process.exit(3); }
    // The first answer arrives in two writes, to exercise the stream parser.
    const first = swift(); process.stdout.write(first.slice(0, 10)); setTimeout(() => say(first.slice(10)), 30);`);
  const { source } = start(p);
  const c1 = await source.get();
  assert.equal(c1.kind, 'swift');
  assert.equal(c1.kind === 'swift' && c1.storageUrl, 'http://127.0.0.1:8080/v1/AUTH_test');
  assert.equal(await source.get(), c1);
  const c2 = await source.renew(c1);
  const c3 = await source.renew(c2);
  assert.deepEqual([c1, c2, c3].map(tokenOf).map((t) => t.split('-')[2]), ['1', '2', '3']);
  assert.deepEqual(source.stats, { renewals: 2, pluginStarts: 1, pluginFailures: 0 });
  await source.close();
});

test('ten concurrent renew(stale) share one renewal: exactly one byte is written', async () => {
  const bytes = file('shared.bytes');
  const p = nodePlugin(tmp.dir, 'shared', `say(swift());
    onByte = () => { fs.appendFileSync(${JSON.stringify(bytes)}, 'x'); setTimeout(() => say(swift()), 100); };`);
  const { source } = start(p);
  const c1 = await source.get();
  const all = await Promise.all(Array.from({ length: 10 }, () => source.renew(c1)));
  assert.ok(all.every((c) => c === all[0]) && all[0] !== c1);
  await sleep(150);
  assert.equal(readFileSync(bytes, 'utf8'), 'x');
  assert.equal(source.stats.renewals, 1);
});

test('renew() with credentials that are no longer current returns the current ones at once', async () => {
  const { source } = start(nodePlugin(tmp.dir, 'nonstale', 'say(swift());'));
  const c1 = await source.get();
  const c2 = await source.renew(c1);
  const t0 = Date.now();
  assert.equal(await source.renew(c1), c2);
  assert.ok(Date.now() - t0 < 20);
  assert.equal(source.stats.renewals, 1);
});

test('a plug-in that exits after its first answer is restarted and renewals work again', async () => {
  const p = nodePlugin(tmp.dir, 'exits', `say(swift()); if (marker(${JSON.stringify(file('exits.once'))})) process.exit(0);`);
  const { source, log } = start(p);
  const c1 = await source.get();
  await waitFor(() => source.stats.pluginStarts === 2, 3000, 'restart');
  const c2 = await source.renew(c1); // answered by the restarted plug-in's first answer
  const c3 = await source.renew(c2); // a real renewal byte to the new process
  assert.notEqual(pidOf(tokenOf(c3)), pidOf(tokenOf(c1)));
  assert.equal(tokenOf(c3).split('-')[2], '2');
  assert.equal(source.stats.pluginStarts, 2);
  assert.equal(source.stats.pluginFailures, 1);
  assert.ok(log.messages().some((m) => m.includes(`auth plug-in ${p} exited with code 0; restarting it in 20 ms`)));
});

test('bad JSON is logged and the plug-in restarted', async () => {
  const p = nodePlugin(tmp.dir, 'badjson', `if (marker(${JSON.stringify(file('badjson.once'))})) say('Token: blob-value-secret'); else say(swift());`);
  const { source, log } = start(p);
  const c = await source.get();
  assert.equal(c.kind, 'swift');
  assert.equal(source.stats.pluginStarts, 2);
  assert.ok(log.messages().some((m) => m.startsWith(`auth plug-in ${p} printed text outside a JSON object; restarting`)));
  assert.doesNotMatch(log.text(), /blob-value-secret/);
});

test('a missing field is named; after 5 failed starts callers get PFS_ERR_PLUGIN', async () => {
  const p = nodePlugin(tmp.dir, 'missing', `say(JSON.stringify({ AuthToken: 'tok-secret-1' }));`);
  const { source, log } = start(p, { restartDelayMs: 5, answerTimeoutMs: 20_000 });
  await assert.rejects(source.get(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'PFS_ERR_PLUGIN');
    assert.match(err.message, /failed 5 starts in a row; last: printed an answer whose field "StorageURL" is missing/);
    assert.doesNotMatch(err.message, /tok-secret/);
    return true;
  });
  assert.equal(source.stats.pluginFailures, 5);
  assert.doesNotMatch(log.text(), /tok-secret|blob-value-secret/);
});

test('stderr chatter is logged as a warning with every known secret redacted; it does not restart', async () => {
  const envValue = '{"AuthUser":"me","AuthKey":"key-sekrit-123"}';
  const p = nodePlugin(tmp.dir, 'chatter', `
    process.stderr.write('using blob ' + blob + ' and key key-sekrit-123\\n');
    const first = swift(); say(first);
    onByte = () => { process.stderr.write('old token was ' + JSON.parse(first).AuthToken + '\\n'); say(swift()); };`);
  const { source, log } = start(p, { envValue });
  const c1 = await source.get();
  const c2 = await source.renew(c1);
  await waitFor(() => log.text().includes('old token was'), 5000, 'stderr lines');
  const stderr = log.messages().filter((m) => m.includes('wrote to stderr')).join('\n');
  assert.ok(stderr.startsWith(`auth plug-in ${p} wrote to stderr: using blob [REDACTED] and key [REDACTED]`), stderr);
  assert.match(stderr, /old token was \[REDACTED\]$/);
  assert.equal(log.lines.filter((l) => l.includes('wrote to stderr')).every((l) => JSON.parse(l).level === 40), true);
  for (const secret of ['key-sekrit-123', tokenOf(c1), tokenOf(c2)]) assert.ok(!log.text().includes(secret), secret);
  assert.equal(source.stats.pluginStarts, 1);
});

test('a plug-in that never answers: PFS_ERR_PLUGIN within answerTimeoutMs * 2, and it is killed', async () => {
  const pids = file('silent.pids');
  // sh starts in a millisecond even on a loaded machine; node may take longer than the timeout.
  const p = writeScript(tmp.dir, 'silent', `#!/bin/sh\necho $$ >> ${pids}\nexec sleep 1000\n`);
  const { source, log } = start(p, { answerTimeoutMs: 300 });
  const t0 = Date.now();
  await assert.rejects(source.get(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'PFS_ERR_PLUGIN');
    assert.match(err.message, /gave no credentials within 600 ms; last problem: it gave no first answer within 300 ms and was killed/);
    return true;
  });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 550 && elapsed < 3000, `${elapsed} ms`);
  assert.ok(log.messages().some((m) => m.startsWith(`auth plug-in ${p} gave no first answer within 300 ms and was killed; restarting`)));
  const first = Number(readFileSync(pids, 'utf8').split('\n')[0]);
  await waitFor(() => !isAlive(first), 3000, 'the silent plug-in to be killed');
});

test('a nonexistent or non-executable path: PFS_ERR_PLUGIN quickly, saying why', async () => {
  const missing = file('no-such-plugin');
  const t0 = Date.now();
  const { source } = start(missing, { restartDelayMs: 1000 });
  for (let i = 0; i < 2; i++) {
    await assert.rejects(source.get(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PFS_ERR_PLUGIN');
      assert.match(err.message, new RegExp(`auth plug-in ${missing} cannot be started: not found`));
      return true;
    });
  }
  assert.ok(Date.now() - t0 < 500);
  const notExec = writeScript(tmp.dir, 'not-exec', '#!/bin/sh\n', 0o644);
  await assert.rejects(start(notExec).source.get(), /cannot be started: permission denied/);
});

test('S3 keys expiring in 3 s with renewBeforeMs 1 s are renewed proactively', async () => {
  const p = nodePlugin(tmp.dir, 's3', `
    const s3 = () => JSON.stringify({ Version: 1, AccessKeyId: 'AKID', SecretAccessKey: token(), SessionToken: 'st-' + n,
      Expiration: new Date(Date.now() + 3000).toISOString(), Region: 'us-east-1', Bucket: 'b' });
    say(s3()); onByte = () => say(s3());`);
  const { source, log } = start(p, { renewBeforeMs: 1000 });
  const c1 = await source.get();
  assert.ok(c1.kind === 's3' && c1.sessionToken === 'st-1' && c1.bucket === 'b' && c1.region === 'us-east-1');
  await waitFor(() => source.stats.renewals === 1, 5000, 'a proactive renewal');
  const early = c1.expiration!.getTime() - Date.now();
  assert.ok(early <= 1100, `renewed ${early} ms before expiry: about 1 s, not at once`);
  const c2 = await source.renew(c1); // joins the renewal in flight
  assert.notEqual(c2, c1);
  assert.ok(c2.kind === 's3' && c2.sessionToken === 'st-2');
  assert.equal(source.stats.renewals, 1);
  assert.ok(log.messages().some((m) => m.includes('renewing S3 keys before they expire')));
});

test('an S3 Expiration in the past is capped at maxExpiryMs and logged once', async () => {
  const p = nodePlugin(tmp.dir, 's3past', `
    const s3 = () => JSON.stringify({ AccessKeyId: 'AKID', SecretAccessKey: token(), Expiration: '2001-01-01T00:00:00Z' });
    say(s3()); onByte = () => say(s3());`);
  const { source, log } = start(p, { maxExpiryMs: 60_000 });
  const c1 = await source.get();
  const c2 = await source.renew(c1);
  assert.ok(c2.kind === 's3' && c2.expiration && Math.abs(c2.expiration.getTime() - Date.now() - 60_000) < 2000);
  assert.equal(log.messages().filter((m) => m.includes('is in the past; treating the keys as valid for 60000 ms')).length, 1);
});

test('close() makes the plug-in exit; later calls reject with PFS_ERR_CONFIG', async () => {
  const { source } = start(nodePlugin(tmp.dir, 'closing', 'say(swift());'));
  const c = await source.get();
  const pid = pidOf(tokenOf(c));
  assert.ok(isAlive(pid));
  await source.close();
  assert.ok(!isAlive(pid));
  await assert.rejects(source.get(), { code: 'PFS_ERR_CONFIG' });
  await assert.rejects(source.renew(c), { code: 'PFS_ERR_CONFIG' });
});

test('close() sends SIGTERM to a plug-in that ignores the end of stdin', async () => {
  const p = nodePlugin(tmp.dir, 'stubborn', `process.stdin.removeAllListeners('end'); say(swift()); setInterval(() => {}, 1000);`);
  const { source } = start(p);
  const pid = pidOf(tokenOf(await source.get()));
  const t0 = Date.now();
  await source.close();
  const ms = Date.now() - t0;
  assert.ok(ms >= 1900 && ms < 3000, `${ms} ms`);
  assert.ok(!isAlive(pid));
});

test('a caller can give up with an AbortSignal; the source carries on', async () => {
  const p = nodePlugin(tmp.dir, 'slow', 'setTimeout(() => say(swift()), 300);');
  const { source } = start(p);
  await assert.rejects(source.get({ signal: AbortSignal.timeout(20) }), { name: 'TimeoutError' });
  assert.equal((await source.get()).kind, 'swift');
});

test('an empty path or variable name is a config error at once', () => {
  const log = captureLog();
  assert.throws(() => startAuthPlugin({ path: '', envName: 'X', log: log.logger }), { code: 'PFS_ERR_CONFIG' });
  assert.throws(() => startAuthPlugin({ path: '/bin/true', envName: 'A=B', log: log.logger }), { code: 'PFS_ERR_CONFIG' });
});

test('a plug-in flooding 100 000 unrequested answers and stderr lines per run cannot flood the log; the source keeps working', async () => {
  const runs = JSON.stringify(file('flood.runs'));
  // Runs 1 and 2 flood stderr (in 100 writes) and stdout, then print garbage (a fault: restarted); run 3 behaves.
  const p = nodePlugin(tmp.dir, 'flood', `
    const run = fs.existsSync(${runs}) ? fs.readFileSync(${runs}, 'utf8').length + 1 : 1;
    fs.appendFileSync(${runs}, 'x');
    say(swift());
    if (run < 3) {
      let chunks = 0;
      const chatter = () => {
        let err = ''; for (let i = 0; i < 1000; i++) err += 'chatter ' + i + ' about ' + blob + '\\n';
        process.stderr.write(err);
        if (++chunks < 100) setImmediate(chatter);
        else { let out = ''; for (let i = 0; i < 100000; i++) out += swift() + '\\n'; process.stdout.write(out + 'garbage\\n'); }
      };
      chatter();
    }`);
  const { source, log } = start(p);
  const t0 = Date.now();
  await waitFor(() => source.stats.pluginStarts === 3, 60_000, 'the third run');
  const c = await source.get();
  const fresh = await source.renew(c);
  assert.notEqual(tokenOf(fresh), tokenOf(c));
  assert.equal(pidOf(tokenOf(fresh)), pidOf(tokenOf(await source.get())));
  await source.close();
  const ms = Date.now() - t0;
  const lines = log.lines.map((l) => JSON.parse(l) as { msg: string; kind?: string; suppressed?: number; times?: number });
  const of = (re: RegExp) => lines.filter((l) => re.test(l.msg));
  // At most 5 lines per kind (stderr, answer, fault) per 10 s window, and a summary per kind that suppressed some.
  const windows = Math.ceil(ms / 10_000) + 1;
  assert.ok(of(/wrote to stderr/).length <= 5 * windows, `${of(/wrote to stderr/).length} stderr lines`);
  assert.ok(of(/credentials renewed/).length <= 5 * windows, `${of(/credentials renewed/).length} answer lines`);
  assert.ok(lines.length <= 4 * 6 * windows, `${lines.length} lines in ${ms} ms`);
  const answerSummary = lines.filter((l) => l.kind === 'answer' && l.suppressed);
  const suppressedAnswers = answerSummary.reduce((n, l) => n + l.suppressed!, 0) + lines.reduce((n, l) => n + (l.times ? l.times - 1 : 0), 0);
  assert.ok(suppressedAnswers >= 199_000, `suppressed answers counted: ${suppressedAnswers}`);
  assert.match(answerSummary[0]!.msg, new RegExp(`^auth plug-in ${p}: \\d+ more answer lines not logged \\(at most 5 every 10000 ms\\)$`));
  assert.doesNotMatch(log.text(), /blob-value-secret/);
});

test('a plug-in printing its secrets encoded (base64, upper case, hex, url-encoded, JSON, inside a blob): no form reaches the log', async () => {
  const envValue = '{"AuthUser":"me","AuthKey":"key/sekrit+123 x"}';
  const key = 'key/sekrit+123 x';
  const p = nodePlugin(tmp.dir, 'encodes', `
    const key = JSON.parse(blob).AuthKey;
    const b = Buffer.from(key);
    const forms = [b.toString('base64'), b.toString('base64url'), key.toUpperCase(), b.toString('hex'), b.toString('hex').toUpperCase(),
      encodeURIComponent(key), JSON.stringify({ k: key }), Buffer.from('x' + key + 'y').toString('base64'), Buffer.from('xy' + key).toString('base64'),
      Buffer.from(blob).toString('base64')];
    const first = swift(); say(first);
    const tok = JSON.parse(first).AuthToken;
    forms.push(Buffer.from(tok).toString('base64'), tok.toUpperCase(), Buffer.from(tok).toString('hex'));
    // Three forms a line, each line its own stderr report (the excerpt is cut at 200 characters).
    const lines = []; for (let i = 0; i < forms.length; i += 3) lines.push(forms.slice(i, i + 3).map((f, j) => 'form' + (i + j) + '=' + f).join(' '));
    const next = () => { if (lines.length) { process.stderr.write(lines.shift() + '\\n'); setTimeout(next, 150); } };
    next();`);
  const { source, log } = start(p, { envValue });
  const c = await source.get();
  await waitFor(() => log.text().includes('form12='), 5000, 'the stderr lines');
  const line = log.messages().filter((m) => m.includes('wrote to stderr')).join('\n');
  assert.match(line, /form0=\[REDACTED\]/);
  const tok = tokenOf(c);
  const forms = [key, Buffer.from(key).toString('base64'), Buffer.from(key).toString('base64url'), key.toUpperCase(),
    Buffer.from(key).toString('hex'), encodeURIComponent(key), Buffer.from(tok).toString('base64'), tok.toUpperCase(), Buffer.from(tok).toString('hex')];
  for (const f of forms) assert.ok(!log.text().toLowerCase().includes(f.toLowerCase()), `${f} in ${line}`);
  // Inside longer blobs, at most two edge characters of each alignment remain next to the marker.
  const blobs = [...line.matchAll(/form(7|8|9)=(\S*)/g)];
  assert.equal(blobs.length, 3);
  for (const m of blobs) assert.ok(m[2]!.includes('[REDACTED]') && m[2]!.replaceAll('[REDACTED]', '').length <= 14, m[0]);
  for (let i = 0; i < 13; i++) assert.match(line, new RegExp(`form${i}=\\S*\\[REDACTED\\]`));
});
