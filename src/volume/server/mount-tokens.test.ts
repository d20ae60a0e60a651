/** The mount-token policy (mount-tokens.ts) with a scripted checker and a manual clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../../common/clock/index.js';
import type { TokenChecker, TokenVerdict } from '../../common/objectstore/index.js';
import { createMountTokens } from './mount-tokens.js';
import type { Volume } from './volume.js';

function scripted() {
  const calls: string[] = [];
  let next: (token: string) => TokenVerdict | Promise<TokenVerdict> = () => ({ result: 'valid' });
  const checker: TokenChecker = { check: async (token) => { calls.push(token); return next(token); }, close() {} };
  return { calls, checker, answer(fn: typeof next) { next = fn; } };
}

const volumeWith = (checker: TokenChecker | undefined, periodMs = 60_000) =>
  ({ name: 'v', settings: { authTokenCheckPeriodMs: periodMs }, tokenChecker: checker }) as unknown as Volume;

function setup(periodMs = 60_000) {
  const clock = manualClock();
  const lines: { level: string; o: object; msg: string }[] = [];
  const log = { debug() {}, info() {}, warn: (o: object, msg: string) => lines.push({ level: 'warn', o, msg }), error() {} };
  const live = new Set<string>(['m1']);
  const counted: string[] = [];
  const store = scripted();
  const volume = volumeWith(store.checker, periodMs);
  const tokens = createMountTokens({ clock, log: log as never, isLive: (id) => live.has(id), onCheck: (_v, r) => counted.push(r) });
  return { clock, lines, live, counted, store, volume, tokens };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a volume without a checker needs no token and checks nothing', () => {
  const { tokens } = setup();
  const plain = volumeWith(undefined);
  assert.equal(tokens.required(plain), false);
  assert.equal(tokens.periodMs(plain), undefined);
  tokens.check('anything', plain);
});

test('calls pass without waiting; a due re-check runs in the background, a refusal then stops the mount until renewed', async () => {
  const { clock, store, volume, tokens, lines, counted } = setup();
  assert.equal(await tokens.admit(volume, 'tok-1'), 'valid');
  tokens.set('m1', volume, 'tok-1');
  tokens.check('m1', volume);
  assert.equal(store.calls.length, 1, 'no check within the period');
  clock.advanceMs(60_000);
  store.answer(() => ({ result: 'rejected', why: 'the store answered 401' }));
  tokens.check('m1', volume); // let through: the check runs behind it
  tokens.check('m1', volume); // one check at a time
  await tick();
  assert.equal(store.calls.length, 2);
  assert.throws(() => tokens.check('m1', volume), { code: 'PFS_ERR_AUTH_TOKEN_REJECTED' });
  assert.deepEqual(counted, ['valid', 'rejected']);
  const warn = lines.find((l) => l.msg.startsWith('auth token rejected'))!;
  assert.ok(warn, 'one warn line');
  assert.ok(!JSON.stringify(warn).includes('tok-1'), 'never the token');
  assert.equal((warn.o as { mountId: string }).mountId, 'm1');
  // Renewal with a good token gives the rights back.
  store.answer(() => ({ result: 'valid' }));
  await tokens.renew('m1', volume, 'tok-2');
  tokens.check('m1', volume);
});

test('an unverifiable check is not a refusal and is tried again after a tenth of the period', async () => {
  const { clock, store, volume, tokens } = setup();
  store.answer(() => ({ result: 'unverified', why: 'the store did not answer' }));
  assert.equal(await tokens.admit(volume, 'tok'), 'unverified');
  tokens.set('m1', volume, 'tok', 'unverified');
  tokens.check('m1', volume);
  clock.advanceMs(6_000);
  store.answer(() => ({ result: 'valid' }));
  tokens.check('m1', volume);
  await tick();
  assert.equal(store.calls.length, 2);
  clock.advanceMs(30_000);
  tokens.check('m1', volume);
  assert.equal(store.calls.length, 2, 'valid again: next check a period later');
});

test('no token held (a restart) refuses the call; a token found valid is not tried again within the period', async () => {
  const { store, volume, tokens } = setup();
  assert.throws(() => tokens.check('m1', volume), /holds no object-store token/);
  await tokens.admit(volume, 'same');
  assert.equal(tokens.admit(volume, 'same'), undefined, 'admitted at once');
  assert.equal(tokens.renew('m1', volume, 'same'), undefined);
  assert.equal(store.calls.length, 1);
  tokens.check('m1', volume);
  tokens.forget('m1');
  assert.throws(() => tokens.check('m1', volume), { code: 'PFS_ERR_AUTH_TOKEN_REJECTED' });
  await assert.rejects(Promise.resolve().then(() => { store.answer(() => ({ result: 'rejected', why: '403' })); return tokens.admit(volume, 'other'); }), { code: 'PFS_ERR_AUTH_TOKEN_REJECTED' });
});

test('period 0: checked at Mount and RenewMount only', async () => {
  const { clock, store, volume, tokens } = setup(0);
  await tokens.admit(volume, 't');
  tokens.set('m1', volume, 't');
  clock.advanceMs(3600_000);
  tokens.check('m1', volume);
  await tick();
  assert.equal(store.calls.length, 1);
});

test('at most 8 checks of a volume reach the store at once; renewals of one mount run one after the other', async () => {
  const { store, volume, tokens, live } = setup();
  const release: (() => void)[] = [];
  let running = 0;
  let most = 0;
  store.answer(() => new Promise((resolve) => {
    running++;
    most = Math.max(most, running);
    release.push(() => { running--; resolve({ result: 'valid' }); });
  }));
  const admits = Array.from({ length: 20 }, (_, i) => tokens.admit(volume, `t${i}`));
  live.add('m2');
  const renewals = [tokens.renew('m2', volume, 'r1'), tokens.renew('m2', volume, 'r2')];
  for (let i = 0; i < 40; i++) {
    await tick();
    release.splice(0).forEach((r) => r());
  }
  await Promise.all([...admits, ...renewals]);
  assert.equal(most, 8);
  assert.equal(store.calls.filter((t) => t.startsWith('r')).join(), 'r1,r2', 'in order');
  tokens.check('m2', volume);
});
