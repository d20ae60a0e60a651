import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from './index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pfs-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('writes JSON lines at info level to the file, redacting secrets', async () => {
  const file = path.join(dir, 'a', 'info.log');
  const log = createLogger({ name: 'pfsagentd', filePath: file, toConsole: false, trace: false });
  log.logger.info({ authToken: 'AUTH_tk1', req: { headers: { 'X-Auth-Token': 'AUTH_tk2' } }, key: 'objects/1' }, 'hello');
  log.logger.trace('not written');
  await log.close();
  const got = lines(file);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.msg, 'hello');
  assert.equal(got[0]!.name, 'pfsagentd');
  assert.equal(got[0]!.authToken, '[REDACTED]');
  assert.deepEqual(got[0]!.req, { headers: { 'X-Auth-Token': '[REDACTED]' } });
  assert.equal(got[0]!.key, 'objects/1');
  assert.doesNotMatch(readFileSync(file, 'utf8'), /AUTH_tk/);
});

test('trace level when tracing; reopen() starts a new file after rotation', async () => {
  const file = path.join(dir, 'trace.log');
  const log = createLogger({ name: 'proxyfsd', filePath: file, toConsole: false, trace: true });
  log.logger.trace('one');
  await new Promise((resolve) => setTimeout(resolve, 50));
  renameSync(file, `${file}.1`);
  log.reopen();
  await new Promise((resolve) => setTimeout(resolve, 50));
  log.logger.info('two');
  await log.close();
  assert.deepEqual(lines(`${file}.1`).map((l) => l.msg), ['one']);
  assert.deepEqual(lines(file).map((l) => l.msg), ['two']);
});

test('an unopenable log file is a config error', () => {
  assert.throws(() => createLogger({ name: 'x', filePath: dir, toConsole: false, trace: false }),
    (err: { code?: string; message: string }) => err.code === 'PFS_ERR_CONFIG' && err.message.includes(dir));
});

test('no destination: silent, and close() resolves', async () => {
  const log = createLogger({ name: 'x', toConsole: false, trace: true });
  assert.equal(log.logger.level, 'silent');
  log.logger.info('dropped');
  await log.close();
});
