import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogRateLimiter, rateLimitedLog } from './rate-limit.js';

test('one line per kind per window: the next line after it counts the hits in between', () => {
  let now = 0;
  const l = new LogRateLimiter({ windowMs: 10_000, nowMs: () => now });
  assert.equal(l.hit('a'), 1);
  assert.equal(l.hit('a'), 0);
  assert.equal(l.hit('b'), 1); // kinds are apart
  now = 9_999;
  assert.equal(l.hit('a'), 0);
  now = 10_000;
  assert.equal(l.hit('a'), 3); // this hit and the two suppressed
  assert.equal(l.hit('a'), 0);
});

test('N lines per window, then suppressed; takeSuppressed reports ended windows once', () => {
  let now = 0;
  const l = new LogRateLimiter({ windowMs: 1000, linesPerWindow: 3, nowMs: () => now });
  assert.deepEqual(Array.from({ length: 10 }, () => l.hit('k')), [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(l.takeSuppressed(), []); // its window has not ended
  now = 1000;
  assert.deepEqual(l.takeSuppressed(), [{ kind: 'k', suppressed: 7 }]);
  assert.deepEqual(l.takeSuppressed(), []);
  assert.equal(l.hit('k'), 1); // already reported: not counted again
  assert.equal(l.hasSuppressed(), false);
});

test('past maxKinds distinct kinds the counts start over (memory stays bounded)', () => {
  const l = new LogRateLimiter({ maxKinds: 3, nowMs: () => 0 });
  for (const k of ['a', 'b', 'c']) assert.equal(l.hit(k), 1);
  assert.equal(l.hit('a'), 0);
  assert.equal(l.hit('d'), 1); // cleared
  assert.equal(l.hit('a'), 1);
});

test('rateLimitedLog: a flood gives N lines and, when the window ends, one summary', async () => {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg })]));
  const log = rateLimitedLog(logger as never, {
    windowMs: 400, linesPerWindow: 2,
    summary: (kind, n) => ({ fields: { kind }, msg: `${n} more ${kind}` }),
  });
  for (let i = 0; i < 10_000; i++) log.line('info', 'flood', { i }, 'flooding');
  log.line('error', 'other', {}, 'other');
  assert.deepEqual(lines.map((l) => l.msg), ['flooding', 'flooding', 'other']);
  await new Promise((r) => setTimeout(r, 900));
  assert.deepEqual(lines.slice(3).map((l) => [l.level, l.msg, l.obj.suppressed]), [['warn', '9998 more flood', 9998]]);
  log.line('info', 'flood', {}, 'again');
  log.line('info', 'flood', {}, 'again');
  log.line('info', 'flood', {}, 'again');
  log.close(); // the summary still due is logged at close
  assert.deepEqual(lines.slice(4).map((l) => l.msg), ['again', 'again', '1 more flood']);
});
